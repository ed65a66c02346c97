//! Notification records (seed 03's notifications collection): for one event and one
//! recipient, the messages produced, the reminders scheduled and what failed.

use crate::resources::channel::Channel;
use crate::values::IsoDuration;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A notification record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The event it is about.
    pub event: EventRef,
    /// The user id it is for, when it is for one user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// One entry per template × channel.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Reminders scheduled (or aborted) for this event and recipient.
    #[serde(default)]
    pub reminders: Vec<Reminder>,
    /// Errors that concern the notification as a whole.
    #[serde(default)]
    pub failures: Vec<Failure>,
}

/// The event a notification is about, as stored in the events log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRef {
    /// The event's `_id` in the events log.
    #[serde(rename = "_id")]
    pub document_id: String,
    /// The sender's event id.
    pub id: String,
    /// The resource the event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The event type (for reminders and updates, the type the notification was built for).
    pub name: String,
    /// The payload the messages are rendered with.
    #[serde(default)]
    pub payload: Map<String, Value>,
}

/// Where a message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Committed, waiting for delivery.
    Queued,
    /// Not sent: the recipient has no address for the channel, or a rule withheld it.
    Skipped,
}

/// One message: a template on a channel for the recipient.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Where it is in its life.
    pub status: MessageStatus,
    /// The channel.
    pub channel: Channel,
    /// The template.
    pub template_name: String,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Content given inline (`POST /send` with `messageTitle`/`messageContent`) instead of a
    /// template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<InlineContent>,
}

/// A message's own title and body, rendered like a template's fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InlineContent {
    /// Title (email subject, push title).
    pub title: String,
    /// Body (every channel).
    pub body: String,
}

impl Message {
    /// A message of `template_name` on `channel` for `user`: `queued`, or `skipped` with the
    /// reason when the user has no address for the channel.
    pub fn for_recipient(user: &crate::resources::user::User, channel: Channel, template_name: &str) -> Self {
        let (status, reason) = match user.address_for(channel) {
            Ok(()) => (MessageStatus::Queued, None),
            Err(reason) => (MessageStatus::Skipped, Some(reason.to_string())),
        };
        Self { status, channel, template_name: template_name.to_string(), reason, content: None }
    }
}

/// Where a reminder is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ReminderStatus {
    /// Scheduled.
    Active,
    /// Cancelled before it fired.
    Aborted,
    /// Could not be scheduled.
    Error,
}

/// A reminder, as seed 03 records it, plus the event it will emit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reminder {
    /// Its status.
    pub status: ReminderStatus,
    /// When it fires.
    #[serde(with = "crate::document::timestamp_format")]
    pub expiration_date: Timestamp,
    /// The id of its timed job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_id: Option<String>,
    /// The duration before the event it stands for.
    pub schedule: IsoDuration,
    /// The user ids it is for.
    pub recipients: Vec<String>,
    /// The settings that asked for it.
    pub triggers: Vec<String>,
    /// The event it emits when it fires (e.g. `AM/AppointmentReminder/v1`).
    pub event_name: String,
}

/// An error about the notification as a whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// What went wrong.
    pub message: String,
}
