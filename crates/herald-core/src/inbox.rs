//! The notification center's rules (seed 04): an entry's priority and notification type.
//!
//! - **Priority** comes from the event's `metadata.priority` (`low`, `medium`, `high`,
//!   `urgent`); an event marked `metadata.urgent: true` is `urgent`; anything else is `medium`
//!   (so `POST /send`, whose body has no priority, sends `medium`).
//! - **Type** is the one preferences use (see [`crate::rules::preferences`]): the built-in map
//!   of event names, else the event's `metadata.notificationType`, else the template's name
//!   when it names a known type. An entry may have no type.

use serde_json::{Map, Value};

/// How urgent a notification is, as seed 04 grades it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Can wait.
    Low,
    /// The default.
    Medium,
    /// Should be seen soon.
    High,
    /// Needs attention now.
    Urgent,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Medium, Priority::High, Priority::Urgent];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// The priority a name means.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The priority of an event's messages, from its metadata.
    pub fn of_event(metadata: &Map<String, Value>) -> Self {
        match metadata.get("priority").and_then(Value::as_str).and_then(Self::parse) {
            Some(priority) => priority,
            None if metadata.get("urgent") == Some(&Value::Bool(true)) => Priority::Urgent,
            None => Priority::Medium,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metadata(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn priority_comes_from_metadata_else_medium() {
        assert_eq!(Priority::of_event(&metadata(json!({"priority": "high"}))), Priority::High);
        assert_eq!(Priority::of_event(&metadata(json!({"urgent": true}))), Priority::Urgent);
        assert_eq!(Priority::of_event(&metadata(json!({"priority": "URGENT!"}))), Priority::Medium, "unknown names are ignored");
        assert_eq!(Priority::of_event(&Map::new()), Priority::Medium);
        assert_eq!(Priority::ALL.map(|p| Priority::parse(p.as_str())), Priority::ALL.map(Some));
    }
}
