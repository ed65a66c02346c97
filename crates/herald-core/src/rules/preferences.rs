//! Who wants what: a clinic's settings per notification type (seed 05: `enabled`,
//! `auto_send`, `hours_before`, plus Herald's `mandatory`) and a recipient's preferences
//! (seed 05's master toggle, per-type opt-out and preferred locale; seed 04's per-type,
//! per-channel choices; a time zone and quiet hours).
//!
//! Notification types are an open set: seed 05's six and one per seed 02 patient event are
//! known to every tenant ([`DEFAULT_TYPES`]); a tenant adds its own in its clinic settings
//! (`custom: true`). A message's type comes from, in order: the built-in map of event names
//! ([`type_of_event`]: seed 02, seed 05 and seed 03's appointment events); the event's
//! `metadata.notificationType` (for a tenant's own events); its template's name when that is
//! a known type (so `POST /send` with the `appointment_reminder` template is an appointment
//! reminder). A message with no type meets only the clinic-wide rules that need none: the
//! recipient's master toggle.
//!
//! Whether a message is made at all ([`skip_reason`]) is decided when it is created — at the
//! event, the send, the reminder's firing — and recorded on the message as `skipped` with one
//! of seed 05's reasons. When it may go out is decided at delivery
//! ([`super::quiet_hours::timing`]), since quiet hours may start or end in between.
//! Preferences cover the channels that reach a person; webhooks are for systems and follow
//! only the clinic's rules.

use super::quiet_hours::{self, QuietHours};
use crate::Invalid;
use crate::resources::channel::Channel;
use crate::values::TimeZoneName;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The types every tenant knows: seed 05's, then seed 02's patient events.
pub const DEFAULT_TYPES: &[&str] = &[
    "appointment_confirmation",
    "appointment_cancelled",
    "appointment_reminder",
    "budget_sent",
    "budget_accepted",
    "welcome",
    "appointment_pending_approval",
    "appointment_rejected",
    "appointment_rescheduled",
    "appointment_completed",
    "appointment_no_show",
    "walkin_token_called",
    "walkin_approaching_turn",
    "prescription_ready",
    "report_ready",
    "emergency_leave",
];

/// Built-in events and the type of their messages.
const EVENT_TYPES: &[(&str, &str)] = &[
    ("appointment.scheduled", "appointment_confirmation"),
    ("appointment.confirmed", "appointment_confirmation"),
    ("appointment.cancelled", "appointment_cancelled"),
    ("appointment.reminder", "appointment_reminder"),
    ("budget.sent", "budget_sent"),
    ("budget.accepted", "budget_accepted"),
    ("patient.created", "welcome"),
    ("appointment.pending_approval", "appointment_pending_approval"),
    ("appointment.rejected", "appointment_rejected"),
    ("appointment.rescheduled", "appointment_rescheduled"),
    ("appointment.completed", "appointment_completed"),
    ("appointment.no_show", "appointment_no_show"),
    ("walkin.token_called", "walkin_token_called"),
    ("walkin.approaching_turn", "walkin_approaching_turn"),
    ("prescription.ready", "prescription_ready"),
    ("report.ready", "report_ready"),
    ("doctor.emergency_leave", "emergency_leave"),
    ("AM/AppointmentCreated/v1", "appointment_confirmation"),
    ("AM/AppointmentUpdated/v1", "appointment_rescheduled"),
    ("AM/AppointmentDeleted/v1", "appointment_cancelled"),
    ("AM/AppointmentReminder/v1", "appointment_reminder"),
];

/// The channels a recipient chooses among (all but webhooks).
pub const PERSONAL_CHANNELS: [Channel; 6] =
    [Channel::Email, Channel::Sms, Channel::Push, Channel::Voice, Channel::Whatsapp, Channel::InApp];

/// Why a message was not made, as seed 05 names it.
pub mod reason {
    /// The clinic turned the type off.
    pub const DISABLED_AT_CLINIC_LEVEL: &str = "disabled_at_clinic_level";
    /// The clinic sends the type by hand only.
    pub const MANUAL_SEND_REQUIRED: &str = "manual_send_required";
    /// The recipient turned every notification off.
    pub const PATIENT_OPTED_OUT: &str = "patient_opted_out";

    /// The recipient turned `notification_type` off (on every channel or on this one).
    pub fn opted_out_of(notification_type: &str) -> String {
        format!("patient_opted_out_of_{notification_type}")
    }
}

/// The type of the messages of a built-in event.
pub fn type_of_event(event_name: &str) -> Option<&'static str> {
    EVENT_TYPES.iter().find(|(name, _)| *name == event_name).map(|(_, t)| *t)
}

/// The clinic catalogue's event that sends `notification_type` (seed 05's event first), for
/// sending a type by hand.
pub fn catalogue_event(notification_type: &str) -> Option<&'static str> {
    EVENT_TYPES.iter().find(|(event, t)| *t == notification_type && crate::catalogue::definition(event).is_some()).map(|(event, _)| *event)
}

/// Whether `name` can name a type: 1 to 64 lowercase letters, digits and `_`, starting with a
/// letter.
pub fn is_type_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A clinic's choices for one type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TypeSettings {
    /// Whether the type is sent at all.
    pub enabled: bool,
    /// Whether events send it automatically; otherwise only `POST /api/v1/notifications/send`
    /// (and seed 03's `/send`) do.
    pub auto_send: bool,
    /// For reminders: how many hours before the appointment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_before: Option<u32>,
    /// Whether recipients may opt out of it (false) or not (true).
    pub mandatory: bool,
    /// Whether the tenant added the type itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub custom: bool,
}

impl TypeSettings {
    /// A type's settings before the clinic changes them: on, automatic, optional;
    /// appointment reminders 24 hours before.
    pub fn default_for(notification_type: &str) -> Self {
        let hours_before = (notification_type == "appointment_reminder").then_some(24);
        Self { enabled: true, auto_send: true, hours_before, mandatory: false, custom: false }
    }
}

/// A clinic's settings: the types it changed or added.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClinicSettings {
    /// Per type.
    pub settings: BTreeMap<String, TypeSettings>,
}

/// One type's change in `PUT /api/v1/notifications/settings`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeChange {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    auto_send: Option<bool>,
    #[serde(default, deserialize_with = "some")]
    hours_before: Option<Option<u32>>,
    #[serde(default)]
    mandatory: Option<bool>,
    #[serde(default)]
    custom: Option<bool>,
}

/// Reads a present field as `Some`, so `null` (clear) differs from absent (keep).
fn some<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Most hours before an appointment a reminder may be set (30 days).
const MAX_HOURS_BEFORE: u32 = 720;

impl ClinicSettings {
    /// Whether the tenant knows `notification_type`.
    pub fn knows(&self, notification_type: &str) -> bool {
        DEFAULT_TYPES.contains(&notification_type) || self.settings.get(notification_type).is_some_and(|s| s.custom)
    }

    /// Every type the tenant knows: the defaults, then its own.
    pub fn types(&self) -> Vec<String> {
        let own = self.settings.iter().filter(|(_, s)| s.custom).map(|(name, _)| name.clone());
        DEFAULT_TYPES.iter().map(|t| t.to_string()).chain(own).collect()
    }

    /// The settings in force for `notification_type`.
    pub fn for_type(&self, notification_type: &str) -> TypeSettings {
        self.settings.get(notification_type).cloned().unwrap_or_else(|| TypeSettings::default_for(notification_type))
    }

    /// Every known type with the settings in force, as `GET` shows them.
    pub fn effective(&self) -> BTreeMap<String, TypeSettings> {
        self.types().into_iter().map(|t| (t.clone(), self.for_type(&t))).collect()
    }

    /// Applies a `PUT` body `{"settings": {type: {enabled?, auto_send?, hours_before?,
    /// mandatory?, custom?}}}`: each named type changes only the fields given. A type not
    /// known yet must say `custom: true` to be added.
    pub fn apply(&mut self, body: Value) -> Result<(), Invalid> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            settings: Map<String, Value>,
        }
        let body: Body = Invalid::deserialize(body)?;
        for (name, change) in body.settings {
            let field = format!("settings.{name}");
            if !is_type_name(&name) {
                return Err(Invalid::new(field, "must be a type name of lowercase letters, digits and _"));
            }
            let change: TypeChange = Invalid::deserialize(change).map_err(|e| e.within(&field))?;
            let adding = change.custom == Some(true);
            if !self.knows(&name) && !adding {
                return Err(Invalid::new(field, "is not a known notification type; give custom: true to add it"));
            }
            if adding && DEFAULT_TYPES.contains(&name.as_str()) {
                return Err(Invalid::new(format!("{field}.custom"), "a built-in type cannot be custom"));
            }
            if let Some(Some(hours)) = change.hours_before
                && !(1..=MAX_HOURS_BEFORE).contains(&hours)
            {
                return Err(Invalid::new(format!("{field}.hours_before"), format!("must be between 1 and {MAX_HOURS_BEFORE}")));
            }
            let mut settings = self.for_type(&name);
            settings.enabled = change.enabled.unwrap_or(settings.enabled);
            settings.auto_send = change.auto_send.unwrap_or(settings.auto_send);
            settings.hours_before = change.hours_before.unwrap_or(settings.hours_before);
            settings.mandatory = change.mandatory.unwrap_or(settings.mandatory);
            settings.custom = change.custom.unwrap_or(settings.custom);
            self.settings.insert(name, settings);
        }
        Ok(())
    }
}

/// When appointment reminders fire before the appointment: seed 02's 24 hours, 2 hours and 30
/// minutes, where the clinic's `hours_before` for `appointment_reminder` (seed 05, 24 unless
/// changed) takes the place of the 24 hours.
pub fn reminder_schedules(clinic: &ClinicSettings) -> Vec<String> {
    let first = clinic.for_type("appointment_reminder").hours_before.unwrap_or(24);
    let mut schedules = vec![format!("PT{first}H")];
    for later in &crate::catalogue::REMINDER_SCHEDULES[1..] {
        if !schedules.iter().any(|s| s == later) {
            schedules.push(later.to_string());
        }
    }
    schedules
}

/// A recipient's choices for one type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TypePreference {
    /// Whether they receive the type at all.
    pub enabled: bool,
    /// Per channel; a channel not named is on.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub channels: BTreeMap<Channel, bool>,
}

/// A recipient's preferences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preferences {
    /// The master toggle: false turns every type off but the mandatory ones.
    pub enabled: bool,
    /// The language messages are rendered in, ahead of the directory's `locale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_locale: Option<String>,
    /// The time zone of quiet hours, ahead of the directory's `timeZone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<TimeZoneName>,
    /// When messages wait.
    #[serde(default)]
    pub quiet_hours: Vec<QuietHours>,
    /// Per type; a type not named is on, on every channel.
    #[serde(default)]
    pub preferences: BTreeMap<String, TypePreference>,
}

impl Default for Preferences {
    fn default() -> Self {
        Self { enabled: true, preferred_locale: None, time_zone: None, quiet_hours: Vec::new(), preferences: BTreeMap::new() }
    }
}

/// Why a preference change is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The input is malformed or names something unknown.
    Invalid(Invalid),
    /// It opts out of a type the clinic made mandatory.
    Mandatory(String),
}

impl From<Invalid> for Refusal {
    fn from(invalid: Invalid) -> Self {
        Refusal::Invalid(invalid)
    }
}

impl Preferences {
    /// The choices in force for `notification_type`.
    pub fn for_type(&self, notification_type: &str) -> TypePreference {
        let stored = self.preferences.get(notification_type);
        TypePreference {
            enabled: stored.is_none_or(|p| p.enabled),
            channels: PERSONAL_CHANNELS.iter().map(|c| (*c, stored.and_then(|p| p.channels.get(c).copied()).unwrap_or(true))).collect(),
        }
    }

    /// Applies a `PUT /patient-notifications/preferences` body: any of `enabled`,
    /// `preferredLocale`, `timeZone`, `quietHours` (`null` clears the locale and time zone);
    /// the quiet hours given replace the old ones.
    pub fn apply_general(&mut self, body: Value) -> Result<(), Invalid> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Body {
            #[serde(default)]
            enabled: Option<bool>,
            #[serde(default, deserialize_with = "some")]
            preferred_locale: Option<Option<String>>,
            #[serde(default, deserialize_with = "some")]
            time_zone: Option<Option<TimeZoneName>>,
            #[serde(default)]
            quiet_hours: Option<Vec<QuietHours>>,
        }
        let body: Body = Invalid::deserialize(body)?;
        if let Some(Some(locale)) = &body.preferred_locale
            && !crate::resources::is_language_tag(locale)
        {
            return Err(Invalid::new("preferredLocale", "must be a language tag such as en or it-IT"));
        }
        if let Some(windows) = &body.quiet_hours {
            quiet_hours::validate(windows).map_err(|e| e.within("quietHours"))?;
        }
        self.enabled = body.enabled.unwrap_or(self.enabled);
        self.preferred_locale = body.preferred_locale.unwrap_or(self.preferred_locale.take());
        self.time_zone = body.time_zone.unwrap_or(self.time_zone.take());
        self.quiet_hours = body.quiet_hours.unwrap_or(std::mem::take(&mut self.quiet_hours));
        Ok(())
    }

    /// Applies a `PUT /patient-notifications/preferences/{type}` body: `enabled` and/or
    /// `channels` (`{"sms": false}`; channels not named keep their choice). The type must be
    /// one `clinic` knows; a mandatory type cannot be turned off, on any channel.
    pub fn apply_type(&mut self, notification_type: &str, body: Value, clinic: &ClinicSettings) -> Result<(), Refusal> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            #[serde(default)]
            enabled: Option<bool>,
            #[serde(default)]
            channels: Option<Map<String, Value>>,
        }
        if !clinic.knows(notification_type) {
            return Err(Invalid::new("type", "is not a known notification type").into());
        }
        let body: Body = Invalid::deserialize(body)?;
        let mut channels = Vec::new();
        for (name, on) in body.channels.unwrap_or_default() {
            let field = format!("channels.{name}");
            let channel = PERSONAL_CHANNELS.into_iter().find(|c| c.as_str() == name).ok_or_else(|| {
                Invalid::new(field.clone(), "is not a channel recipients choose (email, sms, push, voice, whatsapp, in_app)")
            })?;
            let on = on.as_bool().ok_or_else(|| Invalid::new(field, "must be true or false"))?;
            channels.push((channel, on));
        }
        let turns_off = body.enabled == Some(false) || channels.iter().any(|(_, on)| !on);
        if turns_off && clinic.for_type(notification_type).mandatory {
            return Err(Refusal::Mandatory(format!("{notification_type} is mandatory at this clinic and cannot be turned off")));
        }
        let mut preference = self.for_type(notification_type);
        preference.enabled = body.enabled.unwrap_or(preference.enabled);
        preference.channels.extend(channels);
        self.preferences.insert(notification_type.to_string(), preference);
        Ok(())
    }
}

/// What is known about a message when deciding whether to make it.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// Its notification type, when it has one.
    pub notification_type: Option<&'a str>,
    /// Its channel.
    pub channel: Channel,
    /// Whether someone sent it by hand (the manual send, seed 03's `/send`) rather than an
    /// event.
    pub manual: bool,
}

/// Why the message must not be made, in seed 05's words; `None` to make it. In order: the
/// clinic turned the type off; the clinic sends it by hand only and this is an event; the
/// type is mandatory (nothing else applies); the recipient's master toggle is off; the
/// recipient turned the type off, or off on this channel. Webhooks meet only the clinic's
/// rules.
pub fn skip_reason(clinic: &ClinicSettings, preferences: &Preferences, subject: &Subject<'_>) -> Option<String> {
    let settings = subject.notification_type.map(|t| clinic.for_type(t));
    if let Some(settings) = &settings {
        if !settings.enabled {
            return Some(reason::DISABLED_AT_CLINIC_LEVEL.into());
        }
        if !settings.auto_send && !subject.manual {
            return Some(reason::MANUAL_SEND_REQUIRED.into());
        }
        if settings.mandatory {
            return None;
        }
    }
    if subject.channel == Channel::Webhook {
        return None;
    }
    if !preferences.enabled {
        return Some(reason::PATIENT_OPTED_OUT.into());
    }
    let notification_type = subject.notification_type?;
    let preference = preferences.for_type(notification_type);
    let channel_on = preference.channels.get(&subject.channel).copied().unwrap_or(true);
    (!preference.enabled || !channel_on).then(|| reason::opted_out_of(notification_type))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn clinic(body: Value) -> ClinicSettings {
        let mut clinic = ClinicSettings::default();
        clinic.apply(json!({ "settings": body })).unwrap();
        clinic
    }

    fn prefs(general: Value, types: &[(&str, Value)]) -> Preferences {
        let mut prefs = Preferences::default();
        prefs.apply_general(general).unwrap();
        for (t, body) in types {
            prefs.apply_type(t, body.clone(), &ClinicSettings::default()).unwrap();
        }
        prefs
    }

    fn subject(notification_type: Option<&str>, channel: Channel, manual: bool) -> Subject<'_> {
        Subject { notification_type, channel, manual }
    }

    #[test]
    fn table_of_decisions() {
        use Channel::*;
        let off = clinic(
            json!({"budget_sent": {"enabled": false}, "budget_accepted": {"auto_send": false}, "emergency_leave": {"mandatory": true}}),
        );
        let everyone = Preferences::default();
        let no_reminders = prefs(json!({}), &[("appointment_reminder", json!({"enabled": false}))]);
        let no_sms_reminders = prefs(json!({}), &[("appointment_reminder", json!({"channels": {"sms": false}}))]);
        let nothing = prefs(json!({"enabled": false}), &[("emergency_leave", json!({"enabled": false}))]);
        /// Preferences, type, channel, manual, expected reason.
        type Case<'a> = (&'a Preferences, Option<&'a str>, Channel, bool, Option<&'a str>);
        let cases: &[Case<'_>] = &[
            (&everyone, Some("appointment_reminder"), Email, false, None),
            (&everyone, Some("budget_sent"), Email, true, Some("disabled_at_clinic_level")),
            (&everyone, Some("budget_accepted"), Email, false, Some("manual_send_required")),
            (&everyone, Some("budget_accepted"), Email, true, None),
            (&no_reminders, Some("appointment_reminder"), Email, false, Some("patient_opted_out_of_appointment_reminder")),
            (&no_reminders, Some("appointment_reminder"), InApp, false, Some("patient_opted_out_of_appointment_reminder")),
            (&no_reminders, Some("appointment_reminder"), Webhook, false, None),
            (&no_reminders, Some("welcome"), Email, false, None),
            (&no_sms_reminders, Some("appointment_reminder"), Sms, false, Some("patient_opted_out_of_appointment_reminder")),
            (&no_sms_reminders, Some("appointment_reminder"), Email, false, None),
            (&nothing, Some("welcome"), Email, false, Some("patient_opted_out")),
            (&nothing, None, Sms, false, Some("patient_opted_out")),
            (&nothing, Some("emergency_leave"), Sms, false, None),
            (&everyone, None, Sms, false, None),
        ];
        for (preferences, notification_type, channel, manual, expected) in cases {
            let got = skip_reason(&off, preferences, &subject(*notification_type, *channel, *manual));
            assert_eq!(got.as_deref(), *expected, "{notification_type:?} on {channel:?}, manual {manual}");
        }
    }

    #[test]
    fn mandatory_types_refuse_opt_outs() {
        let clinic = clinic(json!({"emergency_leave": {"mandatory": true}}));
        let mut prefs = Preferences::default();
        for body in [json!({"enabled": false}), json!({"channels": {"email": false}})] {
            assert!(matches!(prefs.apply_type("emergency_leave", body, &clinic), Err(Refusal::Mandatory(_))));
        }
        assert!(prefs.apply_type("emergency_leave", json!({"enabled": true}), &clinic).is_ok());
        assert!(prefs.apply_type("welcome", json!({"enabled": false}), &clinic).is_ok());
    }

    #[test]
    fn refuses_unknown_types_channels_and_bad_values() {
        let clinic = ClinicSettings::default();
        let mut prefs = Preferences::default();
        let field = |r: Result<(), Refusal>| match r {
            Err(Refusal::Invalid(invalid)) => invalid.field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(prefs.apply_type("holiday_greetings", json!({"enabled": false}), &clinic)), "type");
        assert_eq!(field(prefs.apply_type("welcome", json!({"channels": {"fax": false}}), &clinic)), "channels.fax");
        assert_eq!(field(prefs.apply_type("welcome", json!({"channels": {"webhook": false}}), &clinic)), "channels.webhook");
        assert_eq!(field(prefs.apply_type("welcome", json!({"channels": {"sms": "no"}}), &clinic)), "channels.sms");
        assert_eq!(field(prefs.apply_type("welcome", json!({"enable": false}), &clinic)), "enable");
        assert_eq!(prefs.apply_general(json!({"timeZone": "Mars/Base"})).unwrap_err().field, "timeZone");
        assert_eq!(prefs.apply_general(json!({"preferredLocale": "not a tag"})).unwrap_err().field, "preferredLocale");
        let overlapping = json!({"quietHours": [{"start": "22:00", "end": "07:00"}, {"start": "06:00", "end": "08:00"}]});
        assert_eq!(prefs.apply_general(overlapping).unwrap_err().field, "quietHours[1]");
        assert_eq!(prefs, Preferences::default(), "nothing changed");
    }

    #[test]
    fn clinic_settings_merge_add_and_refuse() {
        let mut clinic = ClinicSettings::default();
        clinic.apply(json!({"settings": {"appointment_reminder": {"hours_before": 48}}})).unwrap();
        assert_eq!(clinic.for_type("appointment_reminder"), TypeSettings { hours_before: Some(48), ..TypeSettings::default_for("x") });
        assert!(clinic.for_type("appointment_reminder").enabled);
        let refused = [
            (json!({"settings": {"holiday_greetings": {"enabled": true}}}), "settings.holiday_greetings"),
            (json!({"settings": {"welcome": {"custom": true}}}), "settings.welcome.custom"),
            (json!({"settings": {"Bad-Name": {"custom": true}}}), "settings.Bad-Name"),
            (json!({"settings": {"welcome": {"hours_before": 0}}}), "settings.welcome.hours_before"),
            (json!({"settings": {"welcome": {"enabled": "yes"}}}), "settings.welcome.enabled"),
            (json!({"settings": {"welcome": {"sometimes": true}}}), "settings.welcome.sometimes"),
            (json!({"types": {}}), "types"),
        ];
        for (body, field) in refused {
            assert_eq!(clinic.clone().apply(body.clone()).unwrap_err().field, field, "{body}");
        }
        clinic.apply(json!({"settings": {"holiday_greetings": {"custom": true, "auto_send": false}}})).unwrap();
        assert!(clinic.knows("holiday_greetings"));
        assert_eq!(clinic.types().last().map(String::as_str), Some("holiday_greetings"));
        assert!(!clinic.for_type("holiday_greetings").auto_send);
    }

    #[test]
    fn hours_before_moves_the_first_reminder() {
        assert_eq!(reminder_schedules(&ClinicSettings::default()), ["PT24H", "PT2H", "PT30M"]);
        assert_eq!(reminder_schedules(&clinic(json!({"appointment_reminder": {"hours_before": 48}}))), ["PT48H", "PT2H", "PT30M"]);
        assert_eq!(reminder_schedules(&clinic(json!({"appointment_reminder": {"hours_before": 2}}))), ["PT2H", "PT30M"]);
        assert_eq!(reminder_schedules(&clinic(json!({"appointment_reminder": {"hours_before": null}}))), ["PT24H", "PT2H", "PT30M"]);
    }

    #[test]
    fn built_in_events_have_types() {
        assert_eq!(type_of_event("appointment.reminder"), Some("appointment_reminder"));
        assert_eq!(type_of_event("doctor.emergency_leave"), Some("emergency_leave"));
        assert_eq!(type_of_event("custom/Thing/v1"), None);
        for (_, t) in EVENT_TYPES {
            assert!(DEFAULT_TYPES.contains(t), "{t}");
        }
        for t in DEFAULT_TYPES {
            assert!(is_type_name(t), "{t}");
            assert!(catalogue_event(t).is_some(), "{t} can be sent by hand");
        }
        assert_eq!(catalogue_event("appointment_confirmation"), Some("appointment.scheduled"));
    }
}
