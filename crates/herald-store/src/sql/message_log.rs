//! The message log's rows, built the same way for both backends: one row per message of a
//! notification, keyed by (tenant, notification, index), written in the same transaction as
//! the notification itself — when the event commits and at each step of its delivery — so
//! the log never disagrees with the notification records. Provider callbacks find their
//! message through it by `(service, provider message id)`.

use super::{Bind, Sql, chunked_statements};
use crate::records::{LogDetails, MessageLogQuery};
use crate::sql::store::millis;
use jiff::Timestamp;
use serde_json::{Map, Value};

/// The columns a row is written with, in order.
const COLUMNS: &str = "tenant_id, notification_id, message_index, channel, template_name, recipient, address, subject, event_id, event_name, \
     status, reason, error, service, provider_message_id, triggered_by, created_ms, updated_ms, sent_ms";

/// What changes when a row is written again: everything delivery changes, keeping an address
/// and subject recorded earlier when this write has none.
const ON_CONFLICT: &str = " ON CONFLICT (tenant_id, notification_id, message_index) DO UPDATE SET status = excluded.status, \
     reason = excluded.reason, error = excluded.error, service = excluded.service, provider_message_id = excluded.provider_message_id, \
     address = COALESCE(excluded.address, message_log.address), subject = COALESCE(excluded.subject, message_log.subject), \
     sent_ms = COALESCE(excluded.sent_ms, message_log.sent_ms), updated_ms = excluded.updated_ms";

/// One message as the log records it.
pub(crate) struct LogRow<'a> {
    pub(crate) tenant: &'a str,
    pub(crate) notification_id: &'a str,
    pub(crate) index: usize,
    pub(crate) notification: &'a Map<String, Value>,
    pub(crate) message: &'a Value,
    pub(crate) details: Option<&'a LogDetails>,
    pub(crate) triggered_by: &'a str,
    pub(crate) created: Timestamp,
    pub(crate) at: Timestamp,
}

impl LogRow<'_> {
    /// The row's values, in [`COLUMNS`] order.
    pub(crate) fn binds(&self) -> Vec<Bind> {
        let text = |value: Option<&Value>| value.and_then(Value::as_str).map_or(Bind::Null, |s| Bind::Text(s.to_string()));
        let message = |field: &str| text(self.message.get(field));
        let event = |field: &str| text(self.notification.get("event").and_then(|e| e.get(field)));
        let sent = self.message.get("history").and_then(Value::as_array).and_then(|history| {
            history
                .iter()
                .find(|change| change["status"] == "SUCCESS")
                .and_then(|change| change["at"].as_str())
                .and_then(|at| at.parse::<Timestamp>().ok())
        });
        vec![
            Bind::Text(self.tenant.to_string()),
            Bind::Text(self.notification_id.to_string()),
            Bind::Int(self.index as i64),
            message("channel"),
            message("templateName"),
            text(self.notification.get("recipient")),
            self.details.and_then(|d| d.address.clone()).map_or(Bind::Null, Bind::Text),
            self.details.and_then(|d| d.subject.clone()).map_or(Bind::Null, Bind::Text),
            event("id"),
            event("name"),
            message("status"),
            message("reason"),
            message("error"),
            message("service"),
            message("providerMessageId"),
            Bind::Text(self.triggered_by.to_string()),
            Bind::Int(millis(self.created)),
            Bind::Int(millis(self.at)),
            Bind::MaybeInt(sent.map(millis)),
        ]
    }
}

/// Most rows per upsert (19 binds each, well under either backend's limit of 32,766 or
/// 65,535 binds).
const ROWS_PER_STATEMENT: usize = 256;

/// The upserts of rows given as their [`LogRow::binds`] (none when there are none); no two may
/// share a key (PostgreSQL refuses to update a row twice in one statement).
pub(crate) fn upserts(rows: Vec<Vec<Bind>>) -> Vec<Sql> {
    chunked_statements(rows, ROWS_PER_STATEMENT, |chunk| {
        let mut sql = Sql::new(&format!("INSERT INTO message_log ({COLUMNS}) VALUES "));
        sql.push_rows(chunk);
        sql.push(ON_CONFLICT);
        sql
    })
}

/// The rows of every message of a notification document.
pub(crate) fn rows_of<'a>(
    tenant: &'a str,
    notification_id: &'a str,
    notification: &'a Map<String, Value>,
    triggered_by: &'a str,
    created: Timestamp,
    at: Timestamp,
) -> Vec<LogRow<'a>> {
    let messages = notification.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    messages
        .iter()
        .enumerate()
        .map(|(index, message)| LogRow { tenant, notification_id, index, notification, message, details: None, triggered_by, created, at })
        .collect()
}

/// Appends ` FROM message_log WHERE …` selecting what `selection` asks of `tenant`'s log.
pub(crate) fn push_filter(sql: &mut Sql, tenant: &str, selection: &MessageLogQuery) {
    sql.push(" FROM message_log WHERE tenant_id = ").bind(Bind::Text(tenant.to_string()));
    if !selection.statuses.is_empty() {
        sql.push(" AND status IN ");
        sql.push_rows([selection.statuses.iter().cloned().map(Bind::Text).collect()]);
    }
    let columns = [
        ("recipient", &selection.recipient),
        ("channel", &selection.channel),
        ("template_name", &selection.template_name),
        ("event_name", &selection.event_name),
    ];
    for (column, value) in columns {
        if let Some(value) = value {
            sql.push(&format!(" AND {column} = ")).bind(Bind::Text(value.clone()));
        }
    }
    if let Some(since) = selection.since {
        sql.push(" AND created_ms >= ").bind(Bind::Int(millis(since)));
    }
    if let Some(until) = selection.until {
        sql.push(" AND created_ms < ").bind(Bind::Int(millis(until)));
    }
}
