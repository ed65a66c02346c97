//! A cache of configuration in front of a store: [`CachedStore`] answers the reads every event
//! and delivery repeats — the API key, the tenant, its clinic settings and its event settings,
//! notification settings, templates and providers — from memory once read, and passes every
//! other call through. [`crate::connect`] wraps both backends in it, so every user gets it.
//!
//! Changes apply at once:
//!
//! - Every write through the store that can change a remembered answer (documents of those
//!   collections, tenants, API keys, clinic settings, migrations) drops the answers of its
//!   tenant when it returns, whether it succeeded or not. Answers are grouped per tenant, not
//!   per collection: changes are rare, and other instances hear of them per tenant.
//! - A read that overlapped a change never keeps its answer (see the tickets in `memory`).
//! - Other instances' changes: on PostgreSQL, triggers `NOTIFY herald_config, '<tenant>'` in
//!   the changing transaction (migration 0016) and each store `LISTEN`s, dropping that
//!   tenant's answers on each notification. While the listener is not connected the cache
//!   neither serves nor keeps answers, and it starts from empty each time it connects, so no
//!   change made during a gap survives in it. A change on another instance applies here as
//!   soon as its notification arrives (usually well under a millisecond after its commit).
//!   On SQLite, every store the process opens on one file shares one cache, so changes apply
//!   at once there too; changes by another process (the CLI) apply within
//!   `sqlite::shared_cache::MAX_AGE`, as answers are kept no longer.
//!
//! Choices:
//!
//! - An unknown API key is not remembered: it is a failed authentication, not the path worth
//!   speeding up, and remembering misses would let any presented secret take up room. A found
//!   key is dropped with its tenant's answers.
//! - The memory is bounded by a count of answers and documents (see `memory`); past it the
//!   cache empties and fills again.
//! - Answers are kept behind an `Arc` and cloned for each caller after the lock is released,
//!   since the trait hands out owned values.
//! - `find_preference_context` (the clinic settings with recipients' preferences) is not
//!   cached: preferences are per recipient and change from recipients' own requests.

mod memory;

pub(crate) use memory::ConfigCache;

use crate::{
    ApiKeyRecord, AuditQuery, AuditRecord, Committed, DeliveryReport, DeliveryUpdate, EventCommit, FileRecord, IdempotencyRecord,
    InboxAction, InboxEntry, InboxQuery, InboxSignal, JobOutcome, MessageLogEntry, MessageLogQuery, ReportOutcome, Store, StoreError,
    TenantRecord, Upserted,
};
use async_trait::async_trait;
use herald_core::document::Document;
use herald_core::job::{ClaimedJob, Job, JobKind};
use herald_core::query::{Filter, ListQuery};
use herald_core::resources::Collection;
use herald_core::rules::preferences::{ClinicSettings, Preferences};
use herald_core::sms_safeguards::NumberUsage;
use jiff::Timestamp;
use memory::{Answer, Key, Lookup};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// A store whose configuration reads are answered from a [`ConfigCache`] once read.
pub(crate) struct CachedStore {
    inner: Arc<dyn Store>,
    cache: Arc<ConfigCache>,
    /// Dropped with the store, which stops its change listener, if it has one.
    _stop_listening: Option<tokio::sync::oneshot::Sender<()>>,
}

impl CachedStore {
    /// Caches `inner`'s configuration in `cache`, which hears of other instances' changes
    /// through a listener that stops when `stop_listening` is dropped (none when every change
    /// goes through this process's stores).
    pub(crate) fn new(inner: Arc<dyn Store>, cache: Arc<ConfigCache>, stop_listening: Option<tokio::sync::oneshot::Sender<()>>) -> Self {
        Self { inner, cache, _stop_listening: stop_listening }
    }

    /// The answer of a cacheable read: the remembered one when `hit` accepts it, else what
    /// `read` gives, remembered (see [`ConfigCache::put`]) under `key` for the tenant `keep`
    /// names, when it names one.
    async fn through<T>(
        &self,
        key: Key,
        hit: impl Fn(&Answer) -> Option<T>,
        read: impl Future<Output = Result<T, StoreError>>,
        keep: impl FnOnce(&T) -> Option<(String, Answer)>,
    ) -> Result<T, StoreError> {
        let ticket = match self.cache.get(&key) {
            Lookup::Hit(answer) => match hit(&answer) {
                Some(value) => return Ok(value),
                None => self.cache.ticket(),
            },
            Lookup::Miss(ticket) => ticket,
        };
        let value = read.await?;
        if let Some(ticket) = ticket
            && let Some((tenant, answer)) = keep(&value)
        {
            self.cache.put(ticket, key, &tenant, answer);
        }
        Ok(value)
    }

    /// Runs a write, then drops `tenant`'s answers, whatever the write's outcome (a failed
    /// write may still have committed).
    async fn changing<T>(&self, tenant: &str, write: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        let outcome = write.await;
        self.cache.invalidate(tenant);
        outcome
    }

    /// Runs a write to `collection`'s documents, dropping `tenant`'s answers after it when
    /// that collection is cached (see [`Self::changing`]).
    async fn changing_documents<T>(
        &self,
        collection: Collection,
        tenant: &str,
        write: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if cached(collection) { self.changing(tenant, write).await } else { write.await }
    }
}

/// Whether reads of `collection` are cached: the configuration the engine reads per event.
fn cached(collection: Collection) -> bool {
    matches!(collection, Collection::EventSettings | Collection::NotificationSettings | Collection::Templates | Collection::Providers)
}

#[async_trait]
impl Store for CachedStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        let outcome = self.inner.migrate().await;
        self.cache.clear();
        outcome
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    async fn create_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError> {
        self.changing(&tenant.slug, self.inner.create_tenant(tenant)).await
    }

    async fn find_tenant(&self, slug: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.through(
            Key::Tenant(slug.to_string()),
            |answer| match answer {
                Answer::Tenant(found) => Some(found.clone()),
                _ => None,
            },
            self.inner.find_tenant(slug),
            |found| Some((slug.to_string(), Answer::Tenant(found.clone()))),
        )
        .await
    }

    async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        self.inner.list_tenants().await
    }

    async fn update_tenant(&self, tenant: &TenantRecord) -> Result<bool, StoreError> {
        self.changing(&tenant.slug, self.inner.update_tenant(tenant)).await
    }

    async fn append_audit(&self, entry: &AuditRecord) -> Result<(), StoreError> {
        self.inner.append_audit(entry).await
    }

    async fn list_audit(&self, tenant: &str, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.list_audit(tenant, query).await
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.changing(&key.tenant, self.inner.insert_api_key(key)).await
    }

    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.through(
            Key::ApiKeyHash(key_hash.to_string()),
            |answer| match answer {
                Answer::ApiKey(key) => Some(Some(key.clone())),
                _ => None,
            },
            self.inner.find_api_key(key_hash),
            |found| found.as_ref().map(|key| (key.tenant.clone(), Answer::ApiKey(key.clone()))),
        )
        .await
    }

    async fn list_api_keys(&self, tenant: &str) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.inner.list_api_keys(tenant).await
    }

    async fn revoke_api_key(&self, tenant: &str, key_id: &str, at: Timestamp) -> Result<bool, StoreError> {
        self.changing(tenant, self.inner.revoke_api_key(tenant, key_id, at)).await
    }

    async fn insert_documents(&self, collection: Collection, tenant: &str, documents: &[Document]) -> Result<(), StoreError> {
        self.changing_documents(collection, tenant, self.inner.insert_documents(collection, tenant, documents)).await
    }

    async fn upsert_documents(&self, collection: Collection, tenant: &str, documents: &[Document]) -> Result<Vec<Upserted>, StoreError> {
        self.changing_documents(collection, tenant, self.inner.upsert_documents(collection, tenant, documents)).await
    }

    async fn get_document(&self, collection: Collection, tenant: &str, id: &str) -> Result<Option<Document>, StoreError> {
        self.inner.get_document(collection, tenant, id).await
    }

    async fn find_documents(&self, collection: Collection, tenant: &str, query: &ListQuery) -> Result<Vec<Document>, StoreError> {
        if !cached(collection) {
            return self.inner.find_documents(collection, tenant, query).await;
        }
        self.through(
            Key::Documents(collection, tenant.to_string(), format!("{query:?}")),
            |answer| match answer {
                Answer::Documents(asked, documents) if asked == query => Some(documents.clone()),
                _ => None,
            },
            self.inner.find_documents(collection, tenant, query),
            |documents| Some((tenant.to_string(), Answer::Documents(query.clone(), documents.clone()))),
        )
        .await
    }

    async fn count_documents(&self, collection: Collection, tenant: &str, filter: &Filter) -> Result<u64, StoreError> {
        self.inner.count_documents(collection, tenant, filter).await
    }

    async fn replace_document(
        &self,
        collection: Collection,
        tenant: &str,
        document: &Document,
        expected_revision: i64,
    ) -> Result<bool, StoreError> {
        self.changing_documents(collection, tenant, self.inner.replace_document(collection, tenant, document, expected_revision)).await
    }

    async fn delete_document(&self, collection: Collection, tenant: &str, id: &str) -> Result<bool, StoreError> {
        self.changing_documents(collection, tenant, self.inner.delete_document(collection, tenant, id)).await
    }

    async fn find_duplicate(&self, tenant: &str, event_id: &str, window_start: Timestamp) -> Result<Option<serde_json::Value>, StoreError> {
        self.inner.find_duplicate(tenant, event_id, window_start).await
    }

    async fn commit_event(&self, tenant: &str, commit: EventCommit) -> Result<Committed, StoreError> {
        self.inner.commit_event(tenant, commit).await
    }

    async fn claim_idempotency_key(
        &self,
        tenant: &str,
        route: &str,
        key: &str,
        body_hash: &str,
        now: Timestamp,
        expired_before: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.claim_idempotency_key(tenant, route, key, body_hash, now, expired_before).await
    }

    async fn find_idempotency_key(&self, tenant: &str, route: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.inner.find_idempotency_key(tenant, route, key).await
    }

    async fn answer_idempotency_key(
        &self,
        tenant: &str,
        route: &str,
        key: &str,
        status: u16,
        response: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.inner.answer_idempotency_key(tenant, route, key, status, response).await
    }

    async fn release_idempotency_key(&self, tenant: &str, route: &str, key: &str) -> Result<(), StoreError> {
        self.inner.release_idempotency_key(tenant, route, key).await
    }

    async fn find_job(&self, tenant: &str, job_id: &str) -> Result<Option<Job>, StoreError> {
        self.inner.find_job(tenant, job_id).await
    }

    async fn list_jobs(&self, tenant: &str, kind: JobKind) -> Result<Vec<Job>, StoreError> {
        self.inner.list_jobs(tenant, kind).await
    }

    async fn claim_due_jobs(
        &self,
        kinds: &[JobKind],
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        self.inner.claim_due_jobs(kinds, now, lease_until, limit).await
    }

    async fn settle_job(&self, tenant: &str, job_id: &str, outcome: JobOutcome) -> Result<(), StoreError> {
        self.inner.settle_job(tenant, job_id, outcome).await
    }

    async fn find_preferences(&self, tenant: &str, user_id: &str) -> Result<Option<Preferences>, StoreError> {
        self.inner.find_preferences(tenant, user_id).await
    }

    async fn put_preferences(&self, tenant: &str, user_id: &str, preferences: &Preferences, at: Timestamp) -> Result<(), StoreError> {
        self.inner.put_preferences(tenant, user_id, preferences, at).await
    }

    async fn find_clinic_settings(&self, tenant: &str) -> Result<Option<ClinicSettings>, StoreError> {
        self.through(
            Key::ClinicSettings(tenant.to_string()),
            |answer| match answer {
                Answer::ClinicSettings(settings) => Some(settings.clone()),
                _ => None,
            },
            self.inner.find_clinic_settings(tenant),
            |settings| Some((tenant.to_string(), Answer::ClinicSettings(settings.clone()))),
        )
        .await
    }

    async fn find_preference_context(
        &self,
        tenant: &str,
        user_ids: &[String],
    ) -> Result<(Option<ClinicSettings>, HashMap<String, Preferences>), StoreError> {
        self.inner.find_preference_context(tenant, user_ids).await
    }

    async fn put_clinic_settings(&self, tenant: &str, settings: &ClinicSettings, at: Timestamp) -> Result<(), StoreError> {
        self.changing(tenant, self.inner.put_clinic_settings(tenant, settings, at)).await
    }

    async fn record_delivery(&self, tenant: &str, update: DeliveryUpdate) -> Result<(), StoreError> {
        self.inner.record_delivery(tenant, update).await
    }

    async fn record_report(&self, report: DeliveryReport) -> Result<Option<ReportOutcome>, StoreError> {
        self.inner.record_report(report).await
    }

    async fn list_message_log(&self, tenant: &str, query: &MessageLogQuery) -> Result<(Vec<MessageLogEntry>, u64), StoreError> {
        self.inner.list_message_log(tenant, query).await
    }

    async fn insert_file(&self, file: &FileRecord) -> Result<(), StoreError> {
        self.inner.insert_file(file).await
    }

    async fn get_file(&self, tenant: &str, id: &str) -> Result<Option<FileRecord>, StoreError> {
        self.inner.get_file(tenant, id).await
    }

    async fn find_file_by_name(&self, tenant: &str, name: &str) -> Result<Option<FileRecord>, StoreError> {
        self.inner.find_file_by_name(tenant, name).await
    }

    async fn list_files(&self, tenant: &str, since: Option<Timestamp>, limit: u32, skip: u64) -> Result<Vec<FileRecord>, StoreError> {
        self.inner.list_files(tenant, since, limit, skip).await
    }

    async fn delete_file(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        self.inner.delete_file(tenant, id).await
    }

    async fn record_whatsapp_inbound(&self, tenant: &str, phone: &str, at: Timestamp) -> Result<(), StoreError> {
        self.inner.record_whatsapp_inbound(tenant, phone, at).await
    }

    async fn last_whatsapp_inbound(&self, tenant: &str, phone: &str) -> Result<Option<Timestamp>, StoreError> {
        self.inner.last_whatsapp_inbound(tenant, phone).await
    }

    async fn set_sms_opt_out(&self, tenant: &str, phone: &str, opted_out: bool, at: Timestamp) -> Result<bool, StoreError> {
        self.inner.set_sms_opt_out(tenant, phone, opted_out, at).await
    }

    async fn sms_opted_out(&self, tenant: &str, phone: &str) -> Result<bool, StoreError> {
        self.inner.sms_opted_out(tenant, phone).await
    }

    async fn sms_number_usage(&self, tenant: &str, phone: &str) -> Result<Option<NumberUsage>, StoreError> {
        self.inner.sms_number_usage(tenant, phone).await
    }

    async fn swap_sms_number_usage(
        &self,
        tenant: &str,
        phone: &str,
        expected: Option<NumberUsage>,
        next: NumberUsage,
    ) -> Result<bool, StoreError> {
        self.inner.swap_sms_number_usage(tenant, phone, expected, next).await
    }

    async fn list_inbox(&self, tenant: &str, query: &InboxQuery) -> Result<(Vec<InboxEntry>, u64), StoreError> {
        self.inner.list_inbox(tenant, query).await
    }

    async fn count_unread_inbox(&self, tenant: &str, user_id: &str) -> Result<u64, StoreError> {
        self.inner.count_unread_inbox(tenant, user_id).await
    }

    async fn change_inbox_entry(
        &self,
        tenant: &str,
        user_id: &str,
        id: &str,
        action: InboxAction,
        at: Timestamp,
    ) -> Result<Option<(InboxEntry, bool)>, StoreError> {
        self.inner.change_inbox_entry(tenant, user_id, id, action, at).await
    }

    async fn read_all_inbox(&self, tenant: &str, user_id: &str, at: Timestamp) -> Result<Vec<(String, usize)>, StoreError> {
        self.inner.read_all_inbox(tenant, user_id, at).await
    }

    async fn inbox_since(&self, tenant: &str, user_id: &str, after: i64, limit: u32) -> Result<Vec<InboxEntry>, StoreError> {
        self.inner.inbox_since(tenant, user_id, after, limit).await
    }

    async fn inbox_seq(&self, tenant: &str, user_id: &str) -> Result<i64, StoreError> {
        self.inner.inbox_seq(tenant, user_id).await
    }

    fn inbox_signals(&self) -> tokio::sync::broadcast::Receiver<InboxSignal> {
        self.inner.inbox_signals()
    }

    fn delivery_feed(&self) -> std::sync::Arc<crate::DeliveryFeed> {
        self.inner.delivery_feed()
    }
}
