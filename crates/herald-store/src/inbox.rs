//! What the store keeps for the patient notification center (seed 04): one [`InboxEntry`]
//! per delivered in-app message, written in the same transaction as the delivery step that
//! sent it, and the [`InboxSignal`]s that tell real-time connections a user's inbox changed.
//!
//! Each user has a change counter: every creation or change of one of their entries takes the
//! next value as the entry's `seq`, so "everything after seq N" is exactly what a reconnecting
//! client missed. On PostgreSQL the counter row is locked until commit, so a user's changes
//! commit in `seq` order and a reader never skips one that commits late.

use jiff::Timestamp;
use serde_json::Value;

/// The PostgreSQL `NOTIFY` channel inbox changes are announced on, to every instance.
pub const INBOX_CHANNEL: &str = "herald_inbox";

/// Signals a store buffers for a subscriber that falls behind (it then gets `Lagged`).
pub(crate) const SIGNAL_BUFFER: usize = 4096;

/// An in-app message in its recipient's notification center.
#[derive(Clone, Debug, PartialEq)]
pub struct InboxEntry {
    /// Its id.
    pub id: String,
    /// The recipient's user id.
    pub user_id: String,
    /// Its place in the user's inbox, assigned by the store at creation (0 before): newer
    /// entries have larger numbers. Cursors page by it.
    pub number: i64,
    /// The user's change sequence at its last change, assigned by the store (0 before).
    pub seq: i64,
    /// The notification record whose message it is.
    pub notification_id: String,
    /// The message's index in that notification.
    pub message_index: usize,
    /// Its notification type (`appointment_reminder`, `report_ready`, …), when it has one.
    pub notification_type: Option<String>,
    /// `low`, `medium`, `high` or `urgent`.
    pub priority: String,
    /// Its title, when the template has one.
    pub title: Option<String>,
    /// Its text.
    pub body: String,
    /// What the app needs to act on it (the event's name and key, the template's push data).
    pub data: Value,
    /// When it was delivered.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When the user read it.
    pub read_at: Option<Timestamp>,
    /// When the user dismissed it (it leaves the list).
    pub dismissed_at: Option<Timestamp>,
    /// When the user archived it (it moves to the archived list).
    pub archived_at: Option<Timestamp>,
}

impl InboxEntry {
    /// Whether it has not changed since it was created (a real-time `created` event).
    pub fn is_new(&self) -> bool {
        self.seq == self.number
    }
}

/// What a user does to one of their entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxAction {
    /// Marks it read.
    Read,
    /// Removes it from the list (and marks it read).
    Dismiss,
    /// Moves it to the archived list.
    Archive,
    /// Moves it back from the archived list.
    Unarchive,
}

/// Which of a user's entries a list shows. Dismissed entries never show.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InboxQuery {
    /// The user.
    pub user_id: String,
    /// Only unread (`true`) or only read (`false`) entries.
    pub unread: Option<bool>,
    /// The archived list (`true`) instead of the main one.
    pub archived: bool,
    /// Only these types (any, when empty).
    pub types: Vec<String>,
    /// Only these priorities (any, when empty).
    pub priorities: Vec<String>,
    /// Only entries older than this number (a cursor).
    pub before: Option<i64>,
    /// Most entries returned.
    pub limit: u32,
    /// Entries skipped (page paging).
    pub offset: u64,
}

/// A user's inbox changed (an entry was created or changed). A signal with an empty tenant
/// means "any inbox may have changed" (signals may have been lost).
#[derive(Clone, Debug, PartialEq)]
pub struct InboxSignal {
    /// Their tenant.
    pub tenant: String,
    /// The user.
    pub user_id: String,
    /// The entries the change created, as committed (with their `seq`), when this process
    /// delivered them; empty for other changes and other instances' signals. A connection
    /// whose next `seq` they begin with can send them without reading them back.
    pub created: Vec<InboxEntry>,
}

impl InboxSignal {
    /// The signal as a `NOTIFY` payload.
    pub fn to_payload(&self) -> String {
        Value::from(vec![self.tenant.as_str(), self.user_id.as_str()]).to_string()
    }

    /// A signal from a `NOTIFY` payload.
    pub fn from_payload(payload: &str) -> Option<Self> {
        let parts: Vec<String> = serde_json::from_str(payload).ok()?;
        let [tenant, user_id]: [String; 2] = parts.try_into().ok()?;
        Some(Self::changed(tenant, user_id))
    }

    /// A signal that the user's inbox changed, without the entries.
    pub fn changed(tenant: impl Into<String>, user_id: impl Into<String>) -> Self {
        Self { tenant: tenant.into(), user_id: user_id.into(), created: Vec::new() }
    }
}
