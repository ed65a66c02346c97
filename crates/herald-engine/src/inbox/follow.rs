//! One real-time connection's view of a user's inbox: it remembers the last change sequence
//! it handed out and, each time the hub wakes it (or every [`RECHECK`], in case a wake-up was
//! lost between instances), reads the changes after it from the database. Whatever a client
//! missed — while disconnected, or while it was too slow to take them — is therefore read
//! again, in order, and never dropped.

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
}

impl Follower {
    /// Follows the subscription's user from change sequence `after`.
    pub(super) fn new(store: Arc<dyn Store>, subscription: Subscription, tenant: &str, user_id: &str, after: i64) -> Self {
        Self { store, subscription, tenant: tenant.to_string(), user_id: user_id.to_string(), after }
    }

    /// The next changes, in sequence order (each entry as it is now), waiting until there are
    /// some.
    pub async fn next(&mut self) -> Result<Vec<InboxEntry>, EngineError> {
        loop {
            self.subscription.mark_seen();
            let batch = self.store.inbox_since(&self.tenant, &self.user_id, self.after, BATCH).await?;
            if let Some(last) = batch.last() {
                self.after = last.seq;
                return Ok(batch);
            }
            tokio::select! {
                () = self.subscription.changed() => {}
                () = tokio::time::sleep(RECHECK) => {}
            }
        }
    }

    /// The last change sequence handed out.
    pub fn position(&self) -> i64 {
        self.after
    }
}
