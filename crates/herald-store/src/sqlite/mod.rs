//! The embedded SQLite backend: one file, WAL journal, `synchronous=FULL` so a commit is on
//! disk before Herald acknowledges it, and WAL checkpoints off the writer's path (see
//! [`checkpoints`]). The file is not memory-mapped: it grows all the time under load, and each
//! connection then maps it again (`munmap` and fresh page faults); the delivery bench ran
//! about 20% faster without it.
//!
//! Temporary storage is kept in memory (`temp_store=memory`). The writer's multi-row INSERTs
//! run inside a transaction on tables with UNIQUE and foreign-key constraints, so SQLite keeps
//! a statement journal for each, to undo a statement that fails halfway. On disk, each
//! journal was a new file under `/var/tmp`, written page by page: as many bytes as the WAL
//! itself. In memory, it is a copy of the pages, dropped at the statement's end.

mod checkpoints;
mod dialect;
mod shared_cache;

use crate::StoreError;
use crate::sql::store::{PendingCommit, sql_store};
use crate::sql::{Bind, Sql};
use dialect::SqliteDialect;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::types::Json;
use sqlx::{Sqlite, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// Each connection's own page cache, in KiB (SQLite's default is 2 MiB).
const CACHE_KIB: u32 = 16 * 1024;

/// Prepared statements each connection keeps: enough for every shape of the writer's
/// multi-row statements (see `statement_chunks`) besides the reads.
const STATEMENT_CACHE: usize = 256;

/// Storage in an SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    /// The database file, as the URL names it.
    file: std::path::PathBuf,
    commits: tokio::sync::mpsc::Sender<PendingCommit>,
    inbox_signals: tokio::sync::broadcast::Sender<crate::InboxSignal>,
    /// See [`crate::Store::delivery_feed`].
    delivery_feed: std::sync::Arc<crate::DeliveryFeed>,
    /// Stops the checkpoints (see [`checkpoints`]) when the store goes.
    _checkpoints: tokio::sync::oneshot::Sender<()>,
}

impl SqliteStore {
    /// Opens (creating if missing, with its folder) the database an `sqlite://` URL names.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .statement_cache_capacity(STATEMENT_CACHE)
            .pragma("cache_size", format!("-{CACHE_KIB}"))
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", "0");
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let file = options.get_filename().to_path_buf();
        // A file connection does not go stale: skipping the liveness ping on acquire saves a
        // round trip to the connection's thread on every query.
        let pool = SqlitePoolOptions::new().max_connections(8).test_before_acquire(false).connect_with(options).await?;
        let inbox_signals = tokio::sync::broadcast::channel(crate::inbox::SIGNAL_BUFFER).0;
        let (commits, delivery_feed) = store_impl::start_writer(pool.clone(), inbox_signals.clone());
        let checkpoints = checkpoints::start(pool.clone());
        Ok(Self { pool, file, commits, inbox_signals, delivery_feed, _checkpoints: checkpoints })
    }

    /// The configuration cache of this store's file, shared with the process's other stores
    /// on it.
    pub(crate) fn config_cache(&self) -> std::sync::Arc<crate::cache::ConfigCache> {
        shared_cache::for_file(&self.file)
    }

    /// Inbox changes of this process (SQLite serves one instance).
    fn subscribe_inbox(&self) -> tokio::sync::broadcast::Receiver<crate::InboxSignal> {
        self.inbox_signals.subscribe()
    }
}

/// Binds a built statement. SQLite has no array type; the dialect never asks for one.
fn query(sql: &Sql) -> sqlx::query::Query<'_, Sqlite, SqliteArguments<'_>> {
    let mut query = sqlx::query(&sql.positional);
    for bind in &sql.binds {
        query = match bind {
            Bind::Null => query.bind(None::<String>),
            Bind::Text(text) => query.bind(text.as_str()),
            Bind::Int(int) => query.bind(*int),
            Bind::MaybeInt(int) => query.bind(*int),
            Bind::Float(float) => query.bind(*float),
            Bind::Json(value) => query.bind(Json(value)),
            Bind::JsonText(text) => query.bind(text.as_str()),
            Bind::TextArray(_) => unreachable!("the SQLite dialect binds paths as text"),
        };
    }
    query
}

sql_store!(SqliteStore, Sqlite, SqliteRow, SqliteDialect, "sqlite");
