//! The PostgreSQL backend, for deployments where several Herald instances share one database.

mod config_listener;
mod dialect;

use crate::StoreError;
use crate::sql::store::{PendingCommit, sql_store};
use crate::sql::{Bind, Sql};
use dialect::PostgresDialect;
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres};
use std::time::Duration;

/// Storage in a PostgreSQL database.
pub struct PostgresStore {
    pool: PgPool,
    commits: tokio::sync::mpsc::Sender<PendingCommit>,
    inbox_signals: tokio::sync::broadcast::Sender<crate::InboxSignal>,
    /// See [`crate::Store::delivery_feed`].
    delivery_feed: std::sync::Arc<crate::DeliveryFeed>,
    listening: std::sync::Once,
}

impl PostgresStore {
    /// Connects to the database a `postgres://` URL names.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
        let inbox_signals = tokio::sync::broadcast::channel(crate::inbox::SIGNAL_BUFFER).0;
        let (commits, delivery_feed) = store_impl::start_writer(pool.clone(), inbox_signals.clone());
        Ok(Self { pool, commits, inbox_signals, delivery_feed, listening: std::sync::Once::new() })
    }

    /// A configuration cache for this store that hears of every instance's changes, and the
    /// sender whose drop stops its listener (see [`config_listener`]).
    pub(crate) fn config_cache(&self) -> (std::sync::Arc<crate::cache::ConfigCache>, tokio::sync::oneshot::Sender<()>) {
        let cache = std::sync::Arc::new(crate::cache::ConfigCache::new(false, None));
        let stop = config_listener::spawn(self.pool.clone(), cache.clone());
        (cache, stop)
    }

    /// Inbox changes of every instance: the first subscriber starts a `LISTEN` on
    /// [`crate::INBOX_CHANNEL`], which forwards other instances' changes (and this one's)
    /// for the store's lifetime.
    fn subscribe_inbox(&self) -> tokio::sync::broadcast::Receiver<crate::InboxSignal> {
        let receiver = self.inbox_signals.subscribe();
        self.listening.call_once(|| {
            tokio::spawn(listen(self.pool.clone(), self.inbox_signals.clone()));
        });
        receiver
    }
}

/// Forwards `NOTIFY`s on the inbox channel to `signals` until nobody subscribes any more. When
/// the connection drops, notifications sent meanwhile are lost: every subscriber is told to
/// look (a signal for no user), and connections also look on their own now and then.
async fn listen(pool: PgPool, signals: tokio::sync::broadcast::Sender<crate::InboxSignal>) {
    let everyone = crate::InboxSignal::changed("", "");
    while signals.receiver_count() > 0 {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for inbox changes; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(crate::INBOX_CHANNEL).await {
            tracing::warn!(%error, "cannot listen for inbox changes; trying again");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let _ = signals.send(everyone.clone());
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if let Some(signal) = crate::InboxSignal::from_payload(notification.payload()) {
                        let _ = signals.send(signal);
                    }
                }
                Ok(None) => {
                    let _ = signals.send(everyone.clone());
                }
                Err(error) => {
                    tracing::warn!(%error, "listening for inbox changes failed; reconnecting");
                    break;
                }
            }
            if signals.receiver_count() == 0 {
                return;
            }
        }
    }
}

/// JSON text already serialized, bound as `jsonb` (whose binary form is a version byte, 1,
/// then the text).
struct JsonbText<'a>(&'a str);

impl sqlx::Type<Postgres> for JsonbText<'_> {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <Json<Value> as sqlx::Type<Postgres>>::type_info()
    }
}

impl sqlx::Encode<'_, Postgres> for JsonbText<'_> {
    fn encode_by_ref(&self, buf: &mut sqlx::postgres::PgArgumentBuffer) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        buf.push(1);
        buf.extend_from_slice(self.0.as_bytes());
        Ok(sqlx::encode::IsNull::No)
    }
}

/// Binds a built statement.
fn query(sql: &Sql) -> sqlx::query::Query<'_, Postgres, PgArguments> {
    let mut query = sqlx::query(&sql.text);
    for bind in &sql.binds {
        query = match bind {
            Bind::Null => query.bind(None::<String>),
            Bind::Text(text) => query.bind(text.as_str()),
            Bind::Int(int) => query.bind(*int),
            Bind::MaybeInt(int) => query.bind(*int),
            Bind::Float(float) => query.bind(*float),
            Bind::Json(value) => query.bind(Json(value)),
            Bind::JsonText(text) => query.bind(JsonbText(text)),
            Bind::TextArray(items) => query.bind(items),
        };
    }
    query
}

sql_store!(PostgresStore, Postgres, PgRow, PostgresDialect, "postgres");
