//! The notification center's SQL, written once for both backends (see [`crate::inbox`]).
//! [`inbox_sql!`] is invoked inside `sql_store!`, with the backend's types in scope.

/// Defines the inbox functions of a backend: `$db` its database, `$row` its rows,
/// `$dialect` its dialect and `$backend` its name (PostgreSQL also announces changes with
/// `NOTIFY`, delivered to every instance when the transaction commits).
macro_rules! inbox_sql {
    ($db:ty, $row:ty, $dialect:ty, $backend:literal) => {
        mod inbox_impl {
            use super::*;
            use crate::inbox::{INBOX_CHANNEL, InboxAction, InboxEntry, InboxQuery, InboxSignal};
            use crate::sql::store::{millis, timestamp};
            use crate::sql::{Bind, Dialect, Sql, chunked_statements, statement_chunks};
            use crate::StoreError;
            use sqlx::Row;
            use sqlx::types::Json;

            type Connection = <$db as sqlx::Database>::Connection;

            /// Rows per multi-row statement (17 binds each).
            const ROWS_PER_STATEMENT: usize = 256;

            const COLUMNS: &str = "id, user_id, number, seq, notification_id, message_index, type, priority, title, body, data, \
                                   created_ms, updated_ms, read_ms, dismissed_ms, archived_ms";

            fn entry(row: &$row) -> Result<InboxEntry, StoreError> {
                let optional = |column: &str| -> Result<Option<jiff::Timestamp>, StoreError> {
                    row.try_get::<Option<i64>, _>(column)?.map(timestamp).transpose()
                };
                let Json(data) = row.try_get("data")?;
                let index: i64 = row.try_get("message_index")?;
                Ok(InboxEntry {
                    id: row.try_get("id")?,
                    user_id: row.try_get("user_id")?,
                    number: row.try_get("number")?,
                    seq: row.try_get("seq")?,
                    notification_id: row.try_get("notification_id")?,
                    message_index: usize::try_from(index).unwrap_or_default(),
                    notification_type: row.try_get("type")?,
                    priority: row.try_get("priority")?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                    data,
                    created_at: timestamp(row.try_get("created_ms")?)?,
                    updated_at: timestamp(row.try_get("updated_ms")?)?,
                    read_at: optional("read_ms")?,
                    dismissed_at: optional("dismissed_ms")?,
                    archived_at: optional("archived_ms")?,
                })
            }

            /// Takes `count` values of the user's change counter; returns the last one.
            async fn take_seq(conn: &mut Connection, tenant: &str, user_id: &str, count: i64) -> Result<i64, StoreError> {
                let last: i64 = sqlx::query_scalar(
                    "INSERT INTO inbox_counters (tenant_id, user_id, last_seq) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant_id, user_id) DO UPDATE SET last_seq = inbox_counters.last_seq + $3 RETURNING last_seq",
                )
                .bind(tenant)
                .bind(user_id)
                .bind(count)
                .fetch_one(&mut *conn)
                .await?;
                Ok(last)
            }

            /// Announces a change to every instance (PostgreSQL), at commit.
            async fn announce(conn: &mut Connection, tenant: &str, user_id: &str) -> Result<(), StoreError> {
                if $backend == "postgres" {
                    let payload = InboxSignal::changed(tenant, user_id).to_payload();
                    sqlx::query("SELECT pg_notify($1, $2)").bind(INBOX_CHANNEL).bind(payload).execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Writes delivered messages' entries, `(tenant, entry)`, and returns those written,
            /// numbered; a message already in the inbox (sent again after a lost lease) is not
            /// added twice. Each user's change counter is advanced once for all their entries,
            /// users in key order (the order in which concurrent writers lock them, so two
            /// instances cannot deadlock), and the entries are inserted together.
            pub(crate) async fn insert_all(conn: &mut Connection, entries: Vec<(String, InboxEntry)>) -> Result<Vec<(String, InboxEntry)>, StoreError> {
                let mut counts: std::collections::BTreeMap<(&str, &str), i64> = std::collections::BTreeMap::new();
                for (tenant, entry) in &entries {
                    *counts.entry((tenant.as_str(), entry.user_id.as_str())).or_default() += 1;
                }
                let users: Vec<((&str, &str), i64)> = counts.into_iter().collect();
                let mut next_seq: std::collections::HashMap<(String, String), i64> = std::collections::HashMap::new();
                for chunk in statement_chunks(&users, ROWS_PER_STATEMENT) {
                    let mut sql = Sql::new("INSERT INTO inbox_counters (tenant_id, user_id, last_seq) VALUES ");
                    sql.push_rows(chunk.iter().map(|&((tenant, user), count)| vec![Bind::Text(tenant.to_string()), Bind::Text(user.to_string()), Bind::Int(count)]));
                    sql.push(" ON CONFLICT (tenant_id, user_id) DO UPDATE SET last_seq = inbox_counters.last_seq + excluded.last_seq \
                               RETURNING tenant_id, user_id, last_seq");
                    for row in query(&sql).fetch_all(&mut *conn).await? {
                        let key: (String, String) = (row.try_get("tenant_id")?, row.try_get("user_id")?);
                        let last: i64 = row.try_get("last_seq")?;
                        let found = users.binary_search_by(|&((t, u), _)| (t, u).cmp(&(key.0.as_str(), key.1.as_str())));
                        let count = found.map_or(1, |at| users[at].1);
                        next_seq.insert(key, last - count + 1);
                    }
                }
                for ((tenant, user_id), _) in &users {
                    announce(conn, tenant, user_id).await?;
                }
                let mut rows = Vec::with_capacity(entries.len());
                let mut numbered = Vec::with_capacity(entries.len());
                for (tenant, mut new) in entries {
                    let slot = next_seq.get_mut(&(tenant.clone(), new.user_id.clone())).ok_or(StoreError::Database(sqlx::Error::RowNotFound))?;
                    let seq = *slot;
                    *slot += 1;
                    (new.number, new.seq) = (seq, seq);
                    rows.push(vec![
                        Bind::Text(tenant.clone()),
                        Bind::Text(new.id.clone()),
                        Bind::Text(new.user_id.clone()),
                        Bind::Int(seq),
                        Bind::Int(seq),
                        Bind::Text(new.notification_id.clone()),
                        Bind::Int(i64::try_from(new.message_index).unwrap_or(i64::MAX)),
                        new.notification_type.clone().map_or(Bind::Null, Bind::Text),
                        Bind::Text(new.priority.clone()),
                        new.title.clone().map_or(Bind::Null, Bind::Text),
                        Bind::Text(new.body.clone()),
                        Bind::Json(new.data.clone()),
                        Bind::Int(millis(new.created_at)),
                        Bind::Int(millis(new.created_at)),
                        Bind::MaybeInt(None),
                        Bind::MaybeInt(None),
                        Bind::MaybeInt(None),
                    ]);
                    numbered.push((tenant, new));
                }
                let inserts = chunked_statements(rows, ROWS_PER_STATEMENT, |chunk| {
                    let mut sql = Sql::new(&format!("INSERT INTO inbox (tenant_id, {COLUMNS}) VALUES "));
                    sql.push_rows(chunk);
                    sql.push(" ON CONFLICT (tenant_id, notification_id, message_index) DO NOTHING RETURNING tenant_id, id");
                    sql
                });
                let mut written = std::collections::HashSet::new();
                for sql in inserts {
                    for row in query(&sql).fetch_all(&mut *conn).await? {
                        written.insert((row.try_get::<String, _>("tenant_id")?, row.try_get::<String, _>("id")?));
                    }
                }
                numbered.retain(|(tenant, entry)| written.contains(&(tenant.clone(), entry.id.clone())));
                Ok(numbered)
            }

            /// The `WHERE` clause of a list.
            fn push_filter(sql: &mut Sql, tenant: &str, selection: &InboxQuery) {
                sql.push(" FROM inbox WHERE tenant_id = ").bind(Bind::Text(tenant.to_string()));
                sql.push(" AND user_id = ").bind(Bind::Text(selection.user_id.clone())).push(" AND dismissed_ms IS NULL");
                sql.push(if selection.archived { " AND archived_ms IS NOT NULL" } else { " AND archived_ms IS NULL" });
                match selection.unread {
                    Some(true) => sql.push(" AND read_ms IS NULL"),
                    Some(false) => sql.push(" AND read_ms IS NOT NULL"),
                    None => sql,
                };
                for (column, values) in [("type", &selection.types), ("priority", &selection.priorities)] {
                    if !values.is_empty() {
                        sql.push(&format!(" AND {column} IN "));
                        sql.push_rows([values.iter().map(|v| Bind::Text(v.clone())).collect()]);
                    }
                }
            }

            pub(crate) async fn list(pool: &sqlx::Pool<$db>, tenant: &str, selection: &InboxQuery) -> Result<(Vec<InboxEntry>, u64), StoreError> {
                let mut count = Sql::new("SELECT COUNT(*) AS total");
                push_filter(&mut count, tenant, selection);
                let total: i64 = query(&count).fetch_one(pool).await?.try_get("total")?;
                let mut page = Sql::new(&format!("SELECT {COLUMNS}"));
                push_filter(&mut page, tenant, selection);
                if let Some(before) = selection.before {
                    page.push(" AND number < ").bind(Bind::Int(before));
                }
                page.push(" ORDER BY number DESC LIMIT ").bind(Bind::Int(i64::from(selection.limit)));
                page.push(" OFFSET ").bind(Bind::Int(i64::try_from(selection.offset).unwrap_or(i64::MAX)));
                let rows = query(&page).fetch_all(pool).await?;
                Ok((rows.iter().map(entry).collect::<Result<_, _>>()?, u64::try_from(total).unwrap_or_default()))
            }

            pub(crate) async fn unread(pool: &sqlx::Pool<$db>, tenant: &str, user_id: &str) -> Result<u64, StoreError> {
                let total: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM inbox WHERE tenant_id = $1 AND user_id = $2 AND read_ms IS NULL AND dismissed_ms IS NULL AND archived_ms IS NULL",
                )
                .bind(tenant)
                .bind(user_id)
                .fetch_one(pool)
                .await?;
                Ok(u64::try_from(total).unwrap_or_default())
            }

            pub(crate) async fn change(
                pool: &sqlx::Pool<$db>,
                tenant: &str,
                user_id: &str,
                id: &str,
                action: InboxAction,
                at: jiff::Timestamp,
            ) -> Result<Option<(InboxEntry, bool)>, StoreError> {
                let mut tx = pool.begin().await?;
                // The counter is locked first on every path (as in `read_all`), so concurrent
                // changes of one user cannot deadlock.
                take_seq(&mut tx, tenant, user_id, 0).await?;
                let select = format!("SELECT {COLUMNS} FROM inbox WHERE tenant_id = $1 AND user_id = $2 AND id = $3{}", <$dialect as Dialect>::FOR_UPDATE);
                let row = sqlx::query(&select).bind(tenant).bind(user_id).bind(id).fetch_optional(&mut *tx).await?;
                let Some(mut found) = row.as_ref().map(entry).transpose()? else { return Ok(None) };
                let changed = match action {
                    InboxAction::Read => found.read_at.is_none(),
                    InboxAction::Dismiss => found.dismissed_at.is_none(),
                    InboxAction::Archive => found.archived_at.is_none(),
                    InboxAction::Unarchive => found.archived_at.is_some(),
                };
                if !changed {
                    return Ok(Some((found, false)));
                }
                match action {
                    InboxAction::Read => found.read_at = Some(at),
                    InboxAction::Dismiss => {
                        found.read_at = found.read_at.or(Some(at));
                        found.dismissed_at = Some(at);
                    }
                    InboxAction::Archive => found.archived_at = Some(at),
                    InboxAction::Unarchive => found.archived_at = None,
                }
                found.seq = take_seq(&mut tx, tenant, user_id, 1).await?;
                found.updated_at = at;
                sqlx::query("UPDATE inbox SET seq = $1, updated_ms = $2, read_ms = $3, dismissed_ms = $4, archived_ms = $5 WHERE tenant_id = $6 AND id = $7")
                    .bind(found.seq)
                    .bind(millis(at))
                    .bind(found.read_at.map(millis))
                    .bind(found.dismissed_at.map(millis))
                    .bind(found.archived_at.map(millis))
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                announce(&mut tx, tenant, user_id).await?;
                tx.commit().await?;
                Ok(Some((found, true)))
            }

            pub(crate) async fn read_all(pool: &sqlx::Pool<$db>, tenant: &str, user_id: &str, at: jiff::Timestamp) -> Result<Vec<(String, usize)>, StoreError> {
                let mut tx = pool.begin().await?;
                // Locks the counter first, so concurrent changes of this user queue behind us.
                take_seq(&mut tx, tenant, user_id, 0).await?;
                let rows = sqlx::query(
                    "SELECT id, notification_id, message_index FROM inbox \
                     WHERE tenant_id = $1 AND user_id = $2 AND read_ms IS NULL AND dismissed_ms IS NULL ORDER BY number",
                )
                .bind(tenant)
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let mut ids = Vec::with_capacity(rows.len());
                let mut messages = Vec::with_capacity(rows.len());
                for row in &rows {
                    ids.push(row.try_get::<String, _>("id")?);
                    let index: i64 = row.try_get("message_index")?;
                    messages.push((row.try_get::<String, _>("notification_id")?, usize::try_from(index).unwrap_or(usize::MAX)));
                }
                let count = i64::try_from(ids.len()).unwrap_or(i64::MAX);
                let last = take_seq(&mut tx, tenant, user_id, count).await?;
                for (offset, id) in (0..).zip(&ids) {
                    sqlx::query("UPDATE inbox SET seq = $1, updated_ms = $2, read_ms = $2 WHERE tenant_id = $3 AND id = $4")
                        .bind(last - count + 1 + offset)
                        .bind(millis(at))
                        .bind(tenant)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                announce(&mut tx, tenant, user_id).await?;
                tx.commit().await?;
                Ok(messages)
            }

            pub(crate) async fn since(
                pool: &sqlx::Pool<$db>,
                tenant: &str,
                user_id: &str,
                after: i64,
                limit: u32,
            ) -> Result<Vec<InboxEntry>, StoreError> {
                let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM inbox WHERE tenant_id = $1 AND user_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"))
                    .bind(tenant)
                    .bind(user_id)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(entry).collect()
            }
        }
    };
}
pub(crate) use inbox_sql;
