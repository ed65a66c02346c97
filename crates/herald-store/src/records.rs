//! Plain records for tenants and API keys.

use herald_core::access::Role;
use herald_core::document::Document;
use herald_core::job::Job;
use jiff::Timestamp;
use serde_json::Value;

/// A tenant: a clinic or organisation. Every other row belongs to one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRecord {
    /// The tenant's slug, its identifier everywhere.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The tenant's IANA time zone, for recipients without one.
    pub time_zone: Option<String>,
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
