//! The storage operations, written once for both backends. SQL uses numbered placeholders
//! (`$1`), which PostgreSQL and SQLite both accept, and documents bind as `Json`, which each
//! driver stores natively (JSONB, or JSON text). Each backend module invokes [`sql_store!`]
//! with its own types, after defining `query(&Sql)`, which binds a built statement.

use crate::StoreError;
use jiff::Timestamp;
use std::borrow::Cow;

/// Epoch milliseconds, as timestamps are stored.
pub(crate) fn millis(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

/// A stored timestamp.
pub(crate) fn timestamp(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))
}

/// Most writes committed in one transaction.
pub(crate) const MAX_BATCH: usize = 128;

/// What the writer commits: everything an event produced, a step of a delivery, or a
/// provider's report about a message.
pub(crate) enum Write {
    Event(crate::EventCommit),
    Delivery(crate::DeliveryUpdate),
    Report(crate::DeliveryReport),
    Claim(JobClaim),
    Settle(String, crate::JobOutcome),
}

/// A claim of due jobs (see [`crate::Store::claim_due_jobs`]). On SQLite a claim is a write
/// like any other, so it goes through the writer: a claim on a connection of its own would
/// wait for the writer's lock in SQLite's busy handler, which sleeps for milliseconds at a time.
pub(crate) struct JobClaim {
    pub(crate) kinds: Vec<crate::JobKind>,
    pub(crate) now: Timestamp,
    pub(crate) lease_until: Timestamp,
    pub(crate) limit: u32,
}

impl Write {
    /// How many delivery jobs committing it adds.
    pub(crate) fn delivery_jobs(&self) -> usize {
        match self {
            Write::Event(commit) => commit.jobs.iter().filter(|job| job.kind == crate::JobKind::Delivery).count(),
            Write::Delivery(update) => usize::from(update.stand_in.is_some()),
            Write::Report(_) | Write::Claim(_) | Write::Settle(..) => 0,
        }
    }
}

/// What the writer answers.
pub(crate) enum Reply {
    /// An event or delivery step.
    Committed(crate::Committed),
    /// A report.
    Reported(Option<crate::ReportOutcome>),
    /// A claim.
    Claimed(Vec<crate::ClaimedJob>),
}

/// What a committed batch gives back besides its replies.
#[derive(Default)]
pub(crate) struct Written {
    /// Each write's answer, in order.
    pub(crate) replies: Vec<Reply>,
    /// Due delivery jobs written claimed, for this process's dispatcher.
    pub(crate) handed: Vec<crate::HandedJob>,
    /// `(tenant, entry)` of the notification-center entries written, numbered.
    pub(crate) created: Vec<(String, crate::InboxEntry)>,
}

/// Tells real-time connections of the committed `created` entries: one signal per user, with
/// their entries in `seq` order.
pub(crate) fn signal_created(signals: &tokio::sync::broadcast::Sender<crate::InboxSignal>, created: Vec<(String, crate::InboxEntry)>) {
    let mut by_user: std::collections::BTreeMap<(String, String), Vec<crate::InboxEntry>> = std::collections::BTreeMap::new();
    for (tenant, entry) in created {
        by_user.entry((tenant, entry.user_id.clone())).or_default().push(entry);
    }
    for ((tenant, user_id), created) in by_user {
        let _ = signals.send(crate::InboxSignal { tenant, user_id, created });
    }
}

/// A write waiting for the writer, and where to send its outcome.
pub(crate) struct PendingCommit {
    pub(crate) tenant: String,
    pub(crate) commit: Write,
    pub(crate) reply: tokio::sync::oneshot::Sender<Result<Reply, StoreError>>,
}

/// A migrator over embedded `(version, description, sql)` migrations.
pub(crate) fn migrator(migrations: &[(i64, &'static str, &'static str)]) -> sqlx::migrate::Migrator {
    let migrations = migrations
        .iter()
        .map(|&(version, description, sql)| {
            sqlx::migrate::Migration::new(
                version,
                Cow::Borrowed(description),
                sqlx::migrate::MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect::<Vec<_>>();
    sqlx::migrate::Migrator { migrations: Cow::Owned(migrations), ..sqlx::migrate::Migrator::DEFAULT }
}

/// Every migration, in order, as `(version, description, sql)`, with each backend's own SQL
/// from `migrations/<backend>/`: adding one means adding a file per backend and a line here.
macro_rules! migrations {
    ($backend:literal) => {
        [
            (1, "foundation", include_str!(concat!("../../migrations/", $backend, "/0001_foundation.sql"))),
            (2, "events", include_str!(concat!("../../migrations/", $backend, "/0002_events.sql"))),
            (3, "lookup keys", include_str!(concat!("../../migrations/", $backend, "/0003_lookup_keys.sql"))),
            (4, "drop expression index", include_str!(concat!("../../migrations/", $backend, "/0004_drop_expression_index.sql"))),
            (5, "job leases", include_str!(concat!("../../migrations/", $backend, "/0005_job_leases.sql"))),
            (6, "idempotency keys", include_str!(concat!("../../migrations/", $backend, "/0006_idempotency_keys.sql"))),
            (7, "fair claims", include_str!(concat!("../../migrations/", $backend, "/0007_fair_claims.sql"))),
            (8, "message log", include_str!(concat!("../../migrations/", $backend, "/0008_message_log.sql"))),
            (9, "files", include_str!(concat!("../../migrations/", $backend, "/0009_files.sql"))),
            (10, "audit and tenant profile", include_str!(concat!("../../migrations/", $backend, "/0010_audit_and_tenant_profile.sql"))),
            (11, "sms", include_str!(concat!("../../migrations/", $backend, "/0011_sms.sql"))),
            (12, "inbox", include_str!(concat!("../../migrations/", $backend, "/0012_inbox.sql"))),
            (13, "preferences", include_str!(concat!("../../migrations/", $backend, "/0013_preferences.sql"))),
            (14, "tenant providers", include_str!(concat!("../../migrations/", $backend, "/0014_tenant_providers.sql"))),
            (15, "whatsapp windows", include_str!(concat!("../../migrations/", $backend, "/0015_whatsapp_windows.sql"))),
            (16, "config changes", include_str!(concat!("../../migrations/", $backend, "/0016_config_changes.sql"))),
            (17, "drop jobs due", include_str!(concat!("../../migrations/", $backend, "/0017_drop_jobs_due.sql"))),
        ]
    };
}
pub(crate) use migrations;

/// Implements [`crate::Store`] for `$store` (a struct with a `pool` field) whose rows are
/// `$row`, whose JSON dialect is `$dialect` and whose migrations are in
/// `migrations/$backend/`.
macro_rules! sql_store {
    ($store:ident, $db:ty, $row:ty, $dialect:ty, $backend:literal) => {
        crate::sql::inbox::inbox_sql!($db, $row, $dialect, $backend);

        mod store_impl {
            use super::*;
            use crate::sql::store::{millis, timestamp};
            use crate::sql::{Bind, Sql, push_filter, push_order, statement_chunks};
            use crate::sql::store::{JobClaim, MAX_BATCH, PendingCommit, Reply, Write, Written, signal_created};
            use crate::delivery_feed::{HandedJob, Room};
            use crate::sql::chunked_statements;
            use crate::sql::{DeferredWrites, LogRow, MessageSet, push_log_filter, rows_of, upsert_log_rows};
            use crate::{DeliveryReport, LogDetails, MessageLogEntry, MessageLogQuery, ReportOutcome};
            use herald_core::notification::MessageStatus;
            use crate::{AuditQuery, AuditRecord, Committed, EventCommit};
            use herald_core::job::{ClaimedJob, Job, JobKind, JobStatus};
            use crate::{DeliveryUpdate, FileRecord, IdempotencyRecord, JobOutcome};
            use crate::sql::Dialect;
            use crate::{ApiKeyRecord, Store, StoreError, TenantRecord, Upserted, conflict_on, lookup_key, table, unique_key};
            use async_trait::async_trait;
            use herald_core::access::Role;
            use herald_core::document::Document;
            use herald_core::query::{Filter, ListQuery};
            use herald_core::resources::Collection;
            use herald_core::rules::preferences::{ClinicSettings, Preferences};
            use jiff::Timestamp;
            use herald_core::sms_safeguards::NumberUsage;
            use sqlx::Row;
            use sqlx::types::Json;

            const DOCUMENT_COLUMNS: &str = "id, doc, created_ms, updated_ms, creator_id, updater_id, revision";
            const JOB_COLUMNS: &str = "id, kind, due_ms, status, payload, attempts";
            /// Most document or job rows per INSERT (ten binds at most each).
            const ROWS_PER_STATEMENT: usize = 1024;
            const FILE_COLUMNS: &str = "tenant_id, id, name, content_type, size_bytes, sha256, created_ms, creator_id";

            fn file(row: &$row) -> Result<FileRecord, StoreError> {
                let size: i64 = row.try_get("size_bytes")?;
                Ok(FileRecord {
                    tenant: row.try_get("tenant_id")?,
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    content_type: row.try_get("content_type")?,
                    size: u64::try_from(size).unwrap_or_default(),
                    sha256: row.try_get("sha256")?,
                    created_at: timestamp(row.try_get("created_ms")?)?,
                    creator_id: row.try_get("creator_id")?,
                })
            }

            fn document(row: &$row) -> Result<Document, StoreError> {
                let Json(body) = row.try_get("doc")?;
                Ok(Document {
                    id: row.try_get("id")?,
                    body,
                    created_at: timestamp(row.try_get("created_ms")?)?,
                    updated_at: timestamp(row.try_get("updated_ms")?)?,
                    creator_id: row.try_get("creator_id")?,
                    updater_id: row.try_get("updater_id")?,
                    revision: row.try_get("revision")?,
                })
            }

            /// Starts the writer of `pool` (see [`write_loop`]), which announces the inbox
            /// entries it commits on `signals`: where writes are queued, and what it tells the
            /// dispatcher of the delivery jobs it commits.
            pub(crate) fn start_writer(
                pool: sqlx::Pool<$db>,
                signals: tokio::sync::broadcast::Sender<crate::InboxSignal>,
            ) -> (tokio::sync::mpsc::Sender<PendingCommit>, std::sync::Arc<crate::DeliveryFeed>) {
                let (commits, pending) = tokio::sync::mpsc::channel(1024);
                let feed = std::sync::Arc::new(crate::DeliveryFeed::default());
                tokio::spawn(write_loop(pool, pending, feed.clone(), signals));
                (commits, feed)
            }

            /// Commits what events, deliveries and providers' reports produced, many per
            /// transaction: each write queued while the previous transaction was committing joins
            /// the next one, so one durable flush serves them all. The events of a batch are
            /// written together — one multi-row statement per table for all of them — so a batch
            /// costs a handful of statements whatever its size. When anything in a batch fails, its
            /// transaction is rolled back and each write is retried in a transaction of its own, so
            /// a bad write fails alone and the others are committed. Due delivery jobs go to this
            /// process's dispatcher as `feed` says, and the inbox entries committed are
            /// announced on `signals` — both before the writes are answered.
            async fn write_loop(
                pool: sqlx::Pool<$db>,
                mut pending: tokio::sync::mpsc::Receiver<PendingCommit>,
                feed: std::sync::Arc<crate::DeliveryFeed>,
                signals: tokio::sync::broadcast::Sender<crate::InboxSignal>,
            ) {
                let mut connection = None;
                while let Some(first) = pending.recv().await {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match pending.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    let (mut handed, mut created) = (Vec::new(), Vec::new());
                    let results = match write_batch(&pool, &mut connection, &batch, feed.room()).await {
                        Ok(written) => {
                            (handed, created) = (written.handed, written.created);
                            written.replies.into_iter().map(Ok).collect()
                        }
                        Err(_) => {
                            let mut results = Vec::with_capacity(batch.len());
                            for item in &batch {
                                let written = write_batch(&pool, &mut connection, std::slice::from_ref(item), feed.room()).await;
                                // Handed over at once, so the room of the next write counts them.
                                results.push(written.map(|mut written| {
                                    feed.hand_over(written.handed);
                                    created.append(&mut written.created);
                                    written.replies.remove(0)
                                }));
                            }
                            results
                        }
                    };
                    signal_created(&signals, created);
                    // The dispatcher hears of new delivery jobs before their writers hear back.
                    let added: usize = batch.iter().zip(&results).filter(|(_, result)| result.is_ok()).map(|(item, _)| item.commit.delivery_jobs()).sum();
                    if added > handed.len() {
                        feed.added().notify_one();
                    }
                    feed.hand_over(handed);
                    for (item, result) in batch.into_iter().zip(results) {
                        let _ = item.reply.send(result);
                    }
                }
            }

            /// Writes `batch` in one transaction and answers each of its writes, in order, with
            /// the due delivery jobs it committed claimed for this process's dispatcher (as many
            /// as `room` allows; see [`crate::DeliveryFeed`]).
            ///
            /// The writer keeps `connection`, taken from `pool` when it has none, from one batch to
            /// the next. It is the only connection that writes events, so its page cache and its
            /// prepared statements stay valid between batches; any pool connection would have to
            /// read the pages again after the others' commits, and prepare its own statements. A
            /// failed batch gives the connection back, so a broken one is not kept.
            async fn write_batch(
                pool: &sqlx::Pool<$db>,
                connection: &mut Option<sqlx::pool::PoolConnection<$db>>,
                batch: &[PendingCommit],
                room: Option<Room>,
            ) -> Result<Written, StoreError> {
                let conn = match connection {
                    Some(conn) => conn,
                    None => connection.insert(pool.acquire().await?),
                };
                let written = write_batch_on(conn, batch, room).await;
                if written.is_err() {
                    *connection = None;
                }
                written
            }

            /// [`write_batch`] on `conn`.
            async fn write_batch_on(conn: &mut <$db as sqlx::Database>::Connection, batch: &[PendingCommit], mut room: Option<Room>) -> Result<Written, StoreError> {
                let mut tx = sqlx::Connection::begin_with(conn, <$dialect as Dialect>::BEGIN_WRITE).await?;
                let mut replies = Vec::with_capacity(batch.len());
                let mut events = Vec::new();
                let mut deferred = DeferredWrites::default();
                for item in batch {
                    replies.push(match &item.commit {
                        Write::Event(commit) => {
                            if claim_event_id(&mut tx, &item.tenant, commit).await? {
                                events.push((item.tenant.as_str(), commit));
                                Reply::Committed(Committed::Written)
                            } else {
                                Reply::Committed(Committed::Duplicate(first_response(&mut tx, &item.tenant, commit).await?))
                            }
                        }
                        Write::Delivery(update) => {
                            write_delivery(&mut tx, &item.tenant, update, &mut deferred).await?;
                            Reply::Committed(Committed::Written)
                        }
                        Write::Report(report) => {
                            write_deferred(&mut tx, &mut deferred).await?;
                            Reply::Reported(write_report(&mut tx, report).await?)
                        }
                        Write::Claim(claim) => {
                            write_deferred(&mut tx, &mut deferred).await?;
                            Reply::Claimed(claim_jobs(&mut tx, claim).await?)
                        }
                        Write::Settle(job_id, outcome) => {
                            settle(&mut tx, &item.tenant, job_id, outcome.clone()).await?;
                            Reply::Committed(Committed::Written)
                        }
                    });
                }
                write_deferred(&mut tx, &mut deferred).await?;
                let handed = write_events(&mut tx, &events, &mut room).await?;
                tx.commit().await?;
                Ok(Written { replies, handed, created: deferred.take_created() })
            }

            /// The answer first given to the event whose sender id `commit` repeats.
            async fn first_response(conn: &mut <$db as sqlx::Database>::Connection, tenant: &str, commit: &EventCommit) -> Result<serde_json::Value, StoreError> {
                let event_id = commit.dedup.as_ref().map(|d| d.event_id.clone()).unwrap_or_default();
                let row = sqlx::query("SELECT response FROM event_dedup WHERE tenant_id = $1 AND event_id = $2").bind(tenant).bind(event_id).fetch_optional(&mut *conn).await?;
                Ok(row.map(|row| row.try_get::<Json<serde_json::Value>, _>("response").map(|Json(v)| v)).transpose()?.unwrap_or(serde_json::Value::Null))
            }

            /// Writes what a batch's delivery steps put off so far.
            async fn write_deferred(conn: &mut <$db as sqlx::Database>::Connection, deferred: &mut DeferredWrites) -> Result<(), StoreError> {
                for sql in deferred.take_statements::<$dialect>() {
                    query(&sql).execute(&mut *conn).await?;
                }
                let entries = deferred.take_inbox();
                if !entries.is_empty() {
                    let created = super::inbox_impl::insert_all(&mut *conn, entries).await?;
                    deferred.created(created);
                }
                Ok(())
            }

            /// Puts `row` off to the end of the batch, first writing what was put off if that
            /// holds a row for the same message.
            async fn defer_log_row(conn: &mut <$db as sqlx::Database>::Connection, deferred: &mut DeferredWrites, row: &LogRow<'_>) -> Result<(), StoreError> {
                if deferred.holds_log_row(row) {
                    write_deferred(&mut *conn, deferred).await?;
                }
                deferred.log_row(row);
                Ok(())
            }

            /// Applies a provider's report (see [`crate::Store::record_report`]).
            async fn write_report(conn: &mut <$db as sqlx::Database>::Connection, report: &DeliveryReport) -> Result<Option<ReportOutcome>, StoreError> {
                let found = sqlx::query(
                    "SELECT tenant_id, notification_id, message_index FROM message_log \
                     WHERE provider_message_id = $1 AND service = $2 AND ($3 IS NULL OR tenant_id = $3) LIMIT 1",
                )
                .bind(&report.provider_message_id)
                .bind(&report.service)
                .bind(report.tenant.as_deref())
                .fetch_optional(&mut *conn)
                .await?;
                let Some(found) = found else { return Ok(None) };
                let tenant: String = found.try_get("tenant_id")?;
                let notification_id: String = found.try_get("notification_id")?;
                let index: i64 = found.try_get("message_index")?;
                let message_index = usize::try_from(index).unwrap_or(usize::MAX);
                let mut outcome = ReportOutcome { tenant, notification_id, message_index, applied: false };
                let select = format!("SELECT doc FROM notifications WHERE tenant_id = $1 AND id = $2{}", <$dialect as Dialect>::FOR_UPDATE);
                let row = sqlx::query(&select).bind(&outcome.tenant).bind(&outcome.notification_id).fetch_optional(&mut *conn).await?;
                let Some(row) = row else { return Ok(Some(outcome)) };
                let Json(doc): Json<serde_json::Value> = row.try_get("doc")?;
                let Some(mut message) = doc.get("messages").and_then(|m| m.get(message_index)).cloned() else { return Ok(Some(outcome)) };
                let current: Option<MessageStatus> = serde_json::from_value(message["status"].clone()).ok();
                if !current.is_some_and(|status| status.accepts_report(report.status)) {
                    return Ok(Some(outcome));
                }
                message["status"] = serde_json::Value::from(report.status.as_str());
                let change = serde_json::json!({"status": report.status.as_str(), "at": herald_core::document::format_timestamp(report.at)});
                match message.get_mut("history").and_then(serde_json::Value::as_array_mut) {
                    Some(history) => history.push(change),
                    None => message["history"] = serde_json::Value::Array(vec![change]),
                }
                if matches!(report.status, MessageStatus::Failed | MessageStatus::Bounced) {
                    message["error"] = serde_json::Value::from(report.detail.clone().unwrap_or_else(|| format!("the provider reported it {}", report.status.as_str())));
                }
                let set = MessageSet {
                    tenant: outcome.tenant.clone(),
                    notification_id: outcome.notification_id.clone(),
                    index: message_index,
                    message: message.clone(),
                    at_ms: millis(report.at),
                };
                query(&<$dialect as Dialect>::set_messages(&mut std::iter::once(set))).execute(&mut *conn).await?;
                sqlx::query("UPDATE message_log SET status = $1, error = $2, updated_ms = $3 WHERE tenant_id = $4 AND notification_id = $5 AND message_index = $6")
                    .bind(report.status.as_str())
                    .bind(message.get("error").and_then(serde_json::Value::as_str))
                    .bind(millis(report.at))
                    .bind(&outcome.tenant)
                    .bind(&outcome.notification_id)
                    .bind(index)
                    .execute(&mut *conn)
                    .await?;
                outcome.applied = true;
                Ok(Some(outcome))
            }

            /// Claims the sender's event id of `commit` for its dedup window; false when an event
            /// with that id was committed within the window (nothing is then written for it). An
            /// event without a sender id always claims.
            async fn claim_event_id(conn: &mut <$db as sqlx::Database>::Connection, tenant: &str, commit: &EventCommit) -> Result<bool, StoreError> {
                let Some(dedup) = &commit.dedup else { return Ok(true) };
                let event_doc_id = commit.event.as_ref().map(|e| e.id.clone()).unwrap_or_default();
                let claimed = sqlx::query(
                    "INSERT INTO event_dedup (tenant_id, event_id, event_doc_id, response, received_ms) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (tenant_id, event_id) DO UPDATE SET event_doc_id = excluded.event_doc_id, response = excluded.response, \
                     received_ms = excluded.received_ms WHERE event_dedup.received_ms < $6 RETURNING event_doc_id",
                )
                .bind(tenant)
                .bind(&dedup.event_id)
                .bind(&event_doc_id)
                .bind(Json(&dedup.response))
                .bind(millis(dedup.received_at))
                .bind(millis(dedup.window_start))
                .fetch_optional(&mut *conn)
                .await?;
                Ok(claimed.is_some())
            }

            /// Writes what the claimed events of a batch produced, each table's rows for all of
            /// them together, in chunks of [`statement_chunks`].
            /// Returns the delivery jobs written claimed, to hand over (see [`crate::DeliveryFeed`]).
            async fn write_events(conn: &mut <$db as sqlx::Database>::Connection, events: &[(&str, &EventCommit)], room: &mut Option<Room>) -> Result<Vec<HandedJob>, StoreError> {
                let records: Vec<(&str, &Document)> = events.iter().flat_map(|&(tenant, commit)| commit.event.iter().map(move |doc| (tenant, doc))).collect();
                let notifications: Vec<(&str, &Document)> =
                    events.iter().flat_map(|&(tenant, commit)| commit.notifications.iter().map(move |doc| (tenant, doc))).collect();
                for (collection, docs) in [(Collection::Events, records), (Collection::Notifications, notifications)] {
                    for chunk in statement_chunks(&docs, ROWS_PER_STATEMENT) {
                        let mut sql = Sql::new(&format!(
                            "INSERT INTO {} (tenant_id, id, unique_key, lookup_key, doc, created_ms, updated_ms, creator_id, updater_id, revision) VALUES ",
                            table(collection)
                        ));
                        sql.push_rows(chunk.iter().map(|&(tenant, doc)| {
                            vec![
                                Bind::Text(tenant.to_string()),
                                Bind::Text(doc.id.clone()),
                                Bind::Null,
                                lookup_key(collection, doc).map_or(Bind::Null, Bind::Text),
                                Bind::json_text(&doc.body),
                                Bind::Int(millis(doc.created_at)),
                                Bind::Int(millis(doc.updated_at)),
                                Bind::Text(doc.creator_id.clone()),
                                Bind::Text(doc.updater_id.clone()),
                                Bind::Int(doc.revision),
                            ]
                        }));
                        query(&sql).execute(&mut *conn).await?;
                    }
                }
                let rows: Vec<LogRow<'_>> = events
                    .iter()
                    .flat_map(|&(tenant, commit)| commit.notifications.iter().chain(&commit.updated_notifications).map(move |doc| (tenant, doc)))
                    .flat_map(|(tenant, doc)| rows_of(tenant, &doc.id, &doc.body, &doc.creator_id, doc.created_at, doc.updated_at))
                    .collect();
                for sql in upsert_log_rows(rows.iter().map(LogRow::binds).collect()) {
                    query(&sql).execute(&mut *conn).await?;
                }
                for &(tenant, commit) in events {
                    for doc in &commit.updated_notifications {
                        sqlx::query("UPDATE notifications SET doc = $1, updated_ms = $2, updater_id = $3, revision = revision + 1, lookup_key = $6 WHERE tenant_id = $4 AND id = $5")
                            .bind(Json(&doc.body))
                            .bind(millis(doc.updated_at))
                            .bind(&doc.updater_id)
                            .bind(tenant)
                            .bind(&doc.id)
                            .bind(lookup_key(Collection::Notifications, doc))
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                let mut handed = Vec::new();
                let mut jobs = Vec::new();
                for &(tenant, commit) in events {
                    let created = commit.event.as_ref().map(|e| e.created_at);
                    let mut event = None;
                    let created_ms = millis(created.unwrap_or_else(|| commit.jobs.first().map_or(Timestamp::UNIX_EPOCH, |j| j.due_at)));
                    for job in &commit.jobs {
                        let Some((claimed, lease_until)) = room.as_mut().and_then(|room| room.claim(job, created)) else {
                            jobs.push(job_row(tenant, job, created_ms, None));
                            continue;
                        };
                        jobs.push(job_row(tenant, &claimed, created_ms, Some(millis(lease_until))));
                        let notification_id = job.payload.get("notification").and_then(serde_json::Value::as_str);
                        let notification = commit.notifications.iter().find(|n| Some(n.id.as_str()) == notification_id).cloned();
                        let event = event.get_or_insert_with(|| commit.event.clone().map(std::sync::Arc::new)).clone();
                        handed.push(HandedJob { claimed: ClaimedJob { tenant: tenant.to_string(), job: claimed }, notification, event });
                    }
                }
                for sql in chunked_statements(jobs, ROWS_PER_STATEMENT, insert_jobs) {
                    query(&sql).execute(&mut *conn).await?;
                }
                for &(tenant, commit) in events.iter().filter(|(_, commit)| !commit.aborted_jobs.is_empty()) {
                    let mut sql = Sql::new("UPDATE jobs SET status = 'aborted' WHERE tenant_id = ");
                    sql.bind(Bind::Text(tenant.to_string())).push(" AND status = 'pending' AND id IN ");
                    sql.push_rows([commit.aborted_jobs.iter().map(|id| Bind::Text(id.clone())).collect()]);
                    query(&sql).execute(&mut *conn).await?;
                }
                Ok(handed)
            }

        /// Writes a step of a delivery (see [`DeliveryUpdate`]), putting the message, its log rows
        /// and, when its job is done, the job's settlement off to the end of the batch (see
        /// [`DeferredWrites`]).
        async fn write_delivery<'a>(
            tx: &mut <$db as sqlx::Database>::Connection,
            tenant: &'a str,
            update: &'a DeliveryUpdate,
            deferred: &mut DeferredWrites,
        ) -> Result<(), StoreError> {
                let changed = |expression: &dyn Fn(&mut Sql)| {
                    let mut sql = Sql::new("UPDATE notifications SET doc = ");
                    expression(&mut sql);
                    sql.push(", updated_ms = ").bind(Bind::Int(millis(update.at))).push(", revision = revision + 1 WHERE tenant_id = ");
                    sql.bind(Bind::Text(tenant.to_string())).push(" AND id = ").bind(Bind::Text(update.notification_id.clone()));
                    sql
                };
                if deferred.holds_notification(tenant, &update.notification_id) {
                    write_deferred(&mut *tx, deferred).await?;
                }
                deferred.set_message(MessageSet {
                    tenant: tenant.to_string(),
                    notification_id: update.notification_id.clone(),
                    index: update.message_index,
                    message: update.message.clone(),
                    at_ms: millis(update.at),
                });
                let owner = serde_json::json!({"recipient": update.log.recipient, "event": {"id": update.log.event_id, "name": update.log.event_name}});
                let owner = owner.as_object().expect("built as an object");
                let row = |index: usize, message: &'a serde_json::Value, details: Option<&'a LogDetails>| LogRow {
                    tenant,
                    notification_id: &update.notification_id,
                    index,
                    notification: owner,
                    message,
                    details,
                    triggered_by: &update.log.triggered_by,
                    created: update.at,
                    at: update.at,
                };
                defer_log_row(&mut *tx, deferred, &row(update.message_index, &update.message, Some(&update.log))).await?;
                if let Some(entry) = &update.inbox {
                    deferred.add_to_inbox(tenant, (**entry).clone());
                }
                if update.failure.is_some() || update.stand_in.is_some() {
                    write_deferred(&mut *tx, deferred).await?;
                }
                if let Some(failure) = &update.failure {
                    let sql = changed(&|sql| <$dialect as Dialect>::append_element(sql, "failures", failure.clone()));
                    query(&sql).execute(&mut *tx).await?;
                }
                if let Some((message, job)) = &update.stand_in {
                    let mut sql = changed(&|sql| <$dialect as Dialect>::append_element(sql, "messages", message.clone()));
                    sql.push(" RETURNING CAST(");
                    <$dialect as Dialect>::array_length(&mut sql, "messages");
                    sql.push(" AS BIGINT) AS length");
                    let length: i64 = query(&sql).fetch_one(&mut *tx).await?.try_get("length")?;
                    defer_log_row(&mut *tx, deferred, &row(usize::try_from(length - 1).unwrap_or_default(), message, None)).await?;
                    let mut job = job.clone();
                    job.payload["message"] = serde_json::Value::from(length - 1);
                    query(&insert_jobs(&mut std::iter::once(job_row(tenant, &job, millis(update.at), None)))).execute(&mut *tx).await?;
                }
                match &update.job {
                    Some((job_id, JobOutcome::Done)) => deferred.job_done(tenant, job_id),
                    Some((job_id, outcome)) => settle(&mut *tx, tenant, job_id, outcome.clone()).await?,
                    None => {}
                }
                Ok(())
            }

            /// A job's row for [`insert_jobs`], created (and last updated) at `created_ms`, leased
            /// until `lease_ms` when it is written claimed.
            fn job_row(tenant: &str, job: &Job, created_ms: i64, lease_ms: Option<i64>) -> Vec<Bind> {
                vec![
                    Bind::Text(tenant.to_string()),
                    Bind::Text(job.id.clone()),
                    Bind::Text(job.kind.as_str().to_string()),
                    Bind::Int(millis(job.due_at)),
                    Bind::Text(job.status.as_str().to_string()),
                    Bind::json_text(&job.payload),
                    Bind::Int(i64::from(job.attempts)),
                    Bind::Int(created_ms),
                    Bind::Int(created_ms),
                    Bind::MaybeInt(lease_ms),
                ]
            }

            /// One `INSERT` of `rows` (see [`job_row`]).
            fn insert_jobs(rows: &mut dyn Iterator<Item = Vec<Bind>>) -> Sql {
                let mut sql = Sql::new("INSERT INTO jobs (tenant_id, id, kind, due_ms, status, payload, attempts, created_ms, updated_ms, lease_ms) VALUES ");
                sql.push_rows(rows);
                sql
            }

            /// Claims due jobs as `claim` says (see [`crate::Store::claim_due_jobs`]).
            async fn claim_jobs(conn: &mut <$db as sqlx::Database>::Connection, claim: &JobClaim) -> Result<Vec<ClaimedJob>, StoreError> {
                let tenants: Vec<String> = sqlx::query_scalar("SELECT slug FROM tenants ORDER BY slug").fetch_all(&mut *conn).await?;
                if tenants.is_empty() {
                    return Ok(Vec::new());
                }
                let share = claim.limit.div_ceil(u32::try_from(tenants.len()).unwrap_or(u32::MAX)).max(1);
                let mut sql = Sql::new("UPDATE jobs SET status = 'running', lease_ms = ");
                sql.bind(Bind::Int(millis(claim.lease_until))).push(", attempts = attempts + 1, updated_ms = ").bind(Bind::Int(millis(claim.now)));
                sql.push(" WHERE seq IN (SELECT seq FROM (");
                // Per tenant, due pending jobs and running jobs whose lease ran out, each as
                // its own index range (an OR of the two would scan every pending job).
                for (i, tenant) in tenants.iter().enumerate() {
                    for (part, (status, time)) in [("pending", "due_ms"), ("running", "lease_ms")].into_iter().enumerate() {
                        if i + part > 0 {
                            sql.push(" UNION ALL ");
                        }
                        sql.push("SELECT seq, due_ms FROM (SELECT seq, due_ms FROM jobs WHERE tenant_id = ").bind(Bind::Text(tenant.clone()));
                        sql.push(" AND kind IN ").push_rows([claim.kinds.iter().map(|k| Bind::Text(k.as_str().to_string())).collect()]);
                        sql.push(&format!(" AND status = '{status}' AND {time} <= ")).bind(Bind::Int(millis(claim.now)));
                        sql.push(" ORDER BY due_ms, seq LIMIT ").bind(Bind::Int(i64::from(share))).push(<$dialect as Dialect>::SKIP_LOCKED);
                        sql.push(&format!(") t{i}_{part}"));
                    }
                }
                sql.push(") fair ORDER BY due_ms, seq LIMIT ").bind(Bind::Int(i64::from(claim.limit)));
                sql.push(") RETURNING tenant_id, ").push(JOB_COLUMNS);
                let rows = query(&sql).fetch_all(&mut *conn).await?;
                let mut claimed = rows.iter().map(|row| Ok(ClaimedJob { tenant: row.try_get("tenant_id")?, job: job(row)? })).collect::<Result<Vec<_>, StoreError>>()?;
                claimed.sort_by_key(|c| c.job.due_at);
                Ok(claimed)
            }

            /// Settles a running job as `outcome` says; a job no longer running is left alone.
            async fn settle(conn: &mut <$db as sqlx::Database>::Connection, tenant: &str, job_id: &str, outcome: JobOutcome) -> Result<(), StoreError> {
                let (status, due, error, refund) = match outcome {
                    JobOutcome::Done => ("done", None, None, 0),
                    JobOutcome::Failed(error) => ("failed", None, Some(error), 0),
                    JobOutcome::Retry(at, error) => ("pending", Some(millis(at)), Some(error), 0),
                    JobOutcome::Defer(at) => ("pending", Some(millis(at)), None, 1),
                };
                sqlx::query(
                    "UPDATE jobs SET status = $1, due_ms = COALESCE($2, due_ms), last_error = COALESCE($3, last_error), lease_ms = NULL, \
                     attempts = attempts - $6 WHERE tenant_id = $4 AND id = $5 AND status = 'running'",
                )
                .bind(status)
                .bind(due)
                .bind(error)
                .bind(tenant)
                .bind(job_id)
                .bind(refund)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            impl $store {
                /// Tells this process's real-time connections that a user's inbox changed.
                fn signal_inbox(&self, tenant: &str, user_id: &str) {
                    let _ = self.inbox_signals.send(crate::InboxSignal::changed(tenant, user_id));
                }

                /// Hands a write to the writer, which commits it with the others waiting, and
                /// waits for its outcome.
                async fn queue_write(&self, tenant: &str, commit: Write) -> Result<Reply, StoreError> {
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    let pending = PendingCommit { tenant: tenant.to_string(), commit, reply };
                    self.commits.send(pending).await.map_err(|_| StoreError::Closed)?;
                    answer.await.map_err(|_| StoreError::Closed)?
                }
            }

            fn job(row: &$row) -> Result<Job, StoreError> {
                let decode = |what: &str| StoreError::Database(sqlx::Error::Decode(format!("unknown job {what}").into()));
                let kind: String = row.try_get("kind")?;
                let status: String = row.try_get("status")?;
                let Json(payload) = row.try_get("payload")?;
                let attempts: i64 = row.try_get("attempts")?;
                Ok(Job {
                    id: row.try_get("id")?,
                    kind: JobKind::parse(&kind).ok_or_else(|| decode("kind"))?,
                    due_at: timestamp(row.try_get("due_ms")?)?,
                    status: JobStatus::parse(&status).ok_or_else(|| decode("status"))?,
                    payload,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                })
            }

            fn tenant(row: &$row) -> Result<TenantRecord, StoreError> {
                Ok(TenantRecord {
                    slug: row.try_get("slug")?,
                    name: row.try_get("name")?,
                    time_zone: row.try_get("time_zone")?,
                    phone: row.try_get("phone")?,
                    email: row.try_get("email")?,
                    default_locale: row.try_get("default_locale")?,
                    created_at: timestamp(row.try_get("created_ms")?)?,
                })
            }

            fn log_entry(row: &$row) -> Result<MessageLogEntry, StoreError> {
                let index: i64 = row.try_get("message_index")?;
                let sent: Option<i64> = row.try_get("sent_ms")?;
                Ok(MessageLogEntry {
                    notification_id: row.try_get("notification_id")?,
                    message_index: usize::try_from(index).unwrap_or_default(),
                    channel: row.try_get("channel")?,
                    template_name: row.try_get("template_name")?,
                    recipient: row.try_get("recipient")?,
                    address: row.try_get("address")?,
                    subject: row.try_get("subject")?,
                    event_id: row.try_get("event_id")?,
                    event_name: row.try_get("event_name")?,
                    status: row.try_get("status")?,
                    reason: row.try_get("reason")?,
                    error: row.try_get("error")?,
                    service: row.try_get("service")?,
                    provider_message_id: row.try_get("provider_message_id")?,
                    triggered_by: row.try_get("triggered_by")?,
                    created_at: timestamp(row.try_get("created_ms")?)?,
                    updated_at: timestamp(row.try_get("updated_ms")?)?,
                    sent_at: sent.map(timestamp).transpose()?,
                })
            }

            fn audit(row: &$row) -> Result<AuditRecord, StoreError> {
                let Json(changes) = row.try_get("changes")?;
                Ok(AuditRecord {
                    seq: row.try_get("seq")?,
                    id: row.try_get("id")?,
                    tenant: row.try_get("tenant_id")?,
                    at: timestamp(row.try_get("at_ms")?)?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    changes,
                    source: row.try_get("source")?,
                })
            }

            fn api_key(row: &$row) -> Result<ApiKeyRecord, StoreError> {
                let role: String = row.try_get("role")?;
                let revoked: Option<i64> = row.try_get("revoked_ms")?;
                Ok(ApiKeyRecord {
                    key_id: row.try_get("key_id")?,
                    tenant: row.try_get("tenant_id")?,
                    role: Role::parse(&role)
                        .map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))?,
                    key_hash: row.try_get("key_hash")?,
                    created_at: timestamp(row.try_get("created_ms")?)?,
                    revoked_at: revoked.map(timestamp).transpose()?,
                })
            }

            fn unique_field(collection: Collection) -> &'static str {
                collection.unique_field().unwrap_or("_id")
            }

            #[async_trait]
            impl Store for $store {

                async fn migrate(&self) -> Result<(), StoreError> {
                    crate::sql::store::migrator(&crate::sql::store::migrations!($backend)).run(&self.pool).await?;
                    Ok(())
                }

                async fn ping(&self) -> Result<(), StoreError> {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                }

                async fn create_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError> {
                    sqlx::query("INSERT INTO tenants (slug, name, time_zone, phone, email, default_locale, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                        .bind(&tenant.slug)
                        .bind(&tenant.name)
                        .bind(&tenant.time_zone)
                        .bind(&tenant.phone)
                        .bind(&tenant.email)
                        .bind(&tenant.default_locale)
                        .bind(millis(tenant.created_at))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| conflict_on(e, "slug"))?;
                    Ok(())
                }

                async fn find_tenant(&self, slug: &str) -> Result<Option<TenantRecord>, StoreError> {
                    let row = sqlx::query("SELECT slug, name, time_zone, phone, email, default_locale, created_ms FROM tenants WHERE slug = $1")
                        .bind(slug)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(tenant).transpose()
                }

                async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
                    let rows =
                        sqlx::query("SELECT slug, name, time_zone, phone, email, default_locale, created_ms FROM tenants ORDER BY created_ms, slug")
                            .fetch_all(&self.pool)
                            .await?;
                    rows.iter().map(tenant).collect()
                }

                async fn update_tenant(&self, tenant: &TenantRecord) -> Result<bool, StoreError> {
                    let done = sqlx::query("UPDATE tenants SET name = $1, time_zone = $2, phone = $3, email = $4, default_locale = $5 WHERE slug = $6")
                        .bind(&tenant.name)
                        .bind(&tenant.time_zone)
                        .bind(&tenant.phone)
                        .bind(&tenant.email)
                        .bind(&tenant.default_locale)
                        .bind(&tenant.slug)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn append_audit(&self, entry: &AuditRecord) -> Result<(), StoreError> {
                    sqlx::query("INSERT INTO audit_log (tenant_id, id, at_ms, actor, action, target, changes, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                        .bind(&entry.tenant)
                        .bind(&entry.id)
                        .bind(millis(entry.at))
                        .bind(&entry.actor)
                        .bind(&entry.action)
                        .bind(&entry.target)
                        .bind(Json(&entry.changes))
                        .bind(&entry.source)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn list_audit(&self, tenant: &str, selection: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
                    let mut sql = Sql::new("SELECT seq, id, tenant_id, at_ms, actor, action, target, changes, source FROM audit_log WHERE tenant_id = ");
                    sql.bind(Bind::Text(tenant.to_string()));
                    for (column, value) in [("action", &selection.action), ("actor", &selection.actor), ("target", &selection.target)] {
                        if let Some(value) = value {
                            sql.push(&format!(" AND {column} = ")).bind(Bind::Text(value.clone()));
                        }
                    }
                    if let Some(since) = selection.since {
                        sql.push(" AND at_ms >= ").bind(Bind::Int(millis(since)));
                    }
                    if let Some(until) = selection.until {
                        sql.push(" AND at_ms < ").bind(Bind::Int(millis(until)));
                    }
                    if let Some(before) = selection.before_seq {
                        sql.push(" AND seq < ").bind(Bind::Int(before));
                    }
                    sql.push(" ORDER BY seq DESC LIMIT ").bind(Bind::Int(i64::from(selection.limit)));
                    let rows = query(&sql).fetch_all(&self.pool).await?;
                    rows.iter().map(audit).collect()
                }

                async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
                    sqlx::query("INSERT INTO api_keys (key_id, tenant_id, role, key_hash, created_ms, revoked_ms) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(&key.key_id)
                        .bind(&key.tenant)
                        .bind(key.role.as_str())
                        .bind(&key.key_hash)
                        .bind(millis(key.created_at))
                        .bind(key.revoked_at.map(millis))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| conflict_on(e, "key"))?;
                    Ok(())
                }

                async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
                    let row = sqlx::query("SELECT * FROM api_keys WHERE key_hash = $1")
                        .bind(key_hash)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(api_key).transpose()
                }

                async fn list_api_keys(&self, tenant: &str) -> Result<Vec<ApiKeyRecord>, StoreError> {
                    let rows =
                        sqlx::query("SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_ms, key_id")
                            .bind(tenant)
                            .fetch_all(&self.pool)
                            .await?;
                    rows.iter().map(api_key).collect()
                }

                async fn revoke_api_key(
                    &self,
                    tenant: &str,
                    key_id: &str,
                    at: Timestamp,
                ) -> Result<bool, StoreError> {
                    let done = sqlx::query("UPDATE api_keys SET revoked_ms = $1 WHERE tenant_id = $2 AND key_id = $3 AND revoked_ms IS NULL")
                        .bind(millis(at))
                        .bind(tenant)
                        .bind(key_id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn insert_documents(
                    &self,
                    collection: Collection,
                    tenant: &str,
                    documents: &[Document],
                ) -> Result<(), StoreError> {
                    let sql = format!(
                        "INSERT INTO {} (tenant_id, id, unique_key, doc, created_ms, updated_ms, creator_id, updater_id, revision, lookup_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        table(collection)
                    );
                    let mut tx = self.pool.begin().await?;
                    for doc in documents {
                        sqlx::query(&sql)
                            .bind(tenant)
                            .bind(&doc.id)
                            .bind(unique_key(collection, doc))
                            .bind(Json(&doc.body))
                            .bind(millis(doc.created_at))
                            .bind(millis(doc.updated_at))
                            .bind(&doc.creator_id)
                            .bind(&doc.updater_id)
                            .bind(doc.revision)
                            .bind(lookup_key(collection, doc))
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| conflict_on(e, unique_field(collection)))?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn upsert_documents(
                    &self,
                    collection: Collection,
                    tenant: &str,
                    documents: &[Document],
                ) -> Result<Vec<Upserted>, StoreError> {
                    let sql = format!(
                        "INSERT INTO {t} (tenant_id, id, unique_key, doc, created_ms, updated_ms, creator_id, updater_id, revision, lookup_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9) \
                         ON CONFLICT (tenant_id, unique_key) DO UPDATE SET doc = excluded.doc, lookup_key = excluded.lookup_key, updated_ms = excluded.updated_ms, \
                         updater_id = excluded.updater_id, revision = {t}.revision + 1 RETURNING id, revision",
                        t = table(collection)
                    );
                    let mut outcome = Vec::with_capacity(documents.len());
                    let mut tx = self.pool.begin().await?;
                    for doc in documents {
                        let row = sqlx::query(&sql)
                            .bind(tenant)
                            .bind(&doc.id)
                            .bind(unique_key(collection, doc))
                            .bind(Json(&doc.body))
                            .bind(millis(doc.created_at))
                            .bind(millis(doc.updated_at))
                            .bind(&doc.creator_id)
                            .bind(&doc.updater_id)
                            .bind(lookup_key(collection, doc))
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(|e| conflict_on(e, unique_field(collection)))?;
                        let revision: i64 = row.try_get("revision")?;
                        outcome.push(Upserted {
                            id: row.try_get("id")?,
                            inserted: revision == 1,
                        });
                    }
                    tx.commit().await?;
                    Ok(outcome)
                }

                async fn get_document(
                    &self,
                    collection: Collection,
                    tenant: &str,
                    id: &str,
                ) -> Result<Option<Document>, StoreError> {
                    let sql = format!(
                        "SELECT {DOCUMENT_COLUMNS} FROM {} WHERE tenant_id = $1 AND id = $2",
                        table(collection)
                    );
                    let row = sqlx::query(&sql)
                        .bind(tenant)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(document).transpose()
                }

                async fn find_documents(
                    &self,
                    collection: Collection,
                    tenant: &str,
                    list: &ListQuery,
                ) -> Result<Vec<Document>, StoreError> {
                    let mut sql = Sql::new(&format!(
                            "SELECT {DOCUMENT_COLUMNS} FROM {} WHERE tenant_id = ",
                            table(collection)
                        ),
                    );
                    sql.bind(Bind::Text(tenant.to_string())).push(" AND ");
                    push_filter::<$dialect>(&mut sql, &list.filter, collection.lookup_field());
                    push_order::<$dialect>(&mut sql, &list.sort);
                    sql.push(" LIMIT ")
                        .bind(Bind::Int(list.limit.into()))
                        .push(" OFFSET ")
                        .bind(Bind::Int(list.skip.min(i64::MAX as u64) as i64));
                    let rows = query(&sql).fetch_all(&self.pool).await?;
                    rows.iter().map(document).collect()
                }

                async fn count_documents(
                    &self,
                    collection: Collection,
                    tenant: &str,
                    filter: &Filter,
                ) -> Result<u64, StoreError> {
                    let mut sql = Sql::new(&format!(
                            "SELECT COUNT(*) FROM {} WHERE tenant_id = ",
                            table(collection)
                        ),
                    );
                    sql.bind(Bind::Text(tenant.to_string())).push(" AND ");
                    push_filter::<$dialect>(&mut sql, filter, collection.lookup_field());
                    let count: i64 = query(&sql).fetch_one(&self.pool).await?.try_get(0)?;
                    Ok(count as u64)
                }

                async fn replace_document(
                    &self,
                    collection: Collection,
                    tenant: &str,
                    doc: &Document,
                    expected_revision: i64,
                ) -> Result<bool, StoreError> {
                    let sql = format!(
                        "UPDATE {} SET unique_key = $1, doc = $2, updated_ms = $3, updater_id = $4, revision = revision + 1, lookup_key = $8 WHERE tenant_id = $5 AND id = $6 AND revision = $7",
                        table(collection)
                    );
                    let done = sqlx::query(&sql)
                        .bind(unique_key(collection, doc))
                        .bind(Json(&doc.body))
                        .bind(millis(doc.updated_at))
                        .bind(&doc.updater_id)
                        .bind(tenant)
                        .bind(&doc.id)
                        .bind(expected_revision)
                        .bind(lookup_key(collection, doc))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| conflict_on(e, unique_field(collection)))?;
                    Ok(done.rows_affected() == 1)
                }

                async fn delete_document(
                    &self,
                    collection: Collection,
                    tenant: &str,
                    id: &str,
                ) -> Result<bool, StoreError> {
                    let sql = format!(
                        "DELETE FROM {} WHERE tenant_id = $1 AND id = $2",
                        table(collection)
                    );
                    let done = sqlx::query(&sql)
                        .bind(tenant)
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn find_duplicate(&self, tenant: &str, event_id: &str, window_start: Timestamp) -> Result<Option<serde_json::Value>, StoreError> {
                    let row = sqlx::query("SELECT response FROM event_dedup WHERE tenant_id = $1 AND event_id = $2 AND received_ms >= $3")
                        .bind(tenant)
                        .bind(event_id)
                        .bind(millis(window_start))
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(|row| row.try_get::<Json<serde_json::Value>, _>("response").map(|Json(v)| v)).transpose().map_err(StoreError::from)
                }

                async fn commit_event(&self, tenant: &str, commit: EventCommit) -> Result<Committed, StoreError> {
                    match self.queue_write(tenant, Write::Event(commit)).await? {
                        Reply::Committed(committed) => Ok(committed),
                        _ => unreachable!("an event commit is answered as one"),
                    }
                }

                async fn claim_due_jobs(&self, kinds: &[JobKind], now: Timestamp, lease_until: Timestamp, limit: u32) -> Result<Vec<ClaimedJob>, StoreError> {
                    if kinds.is_empty() {
                        return Ok(Vec::new());
                    }
                    let claim = JobClaim { kinds: kinds.to_vec(), now, lease_until, limit };
                    match self.queue_write("", Write::Claim(claim)).await? {
                        Reply::Claimed(claimed) => Ok(claimed),
                        _ => unreachable!("a claim is answered as one"),
                    }
                }

                async fn settle_job(&self, tenant: &str, job_id: &str, outcome: JobOutcome) -> Result<(), StoreError> {
                    self.queue_write(tenant, Write::Settle(job_id.to_string(), outcome)).await?;
                    Ok(())
                }

                async fn record_delivery(&self, tenant: &str, update: DeliveryUpdate) -> Result<(), StoreError> {
                    self.queue_write(tenant, Write::Delivery(update)).await?;
                    Ok(())
                }

                async fn list_inbox(&self, tenant: &str, selection: &crate::InboxQuery) -> Result<(Vec<crate::InboxEntry>, u64), StoreError> {
                    super::inbox_impl::list(&self.pool, tenant, selection).await
                }

                async fn count_unread_inbox(&self, tenant: &str, user_id: &str) -> Result<u64, StoreError> {
                    super::inbox_impl::unread(&self.pool, tenant, user_id).await
                }

                async fn change_inbox_entry(
                    &self,
                    tenant: &str,
                    user_id: &str,
                    id: &str,
                    action: crate::InboxAction,
                    at: Timestamp,
                ) -> Result<Option<(crate::InboxEntry, bool)>, StoreError> {
                    let changed = super::inbox_impl::change(&self.pool, tenant, user_id, id, action, at).await?;
                    if changed.as_ref().is_some_and(|(_, changed)| *changed) {
                        self.signal_inbox(tenant, user_id);
                    }
                    Ok(changed)
                }

                async fn read_all_inbox(&self, tenant: &str, user_id: &str, at: Timestamp) -> Result<Vec<(String, usize)>, StoreError> {
                    let changed = super::inbox_impl::read_all(&self.pool, tenant, user_id, at).await?;
                    if !changed.is_empty() {
                        self.signal_inbox(tenant, user_id);
                    }
                    Ok(changed)
                }

                async fn inbox_since(&self, tenant: &str, user_id: &str, after: i64, limit: u32) -> Result<Vec<crate::InboxEntry>, StoreError> {
                    super::inbox_impl::since(&self.pool, tenant, user_id, after, limit).await
                }

                async fn inbox_seq(&self, tenant: &str, user_id: &str) -> Result<i64, StoreError> {
                    let last: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM inbox_counters WHERE tenant_id = $1 AND user_id = $2")
                        .bind(tenant)
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(last.unwrap_or_default())
                }

                fn inbox_signals(&self) -> tokio::sync::broadcast::Receiver<crate::InboxSignal> {
                    self.subscribe_inbox()
                }

                fn delivery_feed(&self) -> std::sync::Arc<crate::DeliveryFeed> {
                    self.delivery_feed.clone()
                }

                async fn record_report(&self, report: DeliveryReport) -> Result<Option<ReportOutcome>, StoreError> {
                    match self.queue_write("", Write::Report(report)).await? {
                        Reply::Reported(outcome) => Ok(outcome),
                        _ => unreachable!("a report is answered as one"),
                    }
                }

                async fn list_message_log(&self, tenant: &str, selection: &MessageLogQuery) -> Result<(Vec<MessageLogEntry>, u64), StoreError> {
                    let mut count = Sql::new("SELECT COUNT(*) AS total");
                    push_log_filter(&mut count, tenant, selection);
                    let total: i64 = query(&count).fetch_one(&self.pool).await?.try_get("total")?;
                    let mut page = Sql::new("SELECT *");
                    push_log_filter(&mut page, tenant, selection);
                    page.push(" ORDER BY created_ms DESC, notification_id DESC, message_index LIMIT ").bind(Bind::Int(i64::from(selection.limit)));
                    page.push(" OFFSET ").bind(Bind::Int(i64::try_from(selection.offset).unwrap_or(i64::MAX)));
                    let rows = query(&page).fetch_all(&self.pool).await?;
                    let entries = rows.iter().map(log_entry).collect::<Result<Vec<_>, _>>()?;
                    Ok((entries, u64::try_from(total).unwrap_or_default()))
                }

                async fn claim_idempotency_key(&self, tenant: &str, route: &str, key: &str, body_hash: &str, now: Timestamp, expired_before: Timestamp) -> Result<bool, StoreError> {
                    let claimed = sqlx::query(
                        "INSERT INTO idempotency_keys (tenant_id, route, key, body_hash, status, response, created_ms) VALUES ($1, $2, $3, $4, NULL, NULL, $5) \
                         ON CONFLICT (tenant_id, route, key) DO UPDATE SET body_hash = excluded.body_hash, status = NULL, response = NULL, created_ms = excluded.created_ms \
                         WHERE idempotency_keys.created_ms < $6 RETURNING key",
                    )
                    .bind(tenant)
                    .bind(route)
                    .bind(key)
                    .bind(body_hash)
                    .bind(millis(now))
                    .bind(millis(expired_before))
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(claimed.is_some())
                }

                async fn find_idempotency_key(&self, tenant: &str, route: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
                    let row = sqlx::query("SELECT body_hash, status, response, created_ms FROM idempotency_keys WHERE tenant_id = $1 AND route = $2 AND key = $3")
                        .bind(tenant)
                        .bind(route)
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await?;
                    let Some(row) = row else { return Ok(None) };
                    let status: Option<i64> = row.try_get("status")?;
                    let response: Option<Json<serde_json::Value>> = row.try_get("response")?;
                    Ok(Some(IdempotencyRecord {
                        body_hash: row.try_get("body_hash")?,
                        response: status.zip(response).map(|(status, Json(body))| (u16::try_from(status).unwrap_or(500), body)),
                        created_at: timestamp(row.try_get("created_ms")?)?,
                    }))
                }

                async fn answer_idempotency_key(&self, tenant: &str, route: &str, key: &str, status: u16, response: &serde_json::Value) -> Result<(), StoreError> {
                    sqlx::query("UPDATE idempotency_keys SET status = $1, response = $2 WHERE tenant_id = $3 AND route = $4 AND key = $5")
                        .bind(i64::from(status))
                        .bind(Json(response))
                        .bind(tenant)
                        .bind(route)
                        .bind(key)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn release_idempotency_key(&self, tenant: &str, route: &str, key: &str) -> Result<(), StoreError> {
                    sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND route = $2 AND key = $3 AND response IS NULL")
                        .bind(tenant)
                        .bind(route)
                        .bind(key)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn find_preferences(&self, tenant: &str, user_id: &str) -> Result<Option<Preferences>, StoreError> {
                    let row = sqlx::query("SELECT doc FROM preferences WHERE tenant_id = $1 AND user_id = $2")
                        .bind(tenant)
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(|row| row.try_get::<Json<Preferences>, _>("doc").map(|Json(p)| p)).transpose().map_err(StoreError::from)
                }

                async fn put_preferences(&self, tenant: &str, user_id: &str, preferences: &Preferences, at: Timestamp) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO preferences (tenant_id, user_id, doc, updated_ms) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (tenant_id, user_id) DO UPDATE SET doc = excluded.doc, updated_ms = excluded.updated_ms",
                    )
                    .bind(tenant)
                    .bind(user_id)
                    .bind(Json(preferences))
                    .bind(millis(at))
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn find_clinic_settings(&self, tenant: &str) -> Result<Option<ClinicSettings>, StoreError> {
                    let row = sqlx::query("SELECT doc FROM clinic_settings WHERE tenant_id = $1").bind(tenant).fetch_optional(&self.pool).await?;
                    row.map(|row| row.try_get::<Json<ClinicSettings>, _>("doc").map(|Json(s)| s)).transpose().map_err(StoreError::from)
                }

                async fn find_preference_context(
                    &self,
                    tenant: &str,
                    user_ids: &[String],
                ) -> Result<(Option<ClinicSettings>, std::collections::HashMap<String, Preferences>), StoreError> {
                    let mut sql = String::from("SELECT '' AS user_id, doc FROM clinic_settings WHERE tenant_id = $1");
                    if !user_ids.is_empty() {
                        let placeholders: Vec<String> = (0..user_ids.len()).map(|i| format!("${}", i + 2)).collect();
                        sql.push_str(&format!(
                            " UNION ALL SELECT user_id, doc FROM preferences WHERE tenant_id = $1 AND user_id IN ({})",
                            placeholders.join(", ")
                        ));
                    }
                    let mut query = sqlx::query(&sql).bind(tenant);
                    for user_id in user_ids {
                        query = query.bind(user_id);
                    }
                    let (mut clinic, mut preferences) = (None, std::collections::HashMap::new());
                    for row in query.fetch_all(&self.pool).await? {
                        let user_id: String = row.try_get("user_id")?;
                        let Json(doc): Json<serde_json::Value> = row.try_get("doc")?;
                        let invalid = |e: serde_json::Error| StoreError::Database(sqlx::Error::Decode(Box::new(e)));
                        if user_id.is_empty() {
                            clinic = Some(serde_json::from_value(doc).map_err(invalid)?);
                        } else {
                            preferences.insert(user_id, serde_json::from_value(doc).map_err(invalid)?);
                        }
                    }
                    Ok((clinic, preferences))
                }

                async fn put_clinic_settings(&self, tenant: &str, settings: &ClinicSettings, at: Timestamp) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO clinic_settings (tenant_id, doc, updated_ms) VALUES ($1, $2, $3) \
                         ON CONFLICT (tenant_id) DO UPDATE SET doc = excluded.doc, updated_ms = excluded.updated_ms",
                    )
                    .bind(tenant)
                    .bind(Json(settings))
                    .bind(millis(at))
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn record_whatsapp_inbound(&self, tenant: &str, phone: &str, at: Timestamp) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO whatsapp_windows (tenant_id, phone, last_inbound_ms) VALUES ($1, $2, $3) \
                         ON CONFLICT (tenant_id, phone) DO UPDATE SET last_inbound_ms = excluded.last_inbound_ms \
                         WHERE whatsapp_windows.last_inbound_ms < excluded.last_inbound_ms",
                    )
                    .bind(tenant)
                    .bind(phone)
                    .bind(millis(at))
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn last_whatsapp_inbound(&self, tenant: &str, phone: &str) -> Result<Option<Timestamp>, StoreError> {
                    let last: Option<i64> = sqlx::query_scalar("SELECT last_inbound_ms FROM whatsapp_windows WHERE tenant_id = $1 AND phone = $2")
                        .bind(tenant)
                        .bind(phone)
                        .fetch_optional(&self.pool)
                        .await?;
                    last.map(timestamp).transpose()
                }

                async fn set_sms_opt_out(&self, tenant: &str, phone: &str, opted_out: bool, at: Timestamp) -> Result<bool, StoreError> {
                    let done = if opted_out {
                        sqlx::query(
                            "INSERT INTO sms_opt_outs (tenant_id, phone, opted_out_ms) VALUES ($1, $2, $3) \
                             ON CONFLICT (tenant_id, phone) DO NOTHING",
                        )
                        .bind(tenant)
                        .bind(phone)
                        .bind(millis(at))
                        .execute(&self.pool)
                        .await?
                    } else {
                        sqlx::query("DELETE FROM sms_opt_outs WHERE tenant_id = $1 AND phone = $2").bind(tenant).bind(phone).execute(&self.pool).await?
                    };
                    Ok(done.rows_affected() == 1)
                }

                async fn sms_opted_out(&self, tenant: &str, phone: &str) -> Result<bool, StoreError> {
                    let found: Option<i64> = sqlx::query_scalar("SELECT opted_out_ms FROM sms_opt_outs WHERE tenant_id = $1 AND phone = $2")
                        .bind(tenant)
                        .bind(phone)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(found.is_some())
                }

                async fn sms_number_usage(&self, tenant: &str, phone: &str) -> Result<Option<NumberUsage>, StoreError> {
                    let row: Option<(i64, i64, i64)> =
                        sqlx::query_as("SELECT window_start_ms, sends, last_sent_ms FROM sms_number_usage WHERE tenant_id = $1 AND phone = $2")
                            .bind(tenant)
                            .bind(phone)
                            .fetch_optional(&self.pool)
                            .await?;
                    row.map(|(window_start, sends, last_sent)| {
                        Ok(NumberUsage {
                            window_start: timestamp(window_start)?,
                            sends: u32::try_from(sends).unwrap_or(u32::MAX),
                            last_sent: timestamp(last_sent)?,
                        })
                    })
                    .transpose()
                }

                async fn swap_sms_number_usage(
                    &self,
                    tenant: &str,
                    phone: &str,
                    expected: Option<NumberUsage>,
                    next: NumberUsage,
                ) -> Result<bool, StoreError> {
                    let done = match expected {
                        None => sqlx::query(
                            "INSERT INTO sms_number_usage (tenant_id, phone, window_start_ms, sends, last_sent_ms) VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (tenant_id, phone) DO NOTHING",
                        )
                        .bind(tenant)
                        .bind(phone)
                        .bind(millis(next.window_start))
                        .bind(i64::from(next.sends))
                        .bind(millis(next.last_sent))
                        .execute(&self.pool)
                        .await?,
                        Some(old) => sqlx::query(
                            "UPDATE sms_number_usage SET window_start_ms = $3, sends = $4, last_sent_ms = $5 \
                             WHERE tenant_id = $1 AND phone = $2 AND window_start_ms = $6 AND sends = $7 AND last_sent_ms = $8",
                        )
                        .bind(tenant)
                        .bind(phone)
                        .bind(millis(next.window_start))
                        .bind(i64::from(next.sends))
                        .bind(millis(next.last_sent))
                        .bind(millis(old.window_start))
                        .bind(i64::from(old.sends))
                        .bind(millis(old.last_sent))
                        .execute(&self.pool)
                        .await?,
                    };
                    Ok(done.rows_affected() == 1)
                }

                async fn find_job(&self, tenant: &str, job_id: &str) -> Result<Option<Job>, StoreError> {
                    let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2"))
                        .bind(tenant)
                        .bind(job_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(job).transpose()
                }

                async fn list_jobs(&self, tenant: &str, kind: JobKind) -> Result<Vec<Job>, StoreError> {
                    let rows = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND kind = $2 ORDER BY due_ms, seq"))
                        .bind(tenant)
                        .bind(kind.as_str())
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(job).collect()
                }

                async fn insert_file(&self, file: &FileRecord) -> Result<(), StoreError> {
                    sqlx::query(&format!("INSERT INTO files ({FILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
                        .bind(&file.tenant)
                        .bind(&file.id)
                        .bind(&file.name)
                        .bind(&file.content_type)
                        .bind(i64::try_from(file.size).unwrap_or(i64::MAX))
                        .bind(&file.sha256)
                        .bind(millis(file.created_at))
                        .bind(&file.creator_id)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| conflict_on(e, "name"))?;
                    Ok(())
                }

                async fn get_file(&self, tenant: &str, id: &str) -> Result<Option<FileRecord>, StoreError> {
                    let row = sqlx::query(&format!("SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = $1 AND id = $2"))
                        .bind(tenant)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(file).transpose()
                }

                async fn find_file_by_name(&self, tenant: &str, name: &str) -> Result<Option<FileRecord>, StoreError> {
                    let row = sqlx::query(&format!("SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = $1 AND name = $2"))
                        .bind(tenant)
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(file).transpose()
                }

                async fn list_files(&self, tenant: &str, since: Option<Timestamp>, limit: u32, skip: u64) -> Result<Vec<FileRecord>, StoreError> {
                    let rows = sqlx::query(&format!(
                        "SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = $1 AND created_ms >= $2 ORDER BY created_ms, id LIMIT $3 OFFSET $4"
                    ))
                    .bind(tenant)
                    .bind(since.map_or(i64::MIN, millis))
                    .bind(i64::from(limit))
                    .bind(i64::try_from(skip).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(file).collect()
                }

                async fn delete_file(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM files WHERE tenant_id = $1 AND id = $2").bind(tenant).bind(id).execute(&self.pool).await?;
                    Ok(done.rows_affected() == 1)
                }
            }
        }
    };
}
pub(crate) use sql_store;
