//! The configuration resources clients manage over HTTP, each validated and normalized on every
//! write. One file per resource.

pub mod channel;
pub mod event_setting;
pub mod notification_setting;
pub mod template;
pub mod user;

use crate::Invalid;
use serde_json::{Map, Value};

/// A stored collection of documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Collection {
    /// Recipients: patients and staff with their addresses and memberships.
    Users,
    /// Message templates.
    Templates,
    /// Who gets which event on which channels with which template.
    NotificationSettings,
    /// Per-event configuration: schema, handler, visibility, supported channels.
    EventSettings,
    /// The events log, written by the engine.
    Events,
    /// Notification records, written by the engine.
    Notifications,
    /// A tenant's own providers per channel (secrets sealed), written by the engine.
    Providers,
}

impl Collection {
    /// The collection's name as routes and the audit trail spell it (`notification_settings`).
    pub fn name(self) -> &'static str {
        match self {
            Collection::Users => "users",
            Collection::Templates => "templates",
            Collection::NotificationSettings => "notification_settings",
            Collection::EventSettings => "event_settings",
            Collection::Events => "events",
            Collection::Notifications => "notifications",
            Collection::Providers => "tenant_providers",
        }
    }

    /// The body field whose value must be unique within a tenant, if any.
    pub fn unique_field(self) -> Option<&'static str> {
        match self {
            Collection::Users => Some("id"),
            Collection::Templates => Some("name"),
            Collection::EventSettings => Some("eventName"),
            Collection::Providers => Some("name"),
            Collection::NotificationSettings | Collection::Events | Collection::Notifications => None,
        }
    }

    /// The body field (a dotted path) stored in an indexed column, because the engine looks
    /// documents up by it: a user's `id`, a template's `name`, a setting's `eventName`, an
    /// event's `name`, a notification's `event.key`.
    pub fn lookup_field(self) -> &'static str {
        match self {
            Collection::Users => "id",
            Collection::Templates => "name",
            Collection::NotificationSettings | Collection::EventSettings => "eventName",
            Collection::Events => "name",
            Collection::Notifications => "event.key",
            Collection::Providers => "channel",
        }
    }

    /// Checks a document body against the resource's rules and returns it normalized
    /// (defaults filled in). System fields must already be stripped. Events, notifications and
    /// providers are written only by the engine, which builds them from typed values.
    pub fn validate(self, body: Map<String, Value>) -> Result<Map<String, Value>, Invalid> {
        let body = Value::Object(body);
        match self {
            Collection::Users => user::validate(body),
            Collection::Templates => template::validate(body),
            Collection::NotificationSettings => notification_setting::validate(body),
            Collection::EventSettings => event_setting::validate(body),
            Collection::Events | Collection::Notifications | Collection::Providers => match body {
                Value::Object(map) => Ok(map),
                _ => Err(Invalid::new("", "must be an object")),
            },
        }
    }
}

/// Deserializes a non-empty, trimmed-not-blank string rule.
fn require_non_blank(field: &str, value: &str) -> Result<(), Invalid> {
    if value.trim().is_empty() { Err(Invalid::new(field, "must not be empty")) } else { Ok(()) }
}

/// Whether `tag` looks like a BCP 47 language tag (`en`, `it-IT`, `de_CH`): parts of 1 to 8
/// letters or digits joined by `-` or `_`, at most 35 characters.
pub fn is_language_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 35
        && tag.split(['-', '_']).all(|part| !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Refuses lists that name the same item twice.
pub(crate) fn require_distinct<T: PartialEq>(field: &str, items: &[T]) -> Result<(), Invalid> {
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            return Err(Invalid::new(format!("{field}[{i}]"), "is listed twice"));
        }
    }
    Ok(())
}
