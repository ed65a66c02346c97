//! Events: what happened, as clients report it (seed 03, `POST /notification-events/`).

use crate::Invalid;
use crate::values::EventName;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An event as received: `name` is required; `id` (unique across the system, used for
/// deduplication), `key` (the main resource, e.g. an appointment), `metadata` and `payload`
/// are optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncomingEvent {
    /// The event type.
    pub name: EventName,
    /// The sender's id for this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The id of the resource the event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Details for the handler (`userFields`, `includeUsers`, `reminder`, …).
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// The event's data.
    #[serde(default)]
    pub payload: Map<String, Value>,
}

impl IncomingEvent {
    /// Reads an event body, naming the offending field when it is not one.
    pub fn parse(body: Value) -> Result<Self, Invalid> {
        if !body.is_object() {
            return Err(Invalid::new("", "the body must be a JSON object"));
        }
        let event: IncomingEvent = Invalid::deserialize(body)?;
        if let Some(id) = &event.id
            && (id.is_empty() || id.len() > 256)
        {
            return Err(Invalid::new("id", "must be 1 to 256 characters"));
        }
        Ok(event)
    }

    /// The sender's id, or a fresh random one when the event has none.
    pub fn id_or_new(&self) -> String {
        self.id.clone().unwrap_or_else(|| {
            let mut bytes = [0u8; 16];
            rand::rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        })
    }
}

/// Where an event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    /// `POST /notification-events/`.
    Http,
    /// The RabbitMQ queue.
    Amqp,
    /// A reminder or timer firing.
    Timer,
    /// A clinic's manual send (`POST /api/v1/notifications/send`, seed 05).
    Manual,
}

/// How processing an event ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventStatus {
    /// Stored, not processed yet.
    Received,
    /// Processed: its notifications are committed.
    Processed,
    /// Not processable: see `errors`.
    Error,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_seed_body() {
        let event = IncomingEvent::parse(json!({"name": "AM/AppointmentCreated/v1", "key": "appointment-1", "metadata": {"userFields": ["resourceId"]}, "payload": {"startDate": "2023-08-01T09:30:00Z"}})).unwrap();
        assert_eq!(event.name.as_str(), "AM/AppointmentCreated/v1");
        assert_eq!(event.id_or_new().len(), 32);
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(IncomingEvent::parse(json!({"payload": {}})).unwrap_err().field, "name");
        assert_eq!(IncomingEvent::parse(json!({"name": "E", "payload": []})).unwrap_err().field, "payload");
        assert_eq!(IncomingEvent::parse(json!({"name": "E", "extra": 1})).unwrap_err().field, "extra");
        assert_eq!(IncomingEvent::parse(json!({"name": "E", "id": ""})).unwrap_err().field, "id");
        assert_eq!(IncomingEvent::parse(json!("E")).unwrap_err().field, "");
    }
}
