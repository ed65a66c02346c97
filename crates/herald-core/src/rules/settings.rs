//! `getNotificationSettings` (applies-to and precedence) and `mergeNotificationSettings`.

use crate::resources::channel::Channel;
use crate::resources::notification_setting::{NotificationSetting, Rule};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::cmp::Reverse;
use std::collections::BTreeSet;

/// A notification setting with its document `_id`.
#[derive(Clone, Debug)]
pub struct StoredSetting {
    /// The setting's `_id`, reported as a reminder's `triggers`.
    pub id: String,
    /// The setting.
    pub setting: NotificationSetting,
}

/// Who a setting is matched against: a recipient's identity and memberships.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audience {
    /// The user id.
    pub id: String,
    /// Groups the user belongs to.
    pub groups: Vec<String>,
    /// Roles the user has.
    pub roles: Vec<String>,
    /// Clusters the user belongs to.
    pub clusters: Vec<String>,
}

/// Whether `setting` applies to `user` and `emitters`.
///
/// Every targeting field the setting sets must match: `user` equals the user's id, `group`,
/// `cluster` and `role` are among the user's. A setting that targets nobody in particular
/// applies to every recipient of its event. A setting with `emitters` applies only when the
/// event names one of them (`metadata.emitters`); without emitters on the event, emitters are
/// not checked.
pub fn applies_to(setting: &NotificationSetting, user: Option<&Audience>, emitters: &[String]) -> bool {
    let targets = |wanted: &Option<String>, have: &dyn Fn(&Audience, &str) -> bool| match (wanted, user) {
        (None, _) => true,
        (Some(value), Some(user)) => have(user, value),
        (Some(_), None) => true,
    };
    let user_ok = targets(&setting.user, &|u, v| u.id == v);
    let group_ok = targets(&setting.group, &|u, v| u.groups.iter().any(|g| g == v));
    let cluster_ok = targets(&setting.cluster, &|u, v| u.clusters.iter().any(|c| c == v));
    let role_ok = targets(&setting.role, &|u, v| u.roles.iter().any(|r| r == v));
    let emitters_ok = setting.emitters.is_empty() || emitters.is_empty() || setting.emitters.iter().any(|e| emitters.contains(e));
    user_ok && group_ok && cluster_ok && role_ok && emitters_ok
}

/// A setting's precedence: targeting a user beats a cluster, which beats a role, which beats
/// a group; ties are broken by the remaining fields in the same order (so user+cluster beats
/// user alone, and group+cluster beats group+role). Larger is stronger.
pub fn precedence(setting: &NotificationSetting) -> (bool, bool, bool, bool) {
    (setting.user.is_some(), setting.cluster.is_some(), setting.role.is_some(), setting.group.is_some())
}

/// `getNotificationSettings`: the settings of `event_name` that apply to `user` and
/// `emitters`, strongest first (stable for equal precedence).
pub fn applicable(settings: &[StoredSetting], event_name: &str, user: Option<&Audience>, emitters: &[String]) -> Vec<StoredSetting> {
    let mut matching: Vec<StoredSetting> = settings
        .iter()
        .filter(|s| s.setting.event_name.as_str() == event_name && applies_to(&s.setting, user, emitters))
        .cloned()
        .collect();
    matching.sort_by_key(|s| Reverse(precedence(&s.setting)));
    matching
}

/// `mergeNotificationSettings` over settings sorted strongest first:
///
/// 1. `IGNORE` settings are removed, but the channels they name (all, when they name none)
///    are withheld from every weaker `SEND` setting;
/// 2. only the `SEND` settings of the strongest precedence that has any are kept;
/// 3. settings whose `hours` do not contain `now` in `zone` (the recipient's time zone, else
///    the tenant's, else UTC — the caller decides) are dropped.
///
/// A kept setting whose channels were all withheld is dropped.
pub fn merge(sorted: &[StoredSetting], now: Timestamp, zone: &TimeZone) -> Vec<StoredSetting> {
    let mut withheld: BTreeSet<Channel> = BTreeSet::new();
    let mut withhold_all = false;
    let mut kept: Vec<StoredSetting> = Vec::new();
    let mut level = None;
    for current in sorted {
        let this_level = precedence(&current.setting);
        if level.is_some_and(|l| l != this_level) {
            break;
        }
        match current.setting.rule {
            Rule::Ignore => {
                let stronger_than_send = level.is_none();
                if stronger_than_send {
                    if current.setting.channels.is_empty() {
                        withhold_all = true;
                    }
                    withheld.extend(current.setting.channels.iter().copied());
                }
            }
            Rule::Send => {
                level.get_or_insert(this_level);
                let mut setting = current.clone();
                setting.setting.channels.retain(|c| !withhold_all && !withheld.contains(c));
                if !setting.setting.channels.is_empty() {
                    kept.push(setting);
                }
            }
        }
    }
    let local = now.to_zoned(zone.clone()).time();
    kept.retain(|s| s.setting.hours.is_empty() || s.setting.hours.iter().any(|h| h.contains(local)));
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn setting(id: &str, body: serde_json::Value) -> StoredSetting {
        let mut full = json!({"eventName": "E", "channels": ["email"], "templateName": "t"});
        full.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
        StoredSetting { id: id.into(), setting: serde_json::from_value(full).unwrap() }
    }

    fn doctor() -> Audience {
        Audience { id: "dr.mario".into(), groups: vec!["doctors".into()], roles: vec!["sign".into()], clusters: vec!["hospital".into()] }
    }

    fn ids(settings: &[StoredSetting]) -> Vec<&str> {
        settings.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn the_seed_example_sorts_as_documented() {
        let settings = [
            setting("group", json!({"group": "doctors"})),
            setting("group+role", json!({"group": "doctors", "role": "sign"})),
            setting("user", json!({"user": "dr.mario"})),
            setting("group+cluster", json!({"group": "doctors", "cluster": "hospital"})),
            setting("user+cluster", json!({"user": "dr.mario", "cluster": "hospital"})),
        ];
        let sorted = applicable(&settings, "E", Some(&doctor()), &[]);
        assert_eq!(ids(&sorted), ["user+cluster", "user", "group+cluster", "group+role", "group"]);
    }

    #[test]
    fn precedence_is_lexicographic_over_every_combination() {
        let fields = ["user", "cluster", "role", "group"];
        let values = ["dr.mario", "hospital", "sign", "doctors"];
        let all: Vec<StoredSetting> = (0u8..16)
            .map(|mask| {
                let mut body = serde_json::Map::new();
                for (bit, (field, value)) in fields.iter().zip(values).enumerate() {
                    if mask & (8 >> bit) != 0 {
                        body.insert(field.to_string(), json!(value));
                    }
                }
                setting(&mask.to_string(), serde_json::Value::Object(body))
            })
            .collect();
        // Every rotation of the input sorts to the same order: strictly descending masks.
        for rotation in 0..all.len() {
            let mut input = all.clone();
            input.rotate_left(rotation);
            let sorted = applicable(&input, "E", Some(&doctor()), &[]);
            let masks: Vec<u8> = sorted.iter().map(|s| s.id.parse().unwrap()).collect();
            assert_eq!(masks, (0u8..16).rev().collect::<Vec<_>>());
            for pair in sorted.windows(2) {
                assert!(precedence(&pair[0].setting) > precedence(&pair[1].setting));
            }
        }
    }

    #[test]
    fn applies_only_when_every_target_matches() {
        let nurse = Audience { id: "nurse".into(), groups: vec!["nurses".into()], ..Audience::default() };
        let settings = [
            setting("doctors", json!({"group": "doctors"})),
            setting("everyone", json!({})),
            setting("doctors-elsewhere", json!({"group": "doctors", "cluster": "clinic"})),
            setting("other-event", json!({"eventName": "F"})),
            setting("emitted", json!({"emitters": ["lab"]})),
        ];
        assert_eq!(ids(&applicable(&settings, "E", Some(&doctor()), &[])), ["doctors", "everyone", "emitted"]);
        assert_eq!(ids(&applicable(&settings, "E", Some(&nurse), &["ward".into()])), ["everyone"]);
        assert_eq!(ids(&applicable(&settings, "E", Some(&nurse), &["lab".into()])), ["everyone", "emitted"]);
    }

    fn noon() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn merge_keeps_the_strongest_send_level() {
        let sorted = applicable(
            &[
                setting("group", json!({"group": "doctors", "channels": ["sms"]})),
                setting("user", json!({"user": "dr.mario"})),
                setting("user2", json!({"user": "dr.mario", "channels": ["push"]})),
            ],
            "E",
            Some(&doctor()),
            &[],
        );
        assert_eq!(ids(&merge(&sorted, noon(), &TimeZone::UTC)), ["user", "user2"]);
    }

    #[test]
    fn a_stronger_ignore_withholds_its_channels() {
        let sorted = applicable(
            &[
                setting("group", json!({"group": "doctors", "channels": ["email", "sms"]})),
                setting("no-sms", json!({"user": "dr.mario", "rule": "IGNORE", "channels": ["sms"]})),
            ],
            "E",
            Some(&doctor()),
            &[],
        );
        let merged = merge(&sorted, noon(), &TimeZone::UTC);
        assert_eq!(ids(&merged), ["group"]);
        assert_eq!(merged[0].setting.channels, [Channel::Email]);
        let silenced = applicable(
            &[
                setting("group", json!({"group": "doctors"})),
                setting("mute", json!({"user": "dr.mario", "rule": "IGNORE", "channels": []})),
            ],
            "E",
            Some(&doctor()),
            &[],
        );
        assert!(merge(&silenced, noon(), &TimeZone::UTC).is_empty());
    }

    #[test]
    fn hours_are_read_in_the_given_zone() {
        let sorted = applicable(&[setting("office", json!({"hours": ["09:00-13:00"]}))], "E", Some(&doctor()), &[]);
        assert_eq!(merge(&sorted, noon(), &TimeZone::UTC).len(), 1, "12:00 UTC is inside 09-13 UTC");
        let rome = TimeZone::get("Europe/Rome").unwrap();
        assert!(merge(&sorted, noon(), &rome).is_empty(), "12:00 UTC is 14:00 in Rome in May");
    }
}
