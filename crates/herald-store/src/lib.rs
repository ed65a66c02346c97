//! Herald's storage: the [`Store`] trait and its two backends, SQLite (the embedded default,
//! WAL, fsync on commit) and PostgreSQL (for several Herald instances). The backend is chosen
//! once at startup from the URL scheme; each has its own migrations, applied by
//! [`Store::migrate`].
//!
//! Documents keep their resource fields as JSON (TEXT in SQLite, JSONB in PostgreSQL) and their
//! system fields in columns; timestamps are epoch milliseconds in both. MongoDB-style filters
//! are translated to SQL by each backend's dialect (see `sql`), never evaluated in memory.
//!
//! [`connect`] puts a cache of configuration (API keys, tenants, settings, templates,
//! providers) in front of either backend, invalidated at once by every change on every
//! instance; see `cache`.

mod cache;
mod delivery_feed;
mod inbox;
mod postgres;
mod records;
mod sql;
mod sqlite;

pub use delivery_feed::{DeliveryFeed, HandedJob};
pub use inbox::{INBOX_CHANNEL, InboxAction, InboxEntry, InboxQuery, InboxSignal};
pub use postgres::PostgresStore;
pub use records::{
    ApiKeyRecord, AuditQuery, AuditRecord, Committed, Dedup, DeliveryReport, DeliveryUpdate, EventCommit, FileRecord, IdempotencyRecord,
    JobOutcome, LogDetails, MessageLogEntry, MessageLogQuery, ReportOutcome, TenantRecord, Upserted,
};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use herald_core::Invalid;
use herald_core::document::Document;
use herald_core::job::{ClaimedJob, Job, JobKind};
use herald_core::query::{Filter, ListQuery};
use herald_core::resources::Collection;
use herald_core::rules::preferences::{ClinicSettings, Preferences};
use herald_core::sms_safeguards::NumberUsage;
use jiff::Timestamp;
use std::sync::Arc;

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique field (named) already has this value in the tenant.
    #[error("a document with this {field} already exists")]
    Conflict {
        /// The field whose value must be unique.
        field: &'static str,
    },
    /// The request cannot be expressed against this store.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The URL names no supported backend.
    #[error("unsupported database URL: expected sqlite://… or postgres://…")]
    UnsupportedUrl,
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The store's writer has stopped (the process is shutting down).
    #[error("the store is closed")]
    Closed,
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// Every storage operation Herald performs. Each call is its own transaction; every
/// tenant-scoped call filters by tenant, so no operation can reach another tenant's rows.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a tenant; `Conflict` when the slug is taken.
    async fn create_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError>;
    /// Finds a tenant by slug.
    async fn find_tenant(&self, slug: &str) -> Result<Option<TenantRecord>, StoreError>;
    /// Every tenant, oldest first.
    async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError>;
    /// Replaces a tenant's name, time zone and contact profile; false when there is no such
    /// tenant.
    async fn update_tenant(&self, tenant: &TenantRecord) -> Result<bool, StoreError>;

    /// Appends an entry to the tenant's audit trail (its `seq` is assigned here).
    async fn append_audit(&self, entry: &AuditRecord) -> Result<(), StoreError>;
    /// The tenant's audit entries a query selects, newest first.
    async fn list_audit(&self, tenant: &str, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;

    /// Stores a new API key (its hash only).
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    /// Finds a key by the hash of the presented secret, revoked or not.
    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// A tenant's keys, oldest first.
    async fn list_api_keys(&self, tenant: &str) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revokes a tenant's key; false when the tenant has no such active key.
    async fn revoke_api_key(&self, tenant: &str, key_id: &str, at: Timestamp) -> Result<bool, StoreError>;

    /// Inserts documents, all or none; `Conflict` when a unique field is taken.
    async fn insert_documents(&self, collection: Collection, tenant: &str, documents: &[Document]) -> Result<(), StoreError>;
    /// Inserts or updates documents by the collection's unique field, all or none. An update
    /// keeps the stored `_id`, `createdAt` and `creatorId`.
    async fn upsert_documents(&self, collection: Collection, tenant: &str, documents: &[Document]) -> Result<Vec<Upserted>, StoreError>;
    /// One document by `_id`.
    async fn get_document(&self, collection: Collection, tenant: &str, id: &str) -> Result<Option<Document>, StoreError>;
    /// The documents a list query selects.
    async fn find_documents(&self, collection: Collection, tenant: &str, query: &ListQuery) -> Result<Vec<Document>, StoreError>;
    /// How many documents a filter selects.
    async fn count_documents(&self, collection: Collection, tenant: &str, filter: &Filter) -> Result<u64, StoreError>;
    /// Replaces a document's body if its revision is still `expected_revision`; false when it
    /// changed meanwhile or is gone. `Conflict` when a unique field is taken.
    async fn replace_document(
        &self,
        collection: Collection,
        tenant: &str,
        document: &Document,
        expected_revision: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes a document; false when there was none.
    async fn delete_document(&self, collection: Collection, tenant: &str, id: &str) -> Result<bool, StoreError>;

    /// The response an event with this sender id got, if it was committed at or after
    /// `window_start`.
    async fn find_duplicate(&self, tenant: &str, event_id: &str, window_start: Timestamp) -> Result<Option<serde_json::Value>, StoreError>;
    /// Writes everything one event produced in one transaction, unless its sender id was
    /// committed within the dedup window (then nothing is written).
    async fn commit_event(&self, tenant: &str, commit: EventCommit) -> Result<Committed, StoreError>;
    /// Claims an Idempotency-Key for a request with `body_hash`: true when it was free (or its
    /// claim older than `expired_before`, which is replaced); false when it is taken.
    async fn claim_idempotency_key(
        &self,
        tenant: &str,
        route: &str,
        key: &str,
        body_hash: &str,
        now: Timestamp,
        expired_before: Timestamp,
    ) -> Result<bool, StoreError>;
    /// The record of a taken key.
    async fn find_idempotency_key(&self, tenant: &str, route: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;
    /// Stores the answer given under a claimed key.
    async fn answer_idempotency_key(
        &self,
        tenant: &str,
        route: &str,
        key: &str,
        status: u16,
        response: &serde_json::Value,
    ) -> Result<(), StoreError>;
    /// Frees a claimed key that got no answer worth repeating (a server failure).
    async fn release_idempotency_key(&self, tenant: &str, route: &str, key: &str) -> Result<(), StoreError>;
    /// One of a tenant's jobs.
    async fn find_job(&self, tenant: &str, job_id: &str) -> Result<Option<Job>, StoreError>;
    /// A tenant's jobs of one kind, by due time.
    async fn list_jobs(&self, tenant: &str, kind: JobKind) -> Result<Vec<Job>, StoreError>;
    /// Claims up to `limit` jobs of `kinds`, of any tenant, that are due at `now` (pending,
    /// or running with a lease that ran out), earliest first: they become `running` with a
    /// lease until `lease_until` and one more attempt. Several workers (and instances, on
    /// PostgreSQL) never claim the same job at once. Tenants share a claim fairly: each gets
    /// at most `limit / tenants` of it (rounded up), so one tenant's backlog cannot hold back
    /// another's due jobs.
    async fn claim_due_jobs(
        &self,
        kinds: &[JobKind],
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<ClaimedJob>, StoreError>;
    /// Marks a claimed job `done`, `failed` (with its error) or `pending` again (due at
    /// `retry_at`, with its error); a job no longer `running` is left as it is.
    async fn settle_job(&self, tenant: &str, job_id: &str, outcome: JobOutcome) -> Result<(), StoreError>;
    /// A recipient's notification preferences, when they set any.
    async fn find_preferences(&self, tenant: &str, user_id: &str) -> Result<Option<Preferences>, StoreError>;
    /// Stores a recipient's preferences, replacing the ones they had.
    async fn put_preferences(&self, tenant: &str, user_id: &str, preferences: &Preferences, at: Timestamp) -> Result<(), StoreError>;
    /// The clinic's settings per notification type, when it changed any.
    async fn find_clinic_settings(&self, tenant: &str) -> Result<Option<ClinicSettings>, StoreError>;
    /// The clinic's settings and the stored preferences of each of `user_ids` (those without
    /// any are absent), read together: what deciding one event's messages needs.
    async fn find_preference_context(
        &self,
        tenant: &str,
        user_ids: &[String],
    ) -> Result<(Option<ClinicSettings>, std::collections::HashMap<String, Preferences>), StoreError>;
    /// Stores the clinic's settings, replacing the ones it had.
    async fn put_clinic_settings(&self, tenant: &str, settings: &ClinicSettings, at: Timestamp) -> Result<(), StoreError>;
    /// Records a step of a message's delivery (see [`DeliveryUpdate`]) in one transaction.
    async fn record_delivery(&self, tenant: &str, update: DeliveryUpdate) -> Result<(), StoreError>;
    /// Applies a provider's report to the message it took, found in any tenant by service and
    /// provider message id: its status, `history` and (for failures) `error` change, with its
    /// message-log row, if the report moves it forward. `None` when no message has that id.
    async fn record_report(&self, report: DeliveryReport) -> Result<Option<ReportOutcome>, StoreError>;
    /// The tenant's message log entries a query selects, newest first, and how many match in
    /// all.
    async fn list_message_log(&self, tenant: &str, query: &MessageLogQuery) -> Result<(Vec<MessageLogEntry>, u64), StoreError>;

    /// Stores a file's metadata; `Conflict` on `name` when the tenant has a file of that name.
    async fn insert_file(&self, file: &FileRecord) -> Result<(), StoreError>;
    /// One of a tenant's files by id.
    async fn get_file(&self, tenant: &str, id: &str) -> Result<Option<FileRecord>, StoreError>;
    /// One of a tenant's files by name.
    async fn find_file_by_name(&self, tenant: &str, name: &str) -> Result<Option<FileRecord>, StoreError>;
    /// A page of a tenant's files uploaded at or after `since` (all when `None`), oldest
    /// first (ties by id), so pages stay stable while files are added.
    async fn list_files(&self, tenant: &str, since: Option<Timestamp>, limit: u32, skip: u64) -> Result<Vec<FileRecord>, StoreError>;
    /// Deletes a file's metadata; false when the tenant has no such file.
    async fn delete_file(&self, tenant: &str, id: &str) -> Result<bool, StoreError>;
    /// Notes that `phone` (E.164) wrote to the tenant's WhatsApp number at `at`; a later time
    /// already recorded is kept.
    async fn record_whatsapp_inbound(&self, tenant: &str, phone: &str, at: Timestamp) -> Result<(), StoreError>;
    /// When `phone` last wrote to the tenant's WhatsApp number, if ever.
    async fn last_whatsapp_inbound(&self, tenant: &str, phone: &str) -> Result<Option<Timestamp>, StoreError>;
    /// Records that `phone` (E.164) opted out of the tenant's SMS (`true`, at `at`) or back
    /// in (`false`); answers whether that changed anything (a repeated STOP does not).
    async fn set_sms_opt_out(&self, tenant: &str, phone: &str, opted_out: bool, at: Timestamp) -> Result<bool, StoreError>;
    /// Whether `phone` has opted out of the tenant's SMS.
    async fn sms_opted_out(&self, tenant: &str, phone: &str) -> Result<bool, StoreError>;
    /// What is recorded of the SMS sent to `phone` for the tenant (the abuse safeguards).
    async fn sms_number_usage(&self, tenant: &str, phone: &str) -> Result<Option<NumberUsage>, StoreError>;
    /// Replaces the recorded usage of `phone` with `next` if it is still `expected` (none: no
    /// record yet); false when another instance changed it first.
    async fn swap_sms_number_usage(
        &self,
        tenant: &str,
        phone: &str,
        expected: Option<NumberUsage>,
        next: NumberUsage,
    ) -> Result<bool, StoreError>;

    /// The user's notification-center entries a query selects, newest first, and how many
    /// match in all (the cursor aside).
    async fn list_inbox(&self, tenant: &str, query: &InboxQuery) -> Result<(Vec<InboxEntry>, u64), StoreError>;
    /// How many of the user's entries are unread (neither dismissed nor archived).
    async fn count_unread_inbox(&self, tenant: &str, user_id: &str) -> Result<u64, StoreError>;
    /// Applies a user's action to their entry `id`: the entry as it is now and whether it
    /// changed (an action already applied changes nothing); `None` when the user has no such
    /// entry (another user's id included).
    async fn change_inbox_entry(
        &self,
        tenant: &str,
        user_id: &str,
        id: &str,
        action: InboxAction,
        at: Timestamp,
    ) -> Result<Option<(InboxEntry, bool)>, StoreError>;
    /// Marks every unread entry of the user read; returns the messages (notification id and
    /// message index) of the entries that changed.
    async fn read_all_inbox(&self, tenant: &str, user_id: &str, at: Timestamp) -> Result<Vec<(String, usize)>, StoreError>;
    /// The user's entries created or changed after change sequence `after`, in sequence
    /// order, at most `limit`.
    async fn inbox_since(&self, tenant: &str, user_id: &str, after: i64, limit: u32) -> Result<Vec<InboxEntry>, StoreError>;
    /// The user's change sequence now (0 before their first entry).
    async fn inbox_seq(&self, tenant: &str, user_id: &str) -> Result<i64, StoreError>;
    /// Signals of inbox changes: this process's as they commit, and on PostgreSQL every
    /// instance's (`LISTEN`). A receiver that falls behind gets `Lagged` and must assume any
    /// inbox changed.
    fn inbox_signals(&self) -> tokio::sync::broadcast::Receiver<InboxSignal>;
    /// What this process's writer tells its dispatcher about the delivery jobs it commits: due
    /// jobs handed over already claimed, and a wake-up for the others (see [`DeliveryFeed`]).
    fn delivery_feed(&self) -> Arc<DeliveryFeed>;
}

/// Opens the store a URL names (`sqlite://path` or `postgres://…`), with its configuration
/// cache in front. Migrations are not run.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        let store = SqliteStore::connect(url).await?;
        let cache = store.config_cache();
        Ok(Arc::new(cache::CachedStore::new(Arc::new(store), cache, None)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PostgresStore::connect(url).await?;
        let (cache, stop_listening) = store.config_cache();
        Ok(Arc::new(cache::CachedStore::new(Arc::new(store), cache, Some(stop_listening))))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// The table that holds a collection: its name.
fn table(collection: Collection) -> &'static str {
    collection.name()
}

/// The value of the collection's unique field in `document`, if it has one.
fn unique_key(collection: Collection, document: &Document) -> Option<String> {
    let field = collection.unique_field()?;
    document.body.get(field).and_then(|v| v.as_str()).map(str::to_string)
}

/// The value of the collection's lookup field in `document`, when it is a string.
fn lookup_key(collection: Collection, document: &Document) -> Option<String> {
    let mut segments = collection.lookup_field().split('.');
    let first = document.body.get(segments.next()?)?;
    segments.try_fold(first, |value, segment| value.get(segment))?.as_str().map(str::to_string)
}

/// Maps a unique-constraint violation to `Conflict` on the collection's unique field.
fn conflict_on(error: sqlx::Error, field: &'static str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { field },
        _ => StoreError::Database(error),
    }
}
