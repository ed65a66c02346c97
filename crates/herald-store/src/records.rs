//! Plain records for tenants and API keys.

use herald_core::access::Role;
use herald_core::document::Document;
use herald_core::job::Job;
use jiff::Timestamp;
use serde_json::Value;

/// A tenant: a clinic or organisation. Every other row belongs to one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantRecord {
    /// The tenant's slug, its identifier everywhere.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The tenant's IANA time zone, for recipients without one.
    pub time_zone: Option<String>,
    /// The clinic's contact phone number (E.164), for templates and SMS HELP answers.
    pub phone: Option<String>,
    /// The clinic's contact email address.
    pub email: Option<String>,
    /// The locale for recipients without one, before the configured default.
    pub default_locale: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A stored API key: only the hash of its secret is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public identifier, for listing and revoking.
    pub key_id: String,
    /// The tenant the key acts for.
    pub tenant: String,
    /// What the key may do.
    pub role: Role,
    /// SHA-256 of the secret, hex.
    pub key_hash: String,
    /// When it was minted.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// What a bulk upsert did to one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upserted {
    /// The stored document's `_id` (the existing one when it was updated).
    pub id: String,
    /// Whether the document was new.
    pub inserted: bool,
}

/// Everything processing one event writes, committed in one transaction.
#[derive(Clone, Debug, Default)]
pub struct EventCommit {
    /// The event's record in the events log.
    pub event: Option<Document>,
    /// New notification records.
    pub notifications: Vec<Document>,
    /// Existing notification records rewritten (reminders aborted).
    pub updated_notifications: Vec<Document>,
    /// New timed jobs (deliveries and reminders).
    pub jobs: Vec<Job>,
    /// Pending jobs to abort, by id.
    pub aborted_jobs: Vec<String>,
    /// The sender's event id and the response to repeat for duplicates.
    pub dedup: Option<Dedup>,
}

/// Deduplication of an event by its sender's id.
#[derive(Clone, Debug)]
pub struct Dedup {
    /// The sender's event id.
    pub event_id: String,
    /// The response given, repeated for duplicates.
    pub response: Value,
    /// When the event was received.
    pub received_at: Timestamp,
    /// Events with the same id received before this instant are no longer duplicates.
    pub window_start: Timestamp,
}

/// How a commit ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Committed {
    /// Everything was written.
    Written,
    /// An event with the same id was committed within the window: nothing was written; this
    /// is the response it got.
    Duplicate(Value),
}

/// How a claimed job ended.
#[derive(Clone, Debug, PartialEq)]
pub enum JobOutcome {
    /// It did its work.
    Done,
    /// It will never succeed.
    Failed(String),
    /// Try again at this time.
    Retry(Timestamp, String),
    /// Not tried after all (a rate limit held it back): due again at this time, and the claim
    /// does not count as an attempt.
    Defer(Timestamp),
}

/// What one step of a message's delivery changes, written in one transaction: the message
/// itself, maybe a failure on its notification, maybe a stand-in message on a fallback
/// channel with its delivery job, and maybe the settled job.
#[derive(Clone, Debug)]
pub struct DeliveryUpdate {
    /// The notification's `_id`.
    pub notification_id: String,
    /// The message's index in the notification's `messages`.
    pub message_index: usize,
    /// The message as it is now.
    pub message: Value,
    /// An entry appended to the notification's `failures`.
    pub failure: Option<Value>,
    /// A stand-in message appended to `messages`, and its delivery job (whose payload's
    /// `message` is set to the stand-in's index).
    pub stand_in: Option<(Value, Job)>,
    /// The claimed job and how it ended.
    pub job: Option<(String, JobOutcome)>,
    /// What the message log keeps beyond the message.
    pub log: LogDetails,
    /// The notification-center entry of an in-app message that was just sent.
    pub inbox: Option<Box<crate::InboxEntry>>,
    /// When this happened.
    pub at: Timestamp,
}

/// A stored Idempotency-Key.
#[derive(Clone, Debug, PartialEq)]
pub struct IdempotencyRecord {
    /// SHA-256 of the body first sent with the key.
    pub body_hash: String,
    /// The answer's status and body, once there is one.
    pub response: Option<(u16, Value)>,
    /// When the key was first used.
    pub created_at: Timestamp,
}

/// One entry of the audit trail: who changed what, when and from where. Entries are only
/// ever appended.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    /// Its position in the trail, assigned by the store (0 before it is appended).
    pub seq: i64,
    /// Its id.
    pub id: String,
    /// The tenant it belongs to.
    pub tenant: String,
    /// When it happened.
    pub at: Timestamp,
    /// Who did it (`apikey:<id>`, `user:<id>`, `cli`, `system`).
    pub actor: String,
    /// What was done (`templates.update`, `quiet_hours.bypass`, …).
    pub action: String,
    /// What it was done to (`templates/<id>`, `tenant`, …).
    pub target: String,
    /// What changed: the new values (never secrets), or the facts of a bypass.
    pub changes: Value,
    /// Where the request came from (client address and user agent), when it came over HTTP.
    pub source: Option<String>,
}

/// Which audit entries to list: newest first, optionally only before a position (the
/// previous page's last `seq`) and matching an action, an actor or a target.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditQuery {
    /// Only this action.
    pub action: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this target.
    pub target: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<Timestamp>,
    /// Only entries before this time.
    pub until: Option<Timestamp>,
    /// Only entries older than this position.
    pub before_seq: Option<i64>,
    /// Most entries to return.
    pub limit: u32,
}

/// What the message log keeps of a delivery step beyond the message itself: the recipient
/// and event it belongs to, who triggered it, and — known only at delivery — the address it
/// went to and the subject it had.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogDetails {
    /// The recipient's user id.
    pub recipient: Option<String>,
    /// The sender's event id.
    pub event_id: Option<String>,
    /// The event type.
    pub event_name: Option<String>,
    /// Who caused it (`apikey:<id>` for sends, the event's emitter otherwise).
    pub triggered_by: String,
    /// The address the message went to (email address, phone number, device).
    pub address: Option<String>,
    /// The subject (email) or title (push) it had.
    pub subject: Option<String>,
}

/// One message as the message log shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageLogEntry {
    /// The notification's `_id`.
    pub notification_id: String,
    /// The message's index in the notification's `messages`.
    pub message_index: usize,
    /// The channel.
    pub channel: String,
    /// The template (seed 05's `template_key`).
    pub template_name: String,
    /// The recipient's user id (seed 05's `patient_id`).
    pub recipient: Option<String>,
    /// The address it went to.
    pub address: Option<String>,
    /// Its subject or title.
    pub subject: Option<String>,
    /// The sender's event id.
    pub event_id: Option<String>,
    /// The event type (seed 05's `triggered_by_event`).
    pub event_name: Option<String>,
    /// Its status, as the notification records it (`queued`, `SUCCESS`, `FAILURE`, …).
    pub status: String,
    /// Why it was skipped.
    pub reason: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The provider that took it.
    pub service: Option<String>,
    /// The provider's id for it.
    pub provider_message_id: Option<String>,
    /// Who caused it (seed 05's `triggered_by_user_id`).
    pub triggered_by: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When the provider accepted it.
    pub sent_at: Option<Timestamp>,
}

/// Which log entries to list: newest first, `limit` of them after skipping `offset`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageLogQuery {
    /// Only these stored statuses.
    pub statuses: Vec<String>,
    /// Only this recipient.
    pub recipient: Option<String>,
    /// Only this channel.
    pub channel: Option<String>,
    /// Only this template.
    pub template_name: Option<String>,
    /// Only this event type.
    pub event_name: Option<String>,
    /// Only entries created at or after this instant.
    pub since: Option<Timestamp>,
    /// Only entries created before this instant.
    pub until: Option<Timestamp>,
    /// Entries to skip.
    pub offset: u64,
    /// Most entries to return.
    pub limit: u32,
}

/// A provider's report about a message it took: delivered, read, bounced, complained or
/// failed.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryReport {
    /// Only a message of this tenant is looked at, when the report came from a tenant's own
    /// caller rather than from a provider's signed webhook.
    pub tenant: Option<String>,
    /// The provider (`Provider::name`), as recorded in the message's `service`.
    pub service: String,
    /// The provider's id for the message.
    pub provider_message_id: String,
    /// What the provider says happened.
    pub status: herald_core::notification::MessageStatus,
    /// The provider's words about it (a bounce reason, an error code), without contact data.
    pub detail: Option<String>,
    /// When Herald received the report.
    pub at: Timestamp,
}

/// What a report did.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportOutcome {
    /// The tenant of the message.
    pub tenant: String,
    /// The notification's `_id`.
    pub notification_id: String,
    /// The message's index.
    pub message_index: usize,
    /// Whether the message's status changed (a report that would move it backwards, or repeat
    /// it, changes nothing).
    pub applied: bool,
}

/// A stored file's metadata (the files service); its bytes are in the object store under
/// `<tenant>/<id>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    /// The tenant it belongs to.
    pub tenant: String,
    /// Its id (the files service's `file`).
    pub id: String,
    /// The name recipients see; unique in the tenant.
    pub name: String,
    /// Its checked MIME type.
    pub content_type: String,
    /// Its length in bytes.
    pub size: u64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
    /// When it was uploaded.
    pub created_at: Timestamp,
    /// Who uploaded it (the API key's id).
    pub creator_id: String,
}
