//! The message log (seed 05's EmailLog, for every channel): one entry per message, with its
//! recipient, address, template, subject, status, provider and provider id, error, the event
//! and the caller that triggered it, and when it was created and sent. Statuses are shown in
//! seed 05's words: `pending` (queued or being sent), `sent`, `failed`, `skipped`, and the
//! provider-reported `delivered`, `read`, `bounced`, `complained`.
//!
//! Contact details are for admins: everyone else sees addresses masked
//! (`a***@example.org`, `*********5678`).

use crate::EngineError;
use herald_core::Invalid;
use herald_core::document::format_timestamp;
use herald_core::notification::MessageStatus;
use herald_store::{MessageLogEntry, MessageLogQuery, Store};
use serde_json::{Value, json};
use std::sync::Arc;

/// Most entries one page holds.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Seed 05's status words and the stored statuses each covers.
const STATUSES: [(&str, &[MessageStatus]); 8] = [
    ("pending", &[MessageStatus::Queued, MessageStatus::Sending]),
    ("sent", &[MessageStatus::Sent]),
    ("failed", &[MessageStatus::Failed]),
    ("skipped", &[MessageStatus::Skipped]),
    ("delivered", &[MessageStatus::Delivered]),
    ("read", &[MessageStatus::Read]),
    ("bounced", &[MessageStatus::Bounced]),
    ("complained", &[MessageStatus::Complained]),
];

/// The stored statuses a seed-05 status word selects.
pub fn stored_statuses(word: &str) -> Result<Vec<String>, Invalid> {
    STATUSES
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, statuses)| statuses.iter().map(|s| s.as_str().to_string()).collect())
        .ok_or_else(|| {
            let names: Vec<&str> = STATUSES.iter().map(|(name, _)| *name).collect();
            Invalid::new("status", format!("must be one of {}", names.join(", ")))
        })
}

/// The seed-05 word for a stored status.
fn status_word(stored: &str) -> &'static str {
    STATUSES.iter().find(|(_, statuses)| statuses.iter().any(|s| s.as_str() == stored)).map_or("pending", |(name, _)| name)
}

/// A page of the tenant's log and the number of matching entries, newest first.
pub async fn list(store: &Arc<dyn Store>, tenant: &str, mut query: MessageLogQuery) -> Result<(Vec<MessageLogEntry>, u64), EngineError> {
    query.limit = query.limit.clamp(1, MAX_PAGE_SIZE);
    Ok(store.list_message_log(tenant, &query).await?)
}

/// An entry as the API shows it, with its address masked unless `reveal_contacts`.
pub fn entry_json(entry: &MessageLogEntry, reveal_contacts: bool) -> Value {
    let address = entry.address.as_deref().map(|a| if reveal_contacts { a.to_string() } else { mask(a) });
    json!({
        "id": format!("{}.{}", entry.notification_id, entry.message_index),
        "notification_id": entry.notification_id,
        "channel": entry.channel,
        "recipient": address,
        "patient_id": entry.recipient,
        "template_key": entry.template_name,
        "subject": entry.subject,
        "status": status_word(&entry.status),
        "reason": entry.reason,
        "provider": entry.service,
        "provider_message_id": entry.provider_message_id,
        "error_message": entry.error,
        "triggered_by_event": entry.event_name,
        "event_id": entry.event_id,
        "triggered_by_user_id": entry.triggered_by,
        "created_at": format_timestamp(entry.created_at),
        "updated_at": format_timestamp(entry.updated_at),
        "sent_at": entry.sent_at.map(format_timestamp),
    })
}

/// An address with all but a hint hidden: the first character of an email's local part, the
/// last four digits of a number; anything else (`2 device(s)`) is no contact and stays.
pub fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None if address.starts_with('+') || address.chars().all(|c| c.is_ascii_digit()) => {
            let count = address.chars().count();
            address.chars().enumerate().map(|(i, c)| if i + 4 < count && c.is_ascii_digit() { '*' } else { c }).collect()
        }
        None => address.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_masked() {
        assert_eq!(mask("ada.rossi@example.org"), "a***@example.org");
        assert_eq!(mask("+390612345678"), "+********5678");
        assert_eq!(mask("2 device(s)"), "2 device(s)");
    }

    #[test]
    fn status_words_cover_every_stored_status() {
        assert_eq!(stored_statuses("pending").unwrap(), ["queued", "sending"]);
        assert_eq!(status_word("SUCCESS"), "sent");
        assert_eq!(status_word("FAILURE"), "failed");
        assert!(stored_statuses("lost").is_err());
    }
}
