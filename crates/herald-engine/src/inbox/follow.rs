//! One real-time connection's view of a user's inbox: it remembers the last change sequence
//! it handed out and, each time the hub wakes it (or every [`RECHECK`], in case a wake-up was
//! lost between instances), reads the changes after it from the database — unless the
//! wake-up brought the entries that come next (this process just delivered them), which it
//! hands out as they are. Whatever a client missed — while disconnected, or while it was too
//! slow to take them — is therefore read again, in order, and never dropped.

use super::hub::Subscription;
use crate::EngineError;
use herald_store::{InboxEntry, Store};
use std::sync::Arc;
use std::time::Duration;

/// Most changes read at once.
pub const BATCH: u32 = 200;
/// How often a connection looks for changes even without a wake-up.
pub const RECHECK: Duration = Duration::from_secs(30);

/// Follows one user's inbox changes.
pub struct Follower {
    store: Arc<dyn Store>,
    subscription: Subscription,
    tenant: String,
    user_id: String,
    after: i64,
    /// Whether the last read found everything there was (the next waits for a wake-up first).
    caught_up: bool,
}

impl Follower {
    /// Follows the subscription's user from change sequence `after`.
    pub(super) fn new(store: Arc<dyn Store>, subscription: Subscription, tenant: &str, user_id: &str, after: i64) -> Self {
        Self { store, subscription, tenant: tenant.to_string(), user_id: user_id.to_string(), after, caught_up: false }
    }

    /// The next changes, in sequence order (each entry as it is now), waiting until there are
    /// some.
    /// A read that finds less than a full batch has seen everything committed before it began,
    /// and wake-ups were marked seen just before it, so the next call waits for a wake-up
    /// before reading again: one read per change, not two.
    pub async fn next(&mut self) -> Result<Vec<InboxEntry>, EngineError> {
        loop {
            if self.caught_up {
                tokio::select! {
                    () = self.subscription.changed() => {}
                    () = tokio::time::sleep(RECHECK) => {}
                }
                // Woken: if this call is cancelled from here on (a WebSocket's other branch
                // won), the next one reads at once.
                self.caught_up = false;
                let created = self.subscription.take_created();
                if follows(self.after, &created) {
                    self.after = created.last().map_or(self.after, |entry| entry.seq);
                    self.caught_up = true;
                    return Ok(created);
                }
            }
            self.subscription.mark_seen();
            let batch = self.store.inbox_since(&self.tenant, &self.user_id, self.after, BATCH).await?;
            self.caught_up = batch.len() < BATCH as usize;
            if let Some(last) = batch.last() {
                self.after = last.seq;
                return Ok(batch);
            }
        }
    }

    /// The last change sequence handed out.
    pub fn position(&self) -> i64 {
        self.after
    }
}

/// Whether `created` are exactly the changes after `after`: consecutive sequence numbers from
/// the next one on.
fn follows(after: i64, created: &[InboxEntry]) -> bool {
    !created.is_empty() && created.iter().zip(after + 1..).all(|(entry, seq)| entry.seq == seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64) -> InboxEntry {
        let at = jiff::Timestamp::UNIX_EPOCH;
        InboxEntry {
            id: format!("entry-{seq}"),
            user_id: "u1".into(),
            number: seq,
            seq,
            notification_id: "n".into(),
            message_index: 0,
            notification_type: None,
            priority: "medium".into(),
            title: None,
            body: String::new(),
            data: serde_json::Value::Null,
            created_at: at,
            updated_at: at,
            read_at: None,
            dismissed_at: None,
            archived_at: None,
        }
    }

    #[test]
    fn signalled_entries_are_handed_out_only_when_they_are_the_next_changes() {
        assert!(follows(4, &[entry(5), entry(6)]), "the next two changes");
        assert!(!follows(4, &[entry(6)]), "change 5 was missed: read it");
        assert!(!follows(4, &[entry(5), entry(7)]), "a gap (an entry not written twice): read");
        assert!(!follows(6, &[entry(5), entry(6)]), "already handed out");
        assert!(!follows(4, &[]), "a wake-up without entries: read");
    }
}
