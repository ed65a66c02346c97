//! The parts of a batch's delivery steps that the writer puts off to the end of the batch and
//! writes together: the messages set in their notifications, as one update; message-log rows,
//! as one multi-row upsert; jobs that ended well, as one update; and notification-center
//! entries, with one change-counter update per user. A batch of deliveries then
//! costs a handful of statements instead of three per delivery — and on SQLite every statement
//! is a round trip to the connection's thread, which two busy cores make slow.

use super::message_log::upserts;
use super::{Bind, Dialect, LogRow, Sql, chunked_statements};
use crate::InboxEntry;
use serde_json::Value;
use std::collections::HashSet;

/// Messages or jobs per statement (five binds at most each).
const ROWS_PER_STATEMENT: usize = 256;

/// A message to set in its notification.
pub(crate) struct MessageSet {
    pub(crate) tenant: String,
    pub(crate) notification_id: String,
    /// The message's index in the notification's `messages`.
    pub(crate) index: usize,
    pub(crate) message: Value,
    /// The notification's new `updated_ms`.
    pub(crate) at_ms: i64,
}

/// What a batch's delivery steps left to write.
#[derive(Default)]
pub(crate) struct DeferredWrites {
    message_sets: Vec<MessageSet>,
    /// `(tenant, notification id)` of the notifications in `message_sets`.
    notifications: HashSet<(String, String)>,
    /// Log rows, as their binds.
    log_rows: Vec<Vec<Bind>>,
    /// `(tenant, notification id, index)` of the messages in `log_rows`.
    log_keys: HashSet<(String, String, usize)>,
    /// `(tenant, job id)` of running jobs that are done.
    done_jobs: Vec<(String, String)>,
    /// `(tenant, entry)` of notification-center entries to add.
    inbox: Vec<(String, InboxEntry)>,
    /// `(tenant, entry)` of the entries written so far, numbered, to signal after the commit.
    created: Vec<(String, InboxEntry)>,
}

impl DeferredWrites {
    /// Whether a change to the same notification as `set` is already waiting (two must not
    /// share an update: write the waiting ones first).
    pub(crate) fn holds_notification(&self, tenant: &str, notification_id: &str) -> bool {
        self.notifications.contains(&(tenant.to_string(), notification_id.to_string()))
    }

    /// Puts off setting a message in its notification.
    pub(crate) fn set_message(&mut self, set: MessageSet) {
        self.notifications.insert((set.tenant.clone(), set.notification_id.clone()));
        self.message_sets.push(set);
    }

    /// Whether a row for the same message as `row` is already waiting (the two must not share
    /// an upsert: write the waiting ones first).
    pub(crate) fn holds_log_row(&self, row: &LogRow<'_>) -> bool {
        self.log_keys.contains(&(row.tenant.to_string(), row.notification_id.to_string(), row.index))
    }

    /// Puts off writing `row`.
    pub(crate) fn log_row(&mut self, row: &LogRow<'_>) {
        self.log_keys.insert((row.tenant.to_string(), row.notification_id.to_string(), row.index));
        self.log_rows.push(row.binds());
    }

    /// Puts off settling a running job as done.
    pub(crate) fn job_done(&mut self, tenant: &str, job_id: &str) {
        self.done_jobs.push((tenant.to_string(), job_id.to_string()));
    }

    /// Puts off adding a notification-center entry.
    pub(crate) fn add_to_inbox(&mut self, tenant: &str, entry: InboxEntry) {
        self.inbox.push((tenant.to_string(), entry));
    }

    /// The notification-center entries put off, which are then forgotten (they are written
    /// after [`Self::take_statements`]'s statements).
    pub(crate) fn take_inbox(&mut self) -> Vec<(String, InboxEntry)> {
        std::mem::take(&mut self.inbox)
    }

    /// Notes entries written, to signal once they are committed.
    pub(crate) fn created(&mut self, entries: Vec<(String, InboxEntry)>) {
        self.created.extend(entries);
    }

    /// The entries written by the batch, for their signals.
    pub(crate) fn take_created(&mut self) -> Vec<(String, InboxEntry)> {
        std::mem::take(&mut self.created)
    }

    /// The statements writing everything put off but the inbox entries, which is then
    /// forgotten.
    pub(crate) fn take_statements<D: Dialect>(&mut self) -> Vec<Sql> {
        self.notifications.clear();
        self.log_keys.clear();
        let mut statements = chunked_statements(std::mem::take(&mut self.message_sets), ROWS_PER_STATEMENT, |sets| D::set_messages(sets));
        statements.extend(upserts(std::mem::take(&mut self.log_rows)));
        statements.extend(chunked_statements(std::mem::take(&mut self.done_jobs), ROWS_PER_STATEMENT, |jobs| {
            let mut sql =
                Sql::new("UPDATE jobs SET status = 'done', lease_ms = NULL WHERE status = 'running' AND (tenant_id, id) IN (VALUES ");
            sql.push_rows(jobs.map(|(tenant, id)| vec![Bind::Text(tenant), Bind::Text(id)]));
            sql.push(")");
            sql
        }));
        statements
    }
}
