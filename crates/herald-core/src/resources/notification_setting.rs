//! Notification settings: who receives which event, on which channels, with which template,
//! when, and with which reminders.

use super::channel::Channel;
use super::{require_distinct, require_non_blank};
use crate::Invalid;
use crate::document::to_body;
use crate::values::{EventName, HoursRange, IsoDuration};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Whether the targeted recipients receive (`SEND`) or are excluded from (`IGNORE`) the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Rule {
    /// Send the notification.
    #[default]
    Send,
    /// Do not send it.
    Ignore,
}

/// A notification setting, with the notification manager's fields. It targets any
/// combination of one user, group, role and cluster; with none it applies to every
/// recipient of the event.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationSetting {
    /// The event this setting is for.
    pub event_name: EventName,
    /// A user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// A cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// A role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Channels to send on.
    pub channels: Vec<Channel>,
    /// Daily time slots in which messages may go out, in the recipient's time zone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hours: Vec<HoursRange>,
    /// The template to render.
    pub template_name: String,
    /// `SEND` (default) or `IGNORE`.
    #[serde(default)]
    pub rule: Rule,
    /// Only events from these emitters trigger the setting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emitters: Vec<String>,
    /// Reminders before the event, as ISO 8601 durations (`P1D`, `PT2H`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<IsoDuration>,
    /// Channels to try, in order, when a message on one of `channels` fails for good or the
    /// recipient has no address for it (e.g. `["whatsapp", "sms"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_channels: Vec<Channel>,
}

/// Validates and normalizes a notification setting.
pub fn validate(body: Value) -> Result<Map<String, Value>, Invalid> {
    let setting: NotificationSetting = Invalid::deserialize(body)?;
    require_non_blank("templateName", &setting.template_name)?;
    for (field, value) in [("user", &setting.user), ("group", &setting.group), ("cluster", &setting.cluster), ("role", &setting.role)] {
        if let Some(value) = value {
            require_non_blank(field, value)?;
        }
    }
    require_distinct("channels", &setting.channels)?;
    require_distinct("reminders", &setting.reminders)?;
    require_distinct("hours", &setting.hours)?;
    require_distinct("fallbackChannels", &setting.fallback_channels)?;
    Ok(to_body(&setting))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rule_defaults_to_send() {
        let out =
            validate(json!({"eventName": "AM/AppointmentCreated/v1", "channels": ["email"], "templateName": "t", "group": "doctors"}))
                .unwrap();
        assert_eq!(out["rule"], "SEND");
    }

    #[test]
    fn names_the_bad_field() {
        let base = || json!({"eventName": "E", "channels": ["email"], "templateName": "t"});
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            b
        };
        let cases = [
            (with("hours", json!(["09:00-18:00", "25:00-26:00"])), "hours[1]"),
            (with("reminders", json!(["P1D", "one day"])), "reminders[1]"),
            (with("rule", json!("MAYBE")), "rule"),
            (with("channels", json!(["email", "pigeon"])), "channels[1]"),
            (with("channels", json!(["sms", "sms"])), "channels[1]"),
            (with("fallbackChannels", json!(["sms", "fax"])), "fallbackChannels[1]"),
            (with("eventName", json!("bad name")), "eventName"),
            (with("templateName", json!("")), "templateName"),
            (json!({"eventName": "E", "templateName": "t"}), "channels"),
        ];
        for (body, field) in cases {
            assert_eq!(validate(body.clone()).unwrap_err().field, field, "{body}");
        }
    }
}
