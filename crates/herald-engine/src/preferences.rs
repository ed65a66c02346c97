//! Recipients' preferences and clinics' settings per notification type, over the store: read
//! and change them (every change audited), and apply them to the messages an event, a send or
//! a reminder makes — a withheld message is committed as `skipped` with seed 05's reason, so
//! the skip is in the notification record (and the message log) like any other outcome.
//!
//! The rules themselves are pure: [`herald_core::rules::preferences`] and
//! [`herald_core::rules::quiet_hours`]. Preferences are kept per user id, also for users the
//! directory does not hold yet (a patient may set them before the clinic syncs them).

use crate::EngineError;
use crate::documents::Actor;
use crate::events::HandlerContext;
use herald_core::Invalid;
use herald_core::clock::Clock;
use herald_core::notification::MessageStatus;
use herald_core::query::{Filter, ListQuery};
use herald_core::resources::Collection;
use herald_core::resources::channel::Channel;
use herald_core::resources::user::User;
use herald_core::rules::preferences::{ClinicSettings, Preferences, Refusal, Subject, skip_reason, type_of_event};
use herald_store::Store;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Preferences and clinic settings of every tenant.
#[derive(Clone)]
pub struct NotificationPreferences {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl NotificationPreferences {
    /// The service.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The clinic's settings as stored (none changed: the defaults).
    pub(crate) async fn clinic(&self, tenant: &str) -> Result<ClinicSettings, EngineError> {
        Ok(self.store.find_clinic_settings(tenant).await?.unwrap_or_default())
    }

    /// `GET /api/v1/notifications/settings`: every type the clinic knows with the settings in
    /// force, `{"settings": {type: {enabled, auto_send, hours_before?, mandatory, custom?}}}`.
    pub async fn clinic_settings(&self, tenant: &str) -> Result<Value, EngineError> {
        Ok(json!({"settings": self.clinic(tenant).await?.effective()}))
    }

    /// `PUT /api/v1/notifications/settings`: changes the fields given for the types named
    /// (adding the ones marked `custom: true`); answers like [`Self::clinic_settings`]. The
    /// change is audited as `clinic_settings.update`, with the settings before and after.
    pub async fn update_clinic_settings(&self, actor: &Actor, source: Option<String>, body: Value) -> Result<Value, EngineError> {
        let before = self.clinic(&actor.tenant).await?;
        let mut after = before.clone();
        after.apply(body)?;
        self.store.put_clinic_settings(&actor.tenant, &after, self.clock.now()).await?;
        let changes = json!({"before": before.settings, "after": after.settings});
        self.audit(actor, source, "clinic_settings.update", "clinic_settings".into(), changes).await?;
        Ok(json!({"settings": after.effective()}))
    }

    /// Refuses a user id the directory does not hold (for staff, who manage known patients).
    pub async fn require_user(&self, tenant: &str, user_id: &str) -> Result<(), EngineError> {
        let found = self.store.count_documents(Collection::Users, tenant, &Filter::equals("id", user_id)).await?;
        if found == 0 { Err(EngineError::NotFound("user")) } else { Ok(()) }
    }

    /// `GET /patient-notifications/preferences`: the user's master toggle, locale, time zone,
    /// quiet hours, and every type the clinic knows with the choices in force and whether the
    /// clinic made it mandatory.
    pub async fn preferences(&self, tenant: &str, user_id: &str) -> Result<Value, EngineError> {
        let clinic = self.clinic(tenant).await?;
        let preferences = self.store.find_preferences(tenant, user_id).await?.unwrap_or_default();
        Ok(view(user_id, &clinic, &preferences))
    }

    /// `PUT /patient-notifications/preferences`: changes the master toggle, locale, time zone
    /// or quiet hours; answers like [`Self::preferences`]. Audited as `preferences.update`.
    pub async fn update_preferences(
        &self,
        actor: &Actor,
        source: Option<String>,
        user_id: &str,
        body: Value,
    ) -> Result<Value, EngineError> {
        self.change(actor, source, user_id, "preferences.update", |preferences, _| preferences.apply_general(body).map_err(Into::into))
            .await
    }

    /// `PUT /patient-notifications/preferences/{type}`: changes the user's choices for one
    /// type; an unknown type or channel is refused (400), and so is turning off a type the
    /// clinic made mandatory (422). Audited as `preferences.update_type`.
    pub async fn update_type(
        &self,
        actor: &Actor,
        source: Option<String>,
        user_id: &str,
        notification_type: &str,
        body: Value,
    ) -> Result<Value, EngineError> {
        self.change(actor, source, user_id, "preferences.update_type", |preferences, clinic| {
            match preferences.apply_type(notification_type, body, clinic) {
                Ok(()) => Ok(()),
                Err(Refusal::Invalid(invalid)) => Err(invalid.into()),
                Err(Refusal::Mandatory(message)) => Err(EngineError::Unprocessable(message)),
            }
        })
        .await
    }

    /// Reads, edits, stores and audits (target `preferences/<user id>`) one user's preferences.
    async fn change(
        &self,
        actor: &Actor,
        source: Option<String>,
        user_id: &str,
        action: &str,
        edit: impl FnOnce(&mut Preferences, &ClinicSettings) -> Result<(), EngineError>,
    ) -> Result<Value, EngineError> {
        let clinic = self.clinic(&actor.tenant).await?;
        let before = self.store.find_preferences(&actor.tenant, user_id).await?.unwrap_or_default();
        let mut after = before.clone();
        edit(&mut after, &clinic)?;
        self.store.put_preferences(&actor.tenant, user_id, &after, self.clock.now()).await?;
        let changes = json!({"before": before, "after": after});
        self.audit(actor, source, action, format!("preferences/{user_id}"), changes).await?;
        Ok(view(user_id, &clinic, &after))
    }

    async fn audit(&self, actor: &Actor, source: Option<String>, action: &str, target: String, changes: Value) -> Result<(), EngineError> {
        let entry = crate::audit::AuditEntry {
            tenant: actor.tenant.clone(),
            actor: actor.id.clone(),
            action: action.to_string(),
            target,
            changes,
            source,
        };
        crate::audit::record(&self.store, &self.clock, entry).await
    }
}

/// Preferences as the API shows them.
fn view(user_id: &str, clinic: &ClinicSettings, preferences: &Preferences) -> Value {
    let types: Map<String, Value> = clinic
        .types()
        .into_iter()
        .map(|t| {
            let choice = preferences.for_type(&t);
            let shown = json!({"enabled": choice.enabled, "mandatory": clinic.for_type(&t).mandatory, "channels": choice.channels});
            (t, shown)
        })
        .collect();
    json!({
        "userId": user_id,
        "enabled": preferences.enabled,
        "preferredLocale": preferences.preferred_locale,
        "timeZone": preferences.time_zone,
        "quietHours": preferences.quiet_hours,
        "preferences": types,
    })
}

/// A message withheld by preferences: the recipient's id, the channel and the reason.
pub(crate) type Withheld = (String, Channel, String);

/// Applies the clinic's settings and each recipient's preferences to the queued messages of
/// `context`: a message that must not be made becomes `skipped` with the reason. `manual`
/// sends (the manual send, seed 03's `/send`) are not held back by `auto_send: false`.
/// An event's `metadata.notificationType` must name a type the clinic knows.
pub(crate) async fn apply(
    store: &Arc<dyn Store>,
    tenant: &str,
    context: &mut HandlerContext,
    manual: bool,
) -> Result<Vec<Withheld>, EngineError> {
    const FIELD: &str = "metadata.notificationType";
    let declared = match context.event().metadata.get("notificationType") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err(Invalid::new(FIELD, "must be a string").into()),
    };
    let notifications = context.notifications_mut();
    if declared.is_none() && !notifications.iter().any(|n| n.messages.iter().any(|m| m.status == MessageStatus::Queued)) {
        return Ok(Vec::new());
    }
    let mut user_ids: Vec<String> = notifications.iter().filter_map(|n| n.recipient.clone()).collect();
    user_ids.sort();
    user_ids.dedup();
    let (clinic, recipients) = store.find_preference_context(tenant, &user_ids).await?;
    let clinic = clinic.unwrap_or_default();
    if let Some(name) = &declared
        && !clinic.knows(name)
    {
        return Err(Invalid::new(FIELD, "is not a known notification type").into());
    }
    let no_preferences = Preferences::default();
    let mut withheld = Vec::new();
    for notification in notifications.iter_mut() {
        let Some(user_id) = notification.recipient.clone() else { continue };
        let preferences = recipients.get(&user_id).unwrap_or(&no_preferences);
        let event_type = type_of_event(&notification.event.name).map(str::to_string).or_else(|| declared.clone());
        for message in notification.messages.iter_mut().filter(|m| m.status == MessageStatus::Queued) {
            let by_template = clinic.knows(&message.template_name).then(|| message.template_name.clone());
            let notification_type = event_type.clone().or(by_template);
            let subject = Subject { notification_type: notification_type.as_deref(), channel: message.channel, manual };
            if let Some(reason) = skip_reason(&clinic, preferences, &subject) {
                tracing::info!(tenant, channel = message.channel.as_str(), reason = %reason, "message withheld by preferences");
                message.status = MessageStatus::Skipped;
                message.reason = Some(reason.clone());
                withheld.push((user_id.clone(), message.channel, reason));
            }
        }
    }
    Ok(withheld)
}

/// [`apply`] to a handler's outcome, so an event that names an unknown type is refused (and
/// recorded as `ERROR`) like one its handler refused.
pub(crate) async fn screen(
    store: &Arc<dyn Store>,
    tenant: &str,
    outcome: Result<HandlerContext, EngineError>,
    manual: bool,
) -> Result<HandlerContext, EngineError> {
    let mut context = outcome?;
    apply(store, tenant, &mut context, manual).await?;
    Ok(context)
}

/// When the appointment reminders of `context`'s tenant fire before the appointment (see
/// [`herald_core::rules::preferences::reminder_schedules`]).
pub(crate) async fn reminder_schedules(context: &HandlerContext) -> Result<Vec<String>, EngineError> {
    let clinic = context.store().find_clinic_settings(context.tenant()).await?.unwrap_or_default();
    Ok(herald_core::rules::preferences::reminder_schedules(&clinic))
}

/// The recipient as their `preferences` present them: the preferred locale and time zone over
/// the directory's.
pub(crate) fn personalize(mut user: User, preferences: Option<&Preferences>) -> User {
    if let Some(preferences) = preferences {
        user.locale = preferences.preferred_locale.clone().or(user.locale);
        user.time_zone = preferences.time_zone.clone().or(user.time_zone);
    }
    user
}

/// The directory's record of a user, when it has one.
pub(crate) async fn directory_user(store: &Arc<dyn Store>, tenant: &str, user_id: &str) -> Result<Option<User>, EngineError> {
    let found = store.find_documents(Collection::Users, tenant, &ListQuery::matching(Filter::equals("id", user_id), 1)).await?;
    Ok(found.into_iter().next().and_then(|d| serde_json::from_value(Value::Object(d.body)).ok()))
}
