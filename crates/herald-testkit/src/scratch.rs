//! Throwaway databases for tests and benchmarks: a fresh SQLite file in a temporary folder, or
//! a fresh PostgreSQL database created on a server and dropped afterwards.

use rand::RngCore;
use sqlx::Connection;

/// A database that exists for as long as this value does.
pub struct ScratchDatabase {
    url: String,
    /// Held so the SQLite file's folder lives as long as the database.
    _folder: Option<tempfile::TempDir>,
    /// The PostgreSQL server's admin URL and the database to drop.
    postgres: Option<(String, String)>,
}

impl ScratchDatabase {
    /// A fresh SQLite database file in a new temporary folder.
    pub fn sqlite() -> Self {
        let folder = tempfile::tempdir().expect("a temporary folder can be created");
        let url = format!("sqlite://{}", folder.path().join("herald.db").display());
        Self { url, _folder: Some(folder), postgres: None }
    }

    /// A fresh database on the PostgreSQL server `admin_url` points to (any database the
    /// user may connect to and create databases from).
    pub async fn postgres(admin_url: &str) -> Result<Self, sqlx::Error> {
        let mut suffix = [0u8; 8];
        rand::rng().fill_bytes(&mut suffix);
        let name = format!("herald_scratch_{}", suffix.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let mut admin = sqlx::PgConnection::connect(admin_url).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
        admin.close().await?;
        let url = with_database(admin_url, &name);
        Ok(Self { url, _folder: None, postgres: Some((admin_url.to_string(), name)) })
    }

    /// The URL to connect to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            // Dropping must not depend on the caller's runtime, which may be shutting down.
            let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
                runtime.block_on(async {
                    let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                    sqlx::query(&statement).execute(&mut admin).await?;
                    admin.close().await
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("warning: scratch database {name} could not be dropped");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://h/test?sslmode=disable", "x"), "postgres://h/x?sslmode=disable");
    }
}
