//! One configuration cache per SQLite file in the process: every store opened on the same file
//! (a second server in the tests, say) reads and invalidates the same cache, so a change made
//! through any of them applies at once to all.
//!
//! Another process can still change the file: the `herald` CLI revoking a key or creating a
//! tenant while the server runs. Nothing tells the server's cache, so its answers are kept
//! for at most [`MAX_AGE`]: such a change applies within that time, and a revoked key stops
//! working within it. At thousands of events a second a read per tenant per [`MAX_AGE`] costs
//! nothing that shows.

use crate::cache::ConfigCache;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, Weak};

/// How long an answer is kept, for changes made by other processes.
pub(crate) const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(2);

/// The caches of the files opened in this process, by canonical path, while a store uses them.
static CACHES: LazyLock<Mutex<HashMap<PathBuf, Weak<ConfigCache>>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The cache of the database file at `path` (which exists): the one the process's other
/// stores on that file use, or a new one. A path that cannot be resolved gets a cache of its
/// own.
pub(crate) fn for_file(path: &std::path::Path) -> Arc<ConfigCache> {
    let Ok(path) = path.canonicalize() else { return Arc::new(ConfigCache::new(true, Some(MAX_AGE))) };
    let mut caches = CACHES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    caches.retain(|_, cache| cache.strong_count() > 0);
    if let Some(cache) = caches.get(&path).and_then(Weak::upgrade) {
        return cache;
    }
    let cache = Arc::new(ConfigCache::new(true, Some(MAX_AGE)));
    caches.insert(path, Arc::downgrade(&cache));
    cache
}
