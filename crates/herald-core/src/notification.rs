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

/// Where a message is in its life: `queued → sending → SUCCESS` (later `delivered`, `read`,
/// `bounced` or `complained` from provider callbacks), or `FAILURE` once it failed for good; `skipped` when it was never
/// to be sent. The two settled outcomes keep seed 03's values (`SUCCESS`, `FAILURE`), so
/// clients of the notification manager that filter `messages.status` keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Committed, waiting for delivery (or for its next attempt).
    Queued,
    /// Handed to the provider; the answer is not recorded yet.
    Sending,
    /// The provider accepted it.
    #[serde(rename = "SUCCESS")]
    Sent,
    /// The provider reported it delivered.
    Delivered,
    /// The recipient read it.
    Read,
    /// It failed for good; `error` says why (also when a provider reported it undeliverable).
    #[serde(rename = "FAILURE")]
    Failed,
    /// The recipient's mail server refused it (an email provider's bounce report).
    Bounced,
    /// The recipient marked it as spam (an email provider's complaint report).
    Complained,
    /// Not sent: the recipient has no address for the channel, or a rule withheld it.
    Skipped,
}

impl MessageStatus {
    /// Whether a provider's report of `reported` moves a message in this status forward.
    /// Reports arrive late and out of order, so only progress counts: `delivered` and the
    /// failures (`FAILURE`, `bounced`) settle a message the provider had accepted; `read`
    /// follows acceptance or delivery; `complained` may come after anything the recipient
    /// received. Repeats, a `SUCCESS` report, and anything about a message never handed to a
    /// provider change nothing.
    pub fn accepts_report(self, reported: MessageStatus) -> bool {
        use MessageStatus::*;
        match reported {
            Delivered | Failed | Bounced => self == Sent,
            Read => matches!(self, Sent | Delivered),
            Complained => matches!(self, Sent | Delivered | Read),
            Queued | Sending | Sent | Skipped => false,
        }
    }

    /// Its name as stored and shown (`SUCCESS`, `delivered`).
    pub fn as_str(self) -> &'static str {
        use MessageStatus::*;
        match self {
            Queued => "queued",
            Sending => "sending",
            Sent => "SUCCESS",
            Delivered => "delivered",
            Read => "read",
            Failed => "FAILURE",
            Bounced => "bounced",
            Complained => "complained",
            Skipped => "skipped",
        }
    }
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
    /// Channels to try, in order, if this one fails for good or the recipient has no address
    /// for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<Channel>,
    /// The index of the message this one stands in for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_for: Option<usize>,
    /// Per-send email options (`POST /send`'s copies and sender).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailOptions>,
    /// Files attached to an email from `POST /send`'s `emailAttachments` (seed 03's
    /// `attachments`): each by its files-service id (`file`) with its `name` at acceptance.
    /// The template's own `emailAttachments` join them at delivery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::resources::template::Attachment>,
    /// Why it failed for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The provider that sent it (seed 03's `service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The provider's id for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// What an in-app message shows in the recipient's notification center.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered: Option<Value>,
    /// Every status it went through, with when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<StatusChange>,
    /// Every delivery attempt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
}

/// `POST /send`'s email options, kept with each email message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailOptions {
    /// Carbon copies (invalid addresses already dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carbon_copies: Vec<String>,
    /// Blind carbon copies (invalid addresses already dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blind_carbon_copies: Vec<String>,
    /// The sender, overriding the configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Where replies go (`Reply-To`), overriding the configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// A status a message reached, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The status.
    pub status: MessageStatus,
    /// When it was reached.
    #[serde(with = "crate::document::timestamp_format")]
    pub at: Timestamp,
}

/// How one delivery attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttemptOutcome {
    /// The provider accepted the message.
    Sent,
    /// It failed in a way worth trying again.
    Retry,
    /// It failed for good.
    Failed,
}

/// One delivery attempt, as the provider answered it. The response is truncated and never
/// holds the message's content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// When it started.
    #[serde(with = "crate::document::timestamp_format")]
    pub started_at: Timestamp,
    /// How long the provider took, in milliseconds.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The provider's status code (HTTP status, SMTP reply code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<u16>,
    /// The provider's answer, truncated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// The provider's id for the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the next attempt is due, after a retryable failure.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::document::optional_timestamp_format")]
    pub next_attempt_at: Option<Timestamp>,
    /// The provider that was tried (its name, as the message's `service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The tenant's provider entry that was tried, by name; absent for the global provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
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
        Self {
            status,
            channel,
            template_name: template_name.to_string(),
            reason,
            content: None,
            fallbacks: Vec::new(),
            fallback_for: None,
            email: None,
            attachments: Vec::new(),
            error: None,
            service: None,
            provider_message_id: None,
            rendered: None,
            history: Vec::new(),
            attempts: Vec::new(),
        }
    }

    /// Records that the message reached `status` at `at`.
    pub fn reach(&mut self, status: MessageStatus, at: Timestamp) {
        self.status = status;
        self.history.push(StatusChange { status, at });
    }

    /// The stand-in for this message (at `index` in `messages`) on its next fallback channel
    /// the recipient has an address for and that no other message of the same template uses
    /// yet; `None` when there is none. The stand-in keeps the remaining fallbacks.
    pub fn fallback(&self, index: usize, user: &crate::resources::user::User, messages: &[Message]) -> Option<Message> {
        let root = self.fallback_for.unwrap_or(index);
        let taken = |channel: Channel| messages.iter().any(|m| m.channel == channel && m.template_name == self.template_name);
        let mut remaining = self.fallbacks.iter().copied().skip_while(|channel| taken(*channel) || user.address_for(*channel).is_err());
        let channel = remaining.next()?;
        let mut stand_in = Message::for_recipient(user, channel, &self.template_name);
        stand_in.fallbacks = remaining.collect();
        stand_in.fallback_for = Some(root);
        stand_in.content = self.content.clone();
        stand_in.email = self.email.clone();
        stand_in.attachments = self.attachments.clone();
        Some(stand_in)
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
    /// Its time had already passed when the event arrived, so it was never scheduled
    /// (Herald's addition to seed 03's statuses).
    Skipped,
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

#[cfg(test)]
mod tests {
    use super::MessageStatus::{self, *};

    const ALL: [MessageStatus; 9] = [Queued, Sending, Sent, Delivered, Read, Failed, Bounced, Complained, Skipped];

    #[test]
    fn names_are_the_serialized_ones() {
        for status in ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }

    #[test]
    fn reports_only_move_messages_forward() {
        let accepted: Vec<(MessageStatus, MessageStatus)> =
            ALL.iter().flat_map(|&from| ALL.iter().map(move |&to| (from, to))).filter(|(from, to)| from.accepts_report(*to)).collect();
        assert_eq!(
            accepted,
            [
                (Sent, Delivered),
                (Sent, Read),
                (Sent, Failed),
                (Sent, Bounced),
                (Sent, Complained),
                (Delivered, Read),
                (Delivered, Complained),
                (Read, Complained),
            ]
        );
    }
}
