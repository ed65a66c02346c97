//! The in-process hub that wakes a user's real-time connections when their inbox changes.
//!
//! It says "look again": each user with open connections has a `tokio::sync::watch` channel
//! (one slot, so a burst of changes becomes one wake-up and nothing can pile up), in a map
//! split into shards so connections of different users rarely contend. The hub is fed by the
//! store's inbox signals — this process's changes as they commit and, on PostgreSQL, every
//! instance's (`LISTEN/NOTIFY`, see `herald-store`) — and each connection then reads what it
//! has not seen from the database by change sequence (see [`super::follow`]). The slot also
//! holds the entries the latest signal created, when this process committed them: a
//! connection whose next change they are sends them without the read. So a slow or dead
//! client never holds up the hub or other clients, and a connection that misses wake-ups
//! loses nothing. When the hub itself falls behind the store's signals it wakes every
//! connection.

use herald_store::{InboxEntry, InboxSignal, Store};
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// How many parts the map of watched users is split into.
const SHARDS: usize = 32;

type Key = (String, String);
type Shard = Mutex<HashMap<Key, watch::Sender<Wake>>>;

/// A user's latest wake-up: the entries its signal created, if it brought any.
#[derive(Default)]
struct Wake {
    created: Vec<InboxEntry>,
}

/// Wakes users' connections when their inbox changes.
#[derive(Clone)]
pub struct Hub {
    shards: Arc<Vec<Shard>>,
}

impl Hub {
    /// A hub fed by `store`'s inbox signals until `shutdown` is cancelled.
    pub fn start(store: &Arc<dyn Store>, shutdown: CancellationToken) -> Self {
        let hub = Self { shards: Arc::new((0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect()) };
        let mut signals = store.inbox_signals();
        let fed = hub.clone();
        tokio::spawn(async move {
            loop {
                let signal = tokio::select! {
                    signal = signals.recv() => signal,
                    () = shutdown.cancelled() => return,
                };
                match signal {
                    Ok(signal) if signal.tenant.is_empty() => fed.wake_all(),
                    Ok(signal) => fed.wake(signal),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "the inbox hub fell behind; waking every connection");
                        fed.wake_all();
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        hub
    }

    /// A subscription to the user's inbox changes.
    pub fn subscribe(&self, tenant: &str, user_id: &str) -> Subscription {
        let key = (tenant.to_string(), user_id.to_string());
        let receiver = {
            let mut shard = self.shard(&key).lock().expect("the hub's lock is never poisoned");
            shard.entry(key.clone()).or_insert_with(|| watch::channel(Wake::default()).0).subscribe()
        };
        Subscription { hub: self.clone(), key, receiver }
    }

    /// How many users have open connections.
    pub fn watched_users(&self) -> usize {
        self.shards.iter().map(|shard| shard.lock().expect("the hub's lock is never poisoned").len()).sum()
    }

    fn shard(&self, key: &Key) -> &Shard {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        &self.shards[(hasher.finish() as usize) % SHARDS]
    }

    fn wake(&self, signal: InboxSignal) {
        let key = (signal.tenant, signal.user_id);
        if let Some(sender) = self.shard(&key).lock().expect("the hub's lock is never poisoned").get(&key) {
            sender.send_replace(Wake { created: signal.created });
        }
    }

    fn wake_all(&self) {
        for shard in self.shards.iter() {
            for sender in shard.lock().expect("the hub's lock is never poisoned").values() {
                sender.send_replace(Wake::default());
            }
        }
    }
}

/// One connection's wake-ups for one user; the user leaves the hub's map with their last
/// subscription.
pub struct Subscription {
    hub: Hub,
    key: Key,
    receiver: watch::Receiver<Wake>,
}

impl Subscription {
    /// Notes that every change signalled so far is being looked at.
    pub fn mark_seen(&mut self) {
        self.receiver.mark_unchanged();
    }

    /// Notes that every change signalled so far is being looked at, and returns the entries
    /// the latest signal created (empty when it brought none).
    pub fn take_created(&mut self) -> Vec<InboxEntry> {
        self.receiver.borrow_and_update().created.clone()
    }

    /// Waits for the next change signalled after [`Self::mark_seen`].
    pub async fn changed(&mut self) {
        if self.receiver.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut shard = self.hub.shard(&self.key).lock().expect("the hub's lock is never poisoned");
        if shard.get(&self.key).is_some_and(|sender| sender.receiver_count() <= 1) {
            shard.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Hub {
        Hub { shards: Arc::new((0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect()) }
    }

    fn signal(user: &str) -> InboxSignal {
        InboxSignal::changed("t", user)
    }

    #[tokio::test]
    async fn wakes_only_the_users_connections_and_forgets_closed_ones() {
        let hub = hub();
        let (mut first, mut second, mut other) = (hub.subscribe("t", "a"), hub.subscribe("t", "a"), hub.subscribe("t", "b"));
        for subscription in [&mut first, &mut second, &mut other] {
            subscription.mark_seen();
        }
        hub.wake(signal("a"));
        hub.wake(signal("a"));
        let woken = |s: &Subscription| s.receiver.has_changed().unwrap();
        assert_eq!((woken(&first), woken(&second), woken(&other)), (true, true, false), "only the user's connections wake");
        first.changed().await;
        first.mark_seen();
        assert!(!woken(&first), "two changes before a look are one wake-up");
        assert_eq!(hub.watched_users(), 2);
        drop((first, second));
        assert_eq!(hub.watched_users(), 1, "a user without connections leaves the map");
        hub.wake_all();
        assert!(woken(&other));
    }
}
