//! WAL checkpoints, off the writer's path. By default SQLite checkpoints inside the commit
//! that takes the WAL past 1,000 pages: the writer then copies pages into the database file and
//! syncs it while every write queued behind it waits. Herald turns that off
//! (`wal_autocheckpoint = 0` on every connection) and checkpoints from a task of its own
//! instead, `PASSIVE`ly: it copies what no reader still needs, never blocks the writer or a
//! reader, and the writer starts the WAL over once everything in it has been copied.

use sqlx::SqlitePool;
use std::time::Duration;
use tokio::sync::oneshot;

/// How often the WAL is checkpointed.
const INTERVAL: Duration = Duration::from_millis(250);

/// Checkpoints `pool`'s database every [`INTERVAL`] until the returned sender is dropped
/// (with the store that holds it).
pub(super) fn start(pool: SqlitePool) -> oneshot::Sender<()> {
    let (stop, mut stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                () = tokio::time::sleep(INTERVAL) => {}
            }
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                tracing::warn!(%error, "checkpointing the SQLite WAL failed; trying again later");
            }
        }
    });
    stop
}
