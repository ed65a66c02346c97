//! The embedded SQLite backend: one file, WAL journal, `synchronous=FULL` so a commit is on
//! disk before Herald acknowledges it.

mod dialect;

use crate::sql::{Bind, Dialect, Sql, push_filter, push_order};
use crate::{
    ApiKeyRecord, Backend, Store, StoreError, TenantRecord, Upserted, conflict_on, table,
    unique_key,
};
use async_trait::async_trait;
use dialect::SqliteDialect;
use herald_core::access::Role;
use herald_core::document::Document;
use herald_core::query::{Filter, ListQuery};
use herald_core::resources::Collection;
use jiff::Timestamp;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqlitePool};
use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

/// Storage in an SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
}

const DOCUMENT_COLUMNS: &str = "id, doc, created_ms, updated_ms, creator_id, updater_id, revision";

impl SqliteStore {
    /// Opens (creating if missing, with its folder) the database an `sqlite://` URL names.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    fn migrator() -> sqlx::migrate::Migrator {
        let migration = |version, description: &'static str, sql: &'static str| {
            sqlx::migrate::Migration::new(
                version,
                Cow::Borrowed(description),
                sqlx::migrate::MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        };
        sqlx::migrate::Migrator {
            migrations: Cow::Owned(vec![migration(
                1,
                "foundation",
                include_str!("../../migrations/sqlite/0001_foundation.sql"),
            )]),
            ..sqlx::migrate::Migrator::DEFAULT
        }
    }
}

fn query(sql: &Sql) -> sqlx::query::Query<'_, Sqlite, SqliteArguments<'_>> {
    let mut query = sqlx::query(&sql.text);
    for bind in &sql.binds {
        query = match bind {
            Bind::Text(text) => query.bind(text.as_str()),
            Bind::Int(int) => query.bind(*int),
            Bind::Float(float) => query.bind(*float),
            Bind::Json(value) => query.bind(value.to_string()),
            Bind::TextArray(items) => {
                query.bind(serde_json::to_string(items).expect("strings serialize"))
            }
        };
    }
    query
}

fn millis(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

fn timestamp(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))
}

fn document(row: &SqliteRow) -> Result<Document, StoreError> {
    let doc: String = row.try_get("doc")?;
    let body = serde_json::from_str(&doc)
        .map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))?;
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

fn tenant(row: &SqliteRow) -> Result<TenantRecord, StoreError> {
    Ok(TenantRecord {
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        created_at: timestamp(row.try_get("created_ms")?)?,
    })
}

fn api_key(row: &SqliteRow) -> Result<ApiKeyRecord, StoreError> {
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
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        Self::migrator().run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO tenants (slug, name, created_ms) VALUES (?, ?, ?)")
            .bind(&tenant.slug)
            .bind(&tenant.name)
            .bind(millis(tenant.created_at))
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_on(e, "slug"))?;
        Ok(())
    }

    async fn find_tenant(&self, slug: &str) -> Result<Option<TenantRecord>, StoreError> {
        let row = sqlx::query("SELECT slug, name, created_ms FROM tenants WHERE slug = ?")
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(tenant).transpose()
    }

    async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT slug, name, created_ms FROM tenants ORDER BY created_ms, slug")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(tenant).collect()
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO api_keys (key_id, tenant_id, role, key_hash, created_ms, revoked_ms) VALUES (?, ?, ?, ?, ?, ?)")
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
        let row = sqlx::query("SELECT * FROM api_keys WHERE key_hash = ?")
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(api_key).transpose()
    }

    async fn list_api_keys(&self, tenant: &str) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_ms, key_id")
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
        let done = sqlx::query("UPDATE api_keys SET revoked_ms = ? WHERE tenant_id = ? AND key_id = ? AND revoked_ms IS NULL")
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
            "INSERT INTO {} (tenant_id, id, unique_key, doc, created_ms, updated_ms, creator_id, updater_id, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            table(collection)
        );
        let mut tx = self.pool.begin().await?;
        for doc in documents {
            sqlx::query(&sql)
                .bind(tenant)
                .bind(&doc.id)
                .bind(unique_key(collection, doc))
                .bind(serde_json::Value::Object(doc.body.clone()).to_string())
                .bind(millis(doc.created_at))
                .bind(millis(doc.updated_at))
                .bind(&doc.creator_id)
                .bind(&doc.updater_id)
                .bind(doc.revision)
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
            "INSERT INTO {t} (tenant_id, id, unique_key, doc, created_ms, updated_ms, creator_id, updater_id, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) \
             ON CONFLICT (tenant_id, unique_key) DO UPDATE SET doc = excluded.doc, updated_ms = excluded.updated_ms, \
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
                .bind(serde_json::Value::Object(doc.body.clone()).to_string())
                .bind(millis(doc.created_at))
                .bind(millis(doc.updated_at))
                .bind(&doc.creator_id)
                .bind(&doc.updater_id)
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
            "SELECT {DOCUMENT_COLUMNS} FROM {} WHERE tenant_id = ? AND id = ?",
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
        let mut sql = Sql::new(
            SqliteDialect::NUMBERED,
            &format!(
                "SELECT {DOCUMENT_COLUMNS} FROM {} WHERE tenant_id = ",
                table(collection)
            ),
        );
        sql.bind(Bind::Text(tenant.to_string())).push(" AND ");
        push_filter::<SqliteDialect>(&mut sql, &list.filter);
        push_order::<SqliteDialect>(&mut sql, &list.sort);
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
        let mut sql = Sql::new(
            SqliteDialect::NUMBERED,
            &format!(
                "SELECT COUNT(*) FROM {} WHERE tenant_id = ",
                table(collection)
            ),
        );
        sql.bind(Bind::Text(tenant.to_string())).push(" AND ");
        push_filter::<SqliteDialect>(&mut sql, filter);
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
            "UPDATE {} SET unique_key = ?, doc = ?, updated_ms = ?, updater_id = ?, revision = revision + 1 WHERE tenant_id = ? AND id = ? AND revision = ?",
            table(collection)
        );
        let done = sqlx::query(&sql)
            .bind(unique_key(collection, doc))
            .bind(serde_json::Value::Object(doc.body.clone()).to_string())
            .bind(millis(doc.updated_at))
            .bind(&doc.updater_id)
            .bind(tenant)
            .bind(&doc.id)
            .bind(expected_revision)
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
            "DELETE FROM {} WHERE tenant_id = ? AND id = ?",
            table(collection)
        );
        let done = sqlx::query(&sql)
            .bind(tenant)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
