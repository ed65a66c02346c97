//! Hearing of configuration changes made by any instance: migration 0016's triggers
//! `NOTIFY` [`CONFIG_CHANNEL`] with the changed tenant in the changing transaction, and a
//! listener drops that tenant's cached answers on each notification.

use crate::cache::ConfigCache;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;

/// The channel migration 0016's triggers notify, with the changed tenant's slug as payload.
pub(crate) const CONFIG_CHANNEL: &str = "herald_config";

/// How long to wait before connecting again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Starts listening for changes to `cache`'s configuration; listening stops when the returned
/// sender is dropped. The cache should start paused: it serves from the moment the listener is
/// connected.
pub(crate) fn spawn(pool: PgPool, cache: Arc<ConfigCache>) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(listen(pool, cache, stopped));
    stop
}

/// Keeps a `LISTEN` on [`CONFIG_CHANNEL`] and applies its notifications to `cache` until
/// `stopped` resolves. The cache serves only while the listener is connected: it is paused
/// (and emptied) as soon as the connection is known to be lost, and resumed (from empty) once
/// a new `LISTEN` is in place, so a change whose notification was lost cannot survive in it.
async fn listen(pool: PgPool, cache: Arc<ConfigCache>, mut stopped: tokio::sync::oneshot::Receiver<()>) {
    loop {
        let connected = tokio::select! {
            _ = &mut stopped => return,
            connected = connect(&pool) => connected,
        };
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for configuration changes (the cache is bypassed); trying again");
                tokio::select! {
                    _ = &mut stopped => return,
                    () = tokio::time::sleep(RETRY_AFTER) => continue,
                }
            }
        };
        cache.resume();
        loop {
            let received = tokio::select! {
                _ = &mut stopped => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => cache.invalidate(notification.payload()),
                Ok(None) => {
                    cache.pause();
                    tracing::warn!("lost the connection listening for configuration changes (the cache is bypassed); reconnecting");
                    break;
                }
                Err(error) => {
                    cache.pause();
                    tracing::warn!(%error, "listening for configuration changes failed (the cache is bypassed); reconnecting");
                    break;
                }
            }
        }
    }
}

/// A listener on [`CONFIG_CHANNEL`] that reports a lost connection instead of reconnecting
/// by itself, so the cache can be paused until the new connection listens.
async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.eager_reconnect(false);
    listener.listen(CONFIG_CHANNEL).await?;
    Ok(listener)
}
