//! The memory behind [`super::CachedStore`]: remembered answers, each tagged with the tenant
//! whose changes drop it, and the bookkeeping that keeps a read from remembering an answer
//! that a change made stale while it was being read.
//!
//! **Tickets.** A read takes a [`Ticket`] (the value of a counter) before it asks the
//! database. Every invalidation advances the counter and notes its value for the tenant (or,
//! for [`ConfigCache::clear`], for everyone). An answer is remembered only when nothing it
//! depends on was invalidated after its ticket was taken, so a read that overlapped a change
//! can never put its possibly stale answer back after the change dropped the old one. The
//! counter is global rather than per tenant because an API key's tenant is known only once
//! the key has been read.
//!
//! **Age.** A cache may also be given a most age for answers (counted from when their read
//! started), for databases that another process can change without telling this one.
//!
//! **Bound.** At most [`MAX_WEIGHT`] units are kept: an answer weighs one unit plus one per
//! document it holds. When remembering an answer would go over, everything is dropped (the
//! configuration of the tenants in use is read again at once), which keeps the bookkeeping
//! trivial; an answer heavier than the bound alone is never kept.

use crate::{ApiKeyRecord, TenantRecord};
use herald_core::document::Document;
use herald_core::query::ListQuery;
use herald_core::resources::Collection;
use herald_core::rules::preferences::ClinicSettings;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The most units the cache holds (one per answer plus one per document in it).
pub(crate) const MAX_WEIGHT: usize = 50_000;

/// What a remembered answer answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// `find_tenant(slug)`.
    Tenant(String),
    /// `find_api_key(key_hash)`.
    ApiKeyHash(String),
    /// `find_clinic_settings(tenant)`.
    ClinicSettings(String),
    /// `find_documents(collection, tenant, query)`, the query spelled by its `Debug` form. Two
    /// queries with one spelling are also compared whole ([`Answer::Documents`] keeps the
    /// query) before an answer is served, so the spelling only needs to tell most queries apart.
    Documents(Collection, String, String),
}

/// A remembered answer.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A tenant, or that there is none with the slug.
    Tenant(Option<TenantRecord>),
    /// An API key (misses are not remembered; see [`super`]).
    ApiKey(ApiKeyRecord),
    /// A clinic's settings, or that it has none.
    ClinicSettings(Option<ClinicSettings>),
    /// The documents a query selected, with the query itself.
    Documents(ListQuery, Vec<Document>),
}

impl Answer {
    /// What keeping this answer costs against [`MAX_WEIGHT`].
    fn weight(&self) -> usize {
        match self {
            Answer::Documents(_, documents) => 1 + documents.len(),
            Answer::Tenant(_) | Answer::ApiKey(_) | Answer::ClinicSettings(_) => 1,
        }
    }
}

/// Permission to remember the answer of a read that started when it was taken: the clock
/// then, and the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket(u64, Instant);

/// What the cache has for a key.
pub(crate) enum Lookup {
    /// The remembered answer.
    Hit(Arc<Answer>),
    /// Nothing: read the database, and remember the answer with the ticket (none while the
    /// cache does not serve).
    Miss(Option<Ticket>),
}

/// A remembered answer, the tenant whose changes drop it and when its read started.
struct Entry {
    tenant: String,
    answer: Arc<Answer>,
    read_at: Instant,
}

/// Everything behind the lock.
struct State {
    /// Whether answers are served and kept (false while changes of other instances could go
    /// unnoticed).
    serving: bool,
    /// How old an answer may be served, if there is a limit.
    max_age: Option<Duration>,
    entries: HashMap<Key, Entry>,
    /// The sum of the entries' weights.
    weight: usize,
    /// Advanced by every invalidation.
    clock: u64,
    /// The clock value of each tenant's last invalidation since the last [`ConfigCache::clear`].
    invalidated: HashMap<String, u64>,
    /// The clock value of the last [`ConfigCache::clear`].
    cleared: u64,
}

/// Remembered configuration answers, shared by the readers and invalidators of one database.
pub(crate) struct ConfigCache {
    state: Mutex<State>,
}

impl ConfigCache {
    /// An empty cache that serves at once (`serving`) or only after [`ConfigCache::resume`],
    /// answers no older than `max_age` (when given).
    pub(crate) fn new(serving: bool, max_age: Option<Duration>) -> Self {
        let state = State { serving, max_age, entries: HashMap::new(), weight: 0, clock: 0, invalidated: HashMap::new(), cleared: 0 };
        Self { state: Mutex::new(state) }
    }

    /// The state; a panic elsewhere while it was held leaves nothing half-done that matters
    /// (at worst an entry is missing), so a poisoned lock is taken as it is.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The remembered answer for `key`, or a ticket to remember one.
    pub(crate) fn get(&self, key: &Key) -> Lookup {
        let state = self.state();
        if !state.serving {
            return Lookup::Miss(None);
        }
        let now = Instant::now();
        match state.entries.get(key) {
            Some(entry) if state.max_age.is_none_or(|max_age| now.saturating_duration_since(entry.read_at) < max_age) => {
                Lookup::Hit(entry.answer.clone())
            }
            _ => Lookup::Miss(Some(Ticket(state.clock, now))),
        }
    }

    /// A ticket for a read starting now (none while the cache does not serve).
    pub(crate) fn ticket(&self) -> Option<Ticket> {
        let state = self.state();
        state.serving.then(|| Ticket(state.clock, Instant::now()))
    }

    /// Remembers `answer` for `key`, dropped by `tenant`'s changes, unless the cache stopped
    /// serving or `tenant` (or everyone) was invalidated since `ticket` was taken.
    pub(crate) fn put(&self, ticket: Ticket, key: Key, tenant: &str, answer: Answer) {
        let mut state = self.state();
        let invalidated = state.invalidated.get(tenant).copied().unwrap_or_default().max(state.cleared);
        let weight = answer.weight();
        if !state.serving || invalidated > ticket.0 || weight > MAX_WEIGHT {
            return;
        }
        if state.weight + weight > MAX_WEIGHT {
            state.entries.clear();
            state.weight = 0;
        }
        let entry = Entry { tenant: tenant.to_string(), answer: Arc::new(answer), read_at: ticket.1 };
        state.weight += weight;
        if let Some(old) = state.entries.insert(key, entry) {
            state.weight -= old.answer.weight();
        }
    }

    /// Drops every answer of `tenant`, including those of reads still in flight.
    pub(crate) fn invalidate(&self, tenant: &str) {
        let mut state = self.state();
        state.clock += 1;
        let now = state.clock;
        state.invalidated.insert(tenant.to_string(), now);
        let before = state.entries.len();
        state.entries.retain(|_, entry| entry.tenant != tenant);
        if state.entries.len() != before {
            state.weight = state.entries.values().map(|entry| entry.answer.weight()).sum();
        }
    }

    /// Drops every answer, including those of reads still in flight.
    pub(crate) fn clear(&self) {
        let mut state = self.state();
        clear(&mut state);
    }

    /// Stops serving and keeping answers, and drops those kept: changes may now go unnoticed.
    pub(crate) fn pause(&self) {
        let mut state = self.state();
        state.serving = false;
        clear(&mut state);
    }

    /// Serves again, from empty: every change from now on is noticed.
    pub(crate) fn resume(&self) {
        let mut state = self.state();
        clear(&mut state);
        state.serving = true;
    }
}

/// Drops every answer and marks every read in flight as too old to keep its answer.
fn clear(state: &mut State) {
    state.clock += 1;
    state.cleared = state.clock;
    state.invalidated.clear();
    state.entries.clear();
    state.weight = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(slug: &str) -> Answer {
        Answer::Tenant(Some(TenantRecord { slug: slug.into(), name: slug.into(), ..TenantRecord::default() }))
    }

    fn key(slug: &str) -> Key {
        Key::Tenant(slug.into())
    }

    fn ticket(cache: &ConfigCache, key: &Key) -> Ticket {
        match cache.get(key) {
            Lookup::Miss(Some(ticket)) => ticket,
            Lookup::Miss(None) => panic!("the cache does not serve"),
            Lookup::Hit(answer) => panic!("unexpected hit: {answer:?}"),
        }
    }

    fn hit(cache: &ConfigCache, key: &Key) -> bool {
        matches!(cache.get(key), Lookup::Hit(_))
    }

    #[test]
    fn an_answer_is_kept_until_its_tenant_changes() {
        let cache = ConfigCache::new(true, None);
        let (a, b) = (key("a"), key("b"));
        let (ticket_a, ticket_b) = (ticket(&cache, &a), ticket(&cache, &b));
        cache.put(ticket_a, a.clone(), "a", tenant("a"));
        cache.put(ticket_b, b.clone(), "b", tenant("b"));
        assert!(hit(&cache, &a) && hit(&cache, &b));
        cache.invalidate("a");
        assert!(!hit(&cache, &a), "a's change drops a's answers");
        assert!(hit(&cache, &b), "and only those");
    }

    #[test]
    fn a_read_that_overlapped_an_invalidation_is_not_kept() {
        let cache = ConfigCache::new(true, None);
        let a = key("a");
        let before = ticket(&cache, &a);
        cache.invalidate("a");
        cache.put(before, a.clone(), "a", tenant("a"));
        assert!(!hit(&cache, &a), "the answer read before the change is stale");

        let after = ticket(&cache, &a);
        cache.invalidate("b");
        cache.put(after, a.clone(), "a", tenant("a"));
        assert!(hit(&cache, &a), "another tenant's change does not matter");
    }

    #[test]
    fn a_read_that_overlapped_a_clear_or_a_pause_is_not_kept() {
        let cache = ConfigCache::new(true, None);
        let a = key("a");
        let before = ticket(&cache, &a);
        cache.clear();
        cache.put(before, a.clone(), "a", tenant("a"));
        assert!(!hit(&cache, &a));

        let before = ticket(&cache, &a);
        cache.pause();
        assert!(matches!(cache.get(&a), Lookup::Miss(None)), "a paused cache gives no tickets");
        cache.resume();
        cache.put(before, a.clone(), "a", tenant("a"));
        assert!(!hit(&cache, &a), "a read from before the pause is not kept after it");
        let after = ticket(&cache, &a);
        cache.put(after, a.clone(), "a", tenant("a"));
        assert!(hit(&cache, &a));
        cache.pause();
        assert!(matches!(cache.get(&a), Lookup::Miss(None)), "pausing drops what was kept");
    }

    #[test]
    fn a_cache_that_does_not_serve_yet_keeps_nothing() {
        let cache = ConfigCache::new(false, None);
        let a = key("a");
        assert!(cache.ticket().is_none());
        cache.resume();
        assert!(cache.ticket().is_some());
        assert!(!hit(&cache, &a));
    }

    #[test]
    fn answers_older_than_the_most_age_are_read_again() {
        let a = key("a");
        let young = ConfigCache::new(true, Some(Duration::from_secs(3600)));
        young.put(ticket(&young, &a), a.clone(), "a", tenant("a"));
        assert!(hit(&young, &a));
        let old = ConfigCache::new(true, Some(Duration::ZERO));
        old.put(ticket(&old, &a), a.clone(), "a", tenant("a"));
        assert!(!hit(&old, &a), "an answer past its age is not served");
    }

    #[test]
    fn going_over_the_bound_starts_again_from_empty() {
        let cache = ConfigCache::new(true, None);
        let documents = |n: usize| {
            let document = Document {
                id: "x".into(),
                body: serde_json::Map::new(),
                created_at: jiff::Timestamp::UNIX_EPOCH,
                updated_at: jiff::Timestamp::UNIX_EPOCH,
                creator_id: String::new(),
                updater_id: String::new(),
                revision: 1,
            };
            Answer::Documents(ListQuery::matching(herald_core::query::Filter::all(), 10), vec![document; n])
        };
        let key = |n: usize| Key::Documents(Collection::Templates, "a".into(), n.to_string());
        let half = MAX_WEIGHT / 2;
        cache.put(cache.ticket().unwrap(), key(1), "a", documents(half - 1));
        cache.put(cache.ticket().unwrap(), key(2), "a", documents(half - 1));
        assert!(hit(&cache, &key(1)) && hit(&cache, &key(2)));
        cache.put(cache.ticket().unwrap(), key(3), "a", documents(10));
        assert!(!hit(&cache, &key(1)) && !hit(&cache, &key(2)), "over the bound, everything goes");
        assert!(hit(&cache, &key(3)));
        cache.put(cache.ticket().unwrap(), key(4), "a", documents(MAX_WEIGHT));
        assert!(!hit(&cache, &key(4)), "an answer heavier than the bound is never kept");
        assert!(hit(&cache, &key(3)));
    }
}
