//! The patient notification center (seed 04): each user's in-app messages, as the dispatcher
//! wrote them when it delivered them (see `delivery::inbox`), with read, dismiss, archive and
//! unarchive, and their real-time delivery ([`hub`], [`follow`]).
//!
//! Lists are newest first and page by cursor or by page:
//!
//! - `limit` (1–100, default 20);
//! - `cursor`: the `nextCursor` of the previous answer (the entries older than it), or
//! - `page` (from 1): the `limit` entries after `(page - 1) × limit`; not with `cursor`;
//! - filters: `unread` (`true`/`false`), `archived` (`true`: the archived list; default the
//!   main one), `type` and `priority` (comma-separated; a type must be one the tenant knows, a
//!   priority one of `low`, `medium`, `high`, `urgent`).
//!
//! Dismissed entries leave every list (dismissing also marks read). The answer is
//! `{"notifications": […], "total", "unreadCount", "limit", "page"?, "nextCursor"}`; the unread
//! count (unread, not dismissed, not archived) is also `GET …/unread-count` alone. Unknown
//! parameters and values are refused with 400, naming them; another user's entry is 404.

pub mod follow;
pub mod hub;

use crate::EngineError;
use herald_core::Invalid;
use herald_core::clock::Clock;
use herald_core::document::format_timestamp;
use herald_core::inbox::Priority;
use herald_core::notification::MessageStatus;
use herald_store::{InboxAction, InboxEntry, InboxQuery, Store};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The in-app provider's name, as its messages record it in `service`; their provider id is
/// the message's idempotency key (`<notification id>.<index>`).
const IN_APP_SERVICE: &str = "in_app";

/// Most entries one list answer holds.
pub const MAX_LIMIT: u32 = 100;
/// Entries a list answer holds when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 20;

/// Users' notification centers.
#[derive(Clone)]
pub struct Inbox {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hub: hub::Hub,
}

impl Inbox {
    /// The notification centers over `store`, with real-time connections served by `hub`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, hub: hub::Hub) -> Self {
        Self { store, clock, hub }
    }

    /// The user's entries a list request's query parameters select (see the module docs).
    pub async fn list(&self, tenant: &str, user_id: &str, parameters: &BTreeMap<String, String>) -> Result<Value, EngineError> {
        let (query, page) = self.parse(tenant, user_id, parameters).await?;
        let (entries, total) = self.store.list_inbox(tenant, &query).await?;
        let unread = self.store.count_unread_inbox(tenant, user_id).await?;
        let next = (entries.len() == query.limit as usize).then(|| entries.last().map(|e| e.number.to_string())).flatten();
        let mut answer = json!({"notifications": entries.iter().map(entry_json).collect::<Vec<_>>(), "total": total,
            "unreadCount": unread, "limit": query.limit, "nextCursor": next});
        if let Some(page) = page {
            answer["page"] = Value::from(page);
        }
        Ok(answer)
    }

    /// How many of the user's entries are unread: `{"unreadCount": n}`.
    pub async fn unread_count(&self, tenant: &str, user_id: &str) -> Result<Value, EngineError> {
        Ok(json!({"unreadCount": self.store.count_unread_inbox(tenant, user_id).await?}))
    }

    /// Applies `action` to the user's entry `id`; the entry as it is now. 404 when the user has
    /// no such entry; applying an action twice changes nothing the second time. An entry read
    /// (or dismissed, which reads it) moves its in-app message to `read` in the notification
    /// and the message log.
    pub async fn act(&self, tenant: &str, user_id: &str, id: &str, action: InboxAction) -> Result<Value, EngineError> {
        let at = self.clock.now();
        let changed = self.store.change_inbox_entry(tenant, user_id, id, action, at).await?;
        let (entry, changed) = changed.ok_or(EngineError::NotFound("notification"))?;
        if changed && matches!(action, InboxAction::Read | InboxAction::Dismiss) {
            self.report_read(tenant, &entry.notification_id, entry.message_index, at).await?;
        }
        Ok(entry_json(&entry))
    }

    /// Marks every unread entry of the user read, and their in-app messages: `{"updated": n}`.
    pub async fn read_all(&self, tenant: &str, user_id: &str) -> Result<Value, EngineError> {
        let at = self.clock.now();
        let read = self.store.read_all_inbox(tenant, user_id, at).await?;
        for (notification_id, index) in &read {
            self.report_read(tenant, notification_id, *index, at).await?;
        }
        Ok(json!({"updated": read.len()}))
    }

    /// Moves the in-app message behind an entry to `read` (a message already read, or not
    /// `SUCCESS`/`delivered`, is left as it is).
    async fn report_read(&self, tenant: &str, notification_id: &str, index: usize, at: jiff::Timestamp) -> Result<(), EngineError> {
        let message_id = format!("{notification_id}.{index}");
        crate::callbacks::apply_in_tenant(&self.store, tenant, IN_APP_SERVICE, &message_id, MessageStatus::Read, None, at).await?;
        Ok(())
    }

    /// Follows the user's inbox from change sequence `after` (0: from the beginning).
    pub fn follow(&self, tenant: &str, user_id: &str, after: i64) -> follow::Follower {
        follow::Follower::new(self.store.clone(), self.hub.subscribe(tenant, user_id), tenant, user_id, after)
    }

    /// The user's current change sequence: a connection that wants only what happens from
    /// now on follows from it.
    pub async fn latest_seq(&self, tenant: &str, user_id: &str) -> Result<i64, EngineError> {
        Ok(self.store.inbox_seq(tenant, user_id).await?)
    }

    async fn parse(
        &self,
        tenant: &str,
        user_id: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<(InboxQuery, Option<u64>), EngineError> {
        let mut query = InboxQuery { user_id: user_id.to_string(), limit: DEFAULT_LIMIT, ..InboxQuery::default() };
        let mut page = None;
        let flag = |name: &'static str, value: &str| match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Invalid::new(name, "must be true or false")),
        };
        let list = |value: &str| value.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_string).collect::<Vec<_>>();
        for (name, value) in parameters {
            match name.as_str() {
                "limit" => {
                    query.limit = value
                        .parse()
                        .ok()
                        .filter(|l| (1..=MAX_LIMIT).contains(l))
                        .ok_or_else(|| Invalid::new("limit", format!("must be a whole number from 1 to {MAX_LIMIT}")))?;
                }
                "page" => {
                    page = Some(
                        value
                            .parse::<u64>()
                            .ok()
                            .filter(|p| *p >= 1)
                            .ok_or_else(|| Invalid::new("page", "must be a whole number from 1"))?,
                    )
                }
                "cursor" => {
                    query.before =
                        Some(value.parse().ok().filter(|c| *c > 0).ok_or_else(|| Invalid::new("cursor", "is not a cursor this API gave"))?)
                }
                "unread" => query.unread = Some(flag("unread", value)?),
                "archived" => query.archived = flag("archived", value)?,
                "priority" => {
                    query.priorities = list(value);
                    if let Some(unknown) = query.priorities.iter().find(|p| Priority::parse(p).is_none()) {
                        return Err(Invalid::new("priority", format!("{unknown} is not one of low, medium, high, urgent")).into());
                    }
                }
                "type" => query.types = list(value),
                other => {
                    return Err(Invalid::new(
                        other,
                        "is not a filter of this list (unread, type, priority, archived, cursor, page, limit)",
                    )
                    .into());
                }
            }
        }
        if page.is_some() && query.before.is_some() {
            return Err(Invalid::new("page", "use either cursor or page, not both").into());
        }
        if !query.types.is_empty() {
            let clinic = self.store.find_clinic_settings(tenant).await?.unwrap_or_default();
            if let Some(unknown) = query.types.iter().find(|t| !clinic.knows(t)) {
                return Err(Invalid::new("type", format!("{unknown} is not a known notification type")).into());
            }
        }
        if let Some(page) = page {
            query.offset = (page - 1).saturating_mul(u64::from(query.limit));
        }
        Ok((query, page))
    }
}

/// An entry as the API and the real-time streams show it.
pub fn entry_json(entry: &InboxEntry) -> Value {
    let time = |t: Option<jiff::Timestamp>| t.map(format_timestamp);
    json!({
        "id": entry.id,
        "type": entry.notification_type,
        "priority": entry.priority,
        "title": entry.title,
        "message": entry.body,
        "data": entry.data,
        "read": entry.read_at.is_some(),
        "dismissed": entry.dismissed_at.is_some(),
        "archived": entry.archived_at.is_some(),
        "createdAt": format_timestamp(entry.created_at),
        "updatedAt": format_timestamp(entry.updated_at),
        "readAt": time(entry.read_at),
        "dismissedAt": time(entry.dismissed_at),
        "archivedAt": time(entry.archived_at),
        "notificationId": entry.notification_id,
        "seq": entry.seq,
    })
}
