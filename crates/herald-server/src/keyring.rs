//! Where the key that encrypts secrets at rest comes from: `HERALD_SECRET_KEY`, or — for a
//! development setup on SQLite — a key Herald generates once and keeps in `herald.key` beside
//! the database file, readable by its owner only.

use crate::config::Config;
use anyhow::Context;
use herald_core::secrets::{Keyring, SecretKey};
use std::path::Path;

/// The name of the generated key file, beside the SQLite database.
pub const KEY_FILE: &str = "herald.key";

/// Builds the keyring from configuration, generating the development key file if needed.
pub fn load(config: &Config) -> anyhow::Result<Keyring> {
    let previous = config
        .previous_secret_keys
        .iter()
        .map(|k| SecretKey::parse(k.expose()).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let primary = match (&config.secret_key, config.sqlite_path()) {
        (Some(key), _) => SecretKey::parse(key.expose()).map_err(|e| anyhow::anyhow!("secret_key (HERALD_SECRET_KEY): {e}"))?,
        (None, Some(database)) => development_key(&database.parent().unwrap_or(Path::new(".")).join(KEY_FILE))?,
        (None, None) => {
            anyhow::bail!("secret_key (HERALD_SECRET_KEY): must be set for this database")
        }
    };
    Ok(Keyring::new(primary, previous))
}

fn development_key(path: &Path) -> anyhow::Result<SecretKey> {
    if path.exists() {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return SecretKey::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let key = SecretKey::generate();
    write_owner_only(path, &key.to_base64()).with_context(|| format!("writing {}", path.display()))?;
    tracing::warn!(path = %path.display(), key_id = key.id(), "HERALD_SECRET_KEY is not set: generated a development key; set HERALD_SECRET_KEY in production");
    Ok(key)
}

#[cfg(unix)]
fn write_owner_only(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_owner_only(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn generates_once_then_reuses_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { database_url: format!("sqlite://{}/herald.db", dir.path().display()), ..Config::default() };
        let first = load(&config).unwrap();
        let second = load(&config).unwrap();
        assert_eq!(first.primary_id(), second.primary_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn the_configured_key_wins() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate();
        let config = Config {
            database_url: format!("sqlite://{}/herald.db", dir.path().display()),
            secret_key: Some(Secret::new(key.to_base64())),
            ..Config::default()
        };
        assert_eq!(load(&config).unwrap().primary_id(), key.id());
        assert!(!dir.path().join(KEY_FILE).exists());
    }
}
