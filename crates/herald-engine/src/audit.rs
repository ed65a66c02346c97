//! The audit trail: every change to a tenant's configuration (settings, templates,
//! preferences, providers, keys, its profile) and every urgent quiet-hours bypass is appended
//! here — who, when, what changed, from where. Nothing in Herald updates or deletes an entry;
//! the API only lists them, to the tenant's admins.
//!
//! `changes` holds the new values as the request gave them; callers leave secrets out (a
//! provider's password is recorded as `"set"`, never its value).

use crate::EngineError;
use herald_core::clock::Clock;
use herald_core::id::new_document_id;
use herald_store::{AuditQuery, AuditRecord, Store};
use serde_json::Value;
use std::sync::Arc;

/// Most entries one page of the trail holds.
pub const MAX_PAGE: u32 = 500;

/// One change to record.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    /// The tenant it happened in.
    pub tenant: String,
    /// Who did it (`apikey:<id>`, `user:<id>`, `cli`, `system`).
    pub actor: String,
    /// What was done, `<resource>.<verb>` (`templates.update`, `quiet_hours.bypass`).
    pub action: String,
    /// What it was done to (`templates/<id>`, `tenant`, `users/<id>`).
    pub target: String,
    /// What changed (never secrets).
    pub changes: Value,
    /// Where the request came from, when it came over HTTP.
    pub source: Option<String>,
}

/// Appends `entry` to its tenant's trail, stamped with the clock's time.
pub async fn record(store: &Arc<dyn Store>, clock: &Arc<dyn Clock>, entry: AuditEntry) -> Result<(), EngineError> {
    let at = clock.now();
    let record = AuditRecord {
        seq: 0,
        id: new_document_id(at),
        tenant: entry.tenant,
        at,
        actor: entry.actor,
        action: entry.action,
        target: entry.target,
        changes: entry.changes,
        source: entry.source,
    };
    Ok(store.append_audit(&record).await?)
}

/// A page of the tenant's trail, newest first (`limit` capped at [`MAX_PAGE`]).
pub async fn list(store: &Arc<dyn Store>, tenant: &str, mut query: AuditQuery) -> Result<Vec<AuditRecord>, EngineError> {
    query.limit = query.limit.clamp(1, MAX_PAGE);
    Ok(store.list_audit(tenant, &query).await?)
}
