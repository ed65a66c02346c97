//! The PostgreSQL backend, for deployments where several Herald instances share one database.

mod dialect;

use crate::StoreError;
use crate::sql::store::{PendingCommit, sql_store};
use crate::sql::{Bind, Sql};
use dialect::PostgresDialect;
use sqlx::postgres::{PgArguments, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres};
use std::time::Duration;

/// Storage in a PostgreSQL database.
pub struct PostgresStore {
    pool: PgPool,
    commits: tokio::sync::mpsc::Sender<PendingCommit>,
}

impl PostgresStore {
    /// Connects to the database a `postgres://` URL names.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
        let (commits, pending) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(store_impl::write_loop(pool.clone(), pending));
        Ok(Self { pool, commits })
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
            Bind::TextArray(items) => query.bind(items),
        };
    }
    query
}

sql_store!(PostgresStore, Postgres, PgRow, PostgresDialect, "postgres");
