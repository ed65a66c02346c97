//! `buildReminders`: the reminders settings ask for before an event date.

use super::settings::StoredSetting;
use crate::values::IsoDuration;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// A reminder to schedule: when it fires, which schedule it stands for, for whom, and which
/// settings asked for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReminderSpec {
    /// The ISO 8601 duration before the event date.
    pub schedule: IsoDuration,
    /// When the reminder fires.
    #[serde(with = "crate::document::timestamp_format")]
    pub expiration_date: Timestamp,
    /// The user ids it is for.
    pub recipients: Vec<String>,
    /// The `_id`s of the settings that asked for it.
    pub triggers: Vec<String>,
}

/// One reminder per distinct duration of `settings`, at `event_date` minus the duration
/// (calendar-aware, in UTC), for `recipient`. Durations are ordered as the settings list them.
pub fn build(settings: &[StoredSetting], recipient: &str, event_date: Timestamp) -> Vec<ReminderSpec> {
    let mut reminders: Vec<ReminderSpec> = Vec::new();
    for stored in settings {
        for schedule in &stored.setting.reminders {
            match reminders.iter_mut().find(|r| &r.schedule == schedule) {
                Some(existing) if !existing.triggers.contains(&stored.id) => existing.triggers.push(stored.id.clone()),
                Some(_) => {}
                None => {
                    let Some(expiration_date) = before(event_date, schedule) else { continue };
                    reminders.push(ReminderSpec {
                        schedule: schedule.clone(),
                        expiration_date,
                        recipients: vec![recipient.to_string()],
                        triggers: vec![stored.id.clone()],
                    });
                }
            }
        }
    }
    reminders
}

/// `date` minus `duration`, in UTC; `None` if out of range.
pub fn before(date: Timestamp, duration: &IsoDuration) -> Option<Timestamp> {
    date.to_zoned(TimeZone::UTC).checked_sub(duration.span()).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_reminder_per_duration_with_its_triggers() {
        let setting = |id: &str, reminders: serde_json::Value| StoredSetting {
            id: id.into(),
            setting: serde_json::from_value(json!({"eventName": "E", "channels": ["email"], "templateName": "t", "reminders": reminders}))
                .unwrap(),
        };
        let date: Timestamp = "2023-08-01T09:30:00Z".parse().unwrap();
        let built = build(&[setting("a", json!(["P1D", "PT2H"])), setting("b", json!(["P1D"]))], "patient", date);
        assert_eq!(built.len(), 2);
        assert_eq!(built[0].expiration_date.to_string(), "2023-07-31T09:30:00Z");
        assert_eq!(built[0].triggers, ["a", "b"]);
        assert_eq!(built[1].expiration_date.to_string(), "2023-08-01T07:30:00Z");
        assert_eq!(built[1].recipients, ["patient"]);
    }
}
