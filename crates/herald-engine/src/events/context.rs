//! The handler utility API (seed 03, "Custom handler API") over Herald's store: what a
//! handler reads (recipients, settings, earlier notifications) and what it decides (messages,
//! reminders, aborts), gathered into one commit.

use crate::EngineError;
use crate::documents::Actor;
use crate::lookups;
use herald_core::document::{Document, to_body};
use herald_core::event::IncomingEvent;
use herald_core::id::new_document_id;
use herald_core::job::{Job, JobKind};
use herald_core::notification::{EventRef, MessageStatus, Notification, Reminder, ReminderStatus};
use herald_core::query::{Filter, ListQuery};
use herald_core::resources::Collection;
use herald_core::resources::channel::Channel;
use herald_core::resources::user::User;
use herald_core::rules::messages::{self, MessageSpec};
use herald_core::rules::recipients::RecipientQuery;
use herald_core::rules::reminders::{self, ReminderSpec};
use herald_core::rules::settings::{self, StoredSetting};
use herald_store::{EventCommit, Store};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Why a recipient named by an event or a send gets nothing.
pub(crate) const UNKNOWN_RECIPIENT: &str = "the recipient is not in the users directory";

/// A user from the directory.
#[derive(Clone, Debug)]
pub struct Recipient {
    /// The user's `_id` in the directory.
    pub document_id: String,
    /// The user.
    pub user: User,
}

/// The event a handler works on, or one it derives (a reminder, a created event for a new
/// participant): its name and payload, plus the identity of the event that arrived.
#[derive(Clone, Debug)]
pub struct EventView {
    /// The arrived event's record id in the events log.
    pub document_id: String,
    /// The arrived event's sender id.
    pub id: String,
    /// The resource the event is about.
    pub key: Option<String>,
    /// The event name this view stands for.
    pub name: String,
    /// Its metadata.
    pub metadata: Map<String, Value>,
    /// Its payload.
    pub payload: Map<String, Value>,
}

impl EventView {
    /// The view of an arrived event.
    pub fn new(document_id: String, id: String, event: &IncomingEvent) -> Self {
        Self {
            document_id,
            id,
            key: event.key.clone(),
            name: event.name.to_string(),
            metadata: event.metadata.clone(),
            payload: event.payload.clone(),
        }
    }

    /// The same event under another name and payload (seed 03's handlers send "the created
    /// event with the updated appointment as payload" and the like).
    pub fn derive(&self, name: &str, payload: Map<String, Value>) -> Self {
        Self { name: name.to_string(), payload, ..self.clone() }
    }

    fn reference(&self) -> EventRef {
        EventRef {
            document_id: self.document_id.clone(),
            id: self.id.clone(),
            key: self.key.clone(),
            name: self.name.clone(),
            payload: self.payload.clone(),
        }
    }

    /// The emitters named in `metadata.emitters` (a string or a list of strings).
    pub fn emitters(&self) -> Vec<String> {
        herald_core::json::one_or_many(self.metadata.get("emitters"))
    }
}

/// What a handler can read and decide while processing one event.
pub struct HandlerContext {
    store: Arc<dyn Store>,
    actor: Actor,
    now: Timestamp,
    /// The tenant's time zone, read once when a time slot first needs it.
    tenant_zone: Option<Option<String>>,
    event: EventView,
    supported_channels: Option<Vec<Channel>>,
    settings: HashMap<String, Vec<StoredSetting>>,
    notifications: Vec<Notification>,
    /// When the messages are delivered; at once when `None`.
    deliver_at: Option<Timestamp>,
    commit: EventCommit,
}

impl HandlerContext {
    /// A context for `event`, processed at `now` for `actor`'s tenant.
    pub(crate) fn new(
        store: Arc<dyn Store>,
        actor: Actor,
        now: Timestamp,
        event: EventView,
        supported_channels: Option<Vec<Channel>>,
    ) -> Self {
        Self {
            store,
            actor,
            now,
            tenant_zone: None,
            event,
            supported_channels,
            settings: HashMap::new(),
            notifications: Vec::new(),
            deliver_at: None,
            commit: EventCommit::default(),
        }
    }

    /// The event that arrived.
    pub fn event(&self) -> &EventView {
        &self.event
    }

    /// The time the event is processed at.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// `getRecipients`: the directory's users matching `query`, in directory order.
    pub async fn get_recipients(&self, query: &RecipientQuery) -> Result<Vec<Recipient>, EngineError> {
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let list = ListQuery::matching(query.filter(), lookups::READ_LIMIT);
        let documents = self.store.find_documents(Collection::Users, &self.actor.tenant, &list).await?;
        Ok(documents
            .into_iter()
            .filter_map(|doc| serde_json::from_value(Value::Object(doc.body)).ok().map(|user| Recipient { document_id: doc.id, user }))
            .collect())
    }

    /// `getNotificationSettings`: the settings of `event_name` that apply to `user` (all of
    /// them when `None`) and the event's emitters, strongest first.
    pub async fn get_notification_settings(
        &mut self,
        event_name: &str,
        user: Option<&Recipient>,
    ) -> Result<Vec<StoredSetting>, EngineError> {
        if !self.settings.contains_key(event_name) {
            let stored = lookups::notification_settings(&self.store, &self.actor.tenant, Some(event_name)).await?;
            self.settings.insert(event_name.to_string(), stored);
        }
        let audience = user.map(|r| r.user.audience());
        let applicable = settings::applicable(&self.settings[event_name], event_name, audience.as_ref(), &self.event.emitters());
        if applicable.iter().any(|s| !s.setting.hours.is_empty()) {
            self.load_tenant_zone().await?;
        }
        Ok(applicable)
    }

    /// Reads the tenant's time zone, once, for [`HandlerContext::zone_of`].
    pub async fn load_tenant_zone(&mut self) -> Result<(), EngineError> {
        if self.tenant_zone.is_none() {
            self.tenant_zone = Some(self.store.find_tenant(&self.actor.tenant).await?.and_then(|t| t.time_zone));
        }
        Ok(())
    }

    /// The recipient's time zone, else the tenant's (once loaded), else UTC.
    pub fn zone_of(&self, user: Option<&Recipient>) -> TimeZone {
        let zone_name =
            user.and_then(|r| r.user.time_zone.as_ref().map(|tz| tz.to_string())).or_else(|| self.tenant_zone.clone().flatten());
        zone_name.and_then(|name| TimeZone::get(&name).ok()).unwrap_or(TimeZone::UTC)
    }

    /// Gives the event a key (the resource it is about) when it arrived without one, so its
    /// reminders can be found and aborted later.
    pub fn key_event(&mut self, key: Option<String>) {
        if self.event.key.is_none() {
            self.event.key = key;
        }
    }

    /// `mergeNotificationSettings`, with `hours` read in the recipient's time zone, else the
    /// tenant's, else UTC; channels the event setting does not support are dropped.
    pub fn merge_notification_settings(&self, sorted: &[StoredSetting], user: Option<&Recipient>) -> Vec<StoredSetting> {
        let mut merged = settings::merge(sorted, self.now, &self.zone_of(user));
        if let Some(supported) = &self.supported_channels {
            for stored in &mut merged {
                stored.setting.channels.retain(|c| supported.contains(c));
            }
            merged.retain(|s| !s.setting.channels.is_empty());
        }
        merged
    }

    /// Settings, then merge, for one recipient and event name.
    pub async fn settings_for(&mut self, event_name: &str, user: &Recipient) -> Result<Vec<StoredSetting>, EngineError> {
        let sorted = self.get_notification_settings(event_name, Some(user)).await?;
        Ok(self.merge_notification_settings(&sorted, Some(user)))
    }

    /// The settings that schedule reminders for `user`: merged like
    /// [`HandlerContext::settings_for`] but whatever the time of day, since `hours` decide when
    /// messages may go out, not whether a reminder exists (a reminder's own messages are
    /// checked against `hours` when it fires).
    pub async fn reminder_settings_for(&mut self, event_name: &str, user: &Recipient) -> Result<Vec<StoredSetting>, EngineError> {
        let mut sorted = self.get_notification_settings(event_name, Some(user)).await?;
        for stored in &mut sorted {
            stored.setting.hours.clear();
        }
        Ok(self.merge_notification_settings(&sorted, Some(user)))
    }

    /// `buildMessages`.
    pub fn build_messages(&self, settings: &[StoredSetting]) -> Vec<MessageSpec> {
        messages::build(settings)
    }

    /// `sendMessages`: a notification for `user` about `event` with one message per spec —
    /// `queued` (with its delivery job) or `skipped` when the user has no address for the
    /// channel. Returns the notification's index, for reminders to join it.
    pub fn send_messages(&mut self, event: &EventView, user: &Recipient, specs: &[MessageSpec]) -> usize {
        let messages = herald_core::rules::messages::plan(&user.user, specs);
        self.notifications.push(Notification {
            event: event.reference(),
            recipient: Some(user.user.id.clone()),
            messages,
            reminders: Vec::new(),
            failures: Vec::new(),
        });
        self.notifications.len() - 1
    }

    /// The index of the notification for `user` about `event`, created empty if there is none
    /// yet (custom handlers may set reminders without sending messages).
    pub fn notification_for(&mut self, event: &EventView, user: &Recipient) -> usize {
        let existing =
            self.notifications.iter().position(|n| n.recipient.as_deref() == Some(user.user.id.as_str()) && n.event.name == event.name);
        existing.unwrap_or_else(|| self.send_messages(event, user, &[]))
    }

    /// The notification at `index`, as JSON.
    pub fn notification_json(&self, index: usize) -> Value {
        serde_json::to_value(&self.notifications[index]).expect("notifications serialize")
    }

    /// `buildReminders` for `user` before `event_date`.
    pub fn build_reminders(&self, settings: &[StoredSetting], user: &Recipient, event_date: Timestamp) -> Vec<ReminderSpec> {
        reminders::build(settings, &user.user.id, event_date)
    }

    /// `setReminders`: schedules each reminder as a timed job emitting `reminder_event`
    /// (its metadata gains `reminder`), recorded on the notification at `notification`.
    /// Reminders whose time has already passed are recorded as `SKIPPED`, with no job.
    pub fn set_reminders(&mut self, notification: usize, reminder_event: &EventView, specs: Vec<ReminderSpec>) {
        for spec in specs {
            if spec.expiration_date <= self.now {
                self.notifications[notification].reminders.push(Reminder {
                    status: ReminderStatus::Skipped,
                    expiration_date: spec.expiration_date,
                    expiration_id: None,
                    schedule: spec.schedule,
                    recipients: spec.recipients,
                    triggers: spec.triggers,
                    event_name: reminder_event.name.clone(),
                });
                continue;
            }
            let job_id = new_document_id(self.now);
            let mut metadata = reminder_event.metadata.clone();
            metadata.insert("reminder".into(), serde_json::to_value(&spec).expect("reminders serialize"));
            let emitted =
                json!({"name": reminder_event.name, "key": reminder_event.key, "metadata": metadata, "payload": reminder_event.payload});
            self.commit.jobs.push(Job::pending(job_id.clone(), JobKind::Reminder, spec.expiration_date, json!({"event": emitted})));
            self.notifications[notification].reminders.push(Reminder {
                status: ReminderStatus::Active,
                expiration_date: spec.expiration_date,
                expiration_id: Some(job_id),
                schedule: spec.schedule,
                recipients: spec.recipients,
                triggers: spec.triggers,
                event_name: reminder_event.name.clone(),
            });
        }
    }

    /// `abortReminders`: aborts the active reminders of earlier notifications for the same
    /// event key and user whose event is one of `event_names`.
    pub async fn abort_reminders(&mut self, user_id: &str, event_names: &[&str]) -> Result<(), EngineError> {
        let Some(key) = self.event.key.clone() else { return Ok(()) };
        let filter = Filter::And(vec![
            Filter::equals("event.key", key),
            Filter::equals("recipient", user_id),
            Filter::one_of("event.name", event_names.iter().copied()),
        ]);
        let list = ListQuery::matching(filter, lookups::READ_LIMIT);
        for mut document in self.store.find_documents(Collection::Notifications, &self.actor.tenant, &list).await? {
            let Ok(mut notification) = serde_json::from_value::<Notification>(Value::Object(document.body.clone())) else { continue };
            let mut changed = false;
            for reminder in notification.reminders.iter_mut().filter(|r| r.status == ReminderStatus::Active) {
                if let Some(job) = &reminder.expiration_id {
                    self.commit.aborted_jobs.push(job.clone());
                }
                reminder.status = ReminderStatus::Aborted;
                changed = true;
            }
            if changed {
                document.body = to_body(&notification);
                document.updated_at = self.now;
                document.updater_id = self.actor.id.clone();
                self.commit.updated_notifications.push(document);
            }
        }
        Ok(())
    }

    /// Delivers this event's messages at `at` instead of at once.
    pub fn deliver_at(&mut self, at: Timestamp) {
        self.deliver_at = Some(at);
    }

    /// Adds a notification built elsewhere (`POST /send`).
    pub fn push_notification(&mut self, notification: Notification) {
        self.notifications.push(notification);
    }

    /// The store, for the rules that read more than the handler API offers (clinic settings).
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The tenant the event is processed for.
    pub(crate) fn tenant(&self) -> &str {
        &self.actor.tenant
    }

    /// The notifications decided so far, for the rules that withhold messages (preferences).
    pub(crate) fn notifications_mut(&mut self) -> &mut [Notification] {
        &mut self.notifications
    }

    /// The arrived event as notifications refer to it.
    pub fn event_reference(&self) -> EventRef {
        self.event.reference()
    }

    /// Records a recipient the event names but the directory does not know.
    pub fn record_unknown_recipient(&mut self, event: &EventView, user_id: &str) {
        let failure = herald_core::notification::Failure { message: UNKNOWN_RECIPIENT.into() };
        self.notifications.push(Notification {
            event: event.reference(),
            recipient: Some(user_id.to_string()),
            messages: Vec::new(),
            reminders: Vec::new(),
            failures: vec![failure],
        });
    }

    /// The notifications (merged per recipient, as `mergeNotifications` does) as documents,
    /// and the commit with their delivery jobs, reminder jobs and aborts.
    pub(crate) fn finish(mut self) -> (Vec<Document>, EventCommit) {
        let mut merged: Vec<Notification> = Vec::new();
        for notification in std::mem::take(&mut self.notifications) {
            match merged.iter_mut().find(|m| m.recipient == notification.recipient && m.event.name == notification.event.name) {
                Some(existing) => {
                    existing.messages.extend(notification.messages);
                    existing.reminders.extend(notification.reminders);
                    existing.failures.extend(notification.failures);
                }
                None => merged.push(notification),
            }
        }
        let mut documents = Vec::new();
        for notification in merged.into_iter().filter(|n| !(n.messages.is_empty() && n.reminders.is_empty() && n.failures.is_empty())) {
            let id = new_document_id(self.now);
            let mut notification = notification;
            for (index, message) in notification.messages.iter_mut().enumerate() {
                if message.status == MessageStatus::Queued {
                    message.reach(MessageStatus::Queued, self.now);
                    let payload = json!({"notification": id, "message": index});
                    let due_at = self.deliver_at.unwrap_or(self.now);
                    self.commit.jobs.push(Job::pending(new_document_id(self.now), JobKind::Delivery, due_at, payload));
                }
            }
            documents.push(Document::new(id, to_body(&notification), self.now, &self.actor.id));
        }
        (documents, self.commit)
    }
}
