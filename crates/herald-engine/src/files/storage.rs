//! Where the files service keeps bytes: a folder on the local filesystem (the default) or an
//! S3-compatible bucket, both through `object_store`.

use herald_core::files::MAX_ATTACHMENTS_BYTES;
use herald_core::secrets::Secret;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The kind of object store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// A folder on this machine (`root`).
    #[default]
    Local,
    /// An S3 bucket, or any S3-compatible service (`endpoint`).
    S3,
}

/// The `files` configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesConfig {
    /// `local` (the default) or `s3`.
    pub store: StoreKind,
    /// The folder of a `local` store, created if missing. Defaults to `files` beside the SQLite
    /// database file, else `data/files`. Several instances sharing a PostgreSQL database must
    /// share this folder too (a network mount) or use `s3`.
    pub root: Option<PathBuf>,
    /// The bucket of an `s3` store.
    pub bucket: Option<String>,
    /// The URL of an S3-compatible service (`http://minio:9000`); AWS itself when unset.
    /// Requests use path-style addressing; `http://` URLs are allowed.
    pub endpoint: Option<String>,
    /// The bucket's region (`us-east-1` when unset).
    pub region: Option<String>,
    /// The access key; without one the instance's role (EC2/ECS metadata) is used.
    pub access_key_id: Option<String>,
    /// The secret of `access_key_id`.
    pub secret_access_key: Option<Secret>,
    /// Largest file, in bytes (15 MiB by default, what one email may carry in total).
    pub max_file_bytes: u64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            store: StoreKind::Local,
            root: None,
            bucket: None,
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            max_file_bytes: MAX_ATTACHMENTS_BYTES,
        }
    }
}

impl FilesConfig {
    /// Checks what can be checked without touching the store; the error names the key.
    pub fn check(&self) -> Result<(), String> {
        if self.max_file_bytes == 0 {
            return Err("files.max_file_bytes (HERALD_FILES__MAX_FILE_BYTES): must be at least 1".into());
        }
        if self.store == StoreKind::S3 {
            if self.bucket.as_deref().is_none_or(str::is_empty) {
                return Err("files.bucket (HERALD_FILES__BUCKET): an s3 store needs a bucket".into());
            }
            if self.access_key_id.is_some() != self.secret_access_key.is_some() {
                return Err(
                    "files.secret_access_key (HERALD_FILES__SECRET_ACCESS_KEY): access_key_id and secret_access_key go together".into()
                );
            }
        }
        Ok(())
    }

    /// Opens the store; a `local` store without `root` uses `default_root`, creating it.
    pub fn open(&self, default_root: &Path) -> Result<Arc<dyn ObjectStore>, String> {
        match self.store {
            StoreKind::Local => {
                let root = self.root.as_deref().unwrap_or(default_root);
                std::fs::create_dir_all(root).map_err(|e| format!("files.root ({}): cannot create the folder: {e}", root.display()))?;
                let local = LocalFileSystem::new_with_prefix(root).map_err(|e| format!("files.root ({}): {e}", root.display()))?;
                Ok(Arc::new(local.with_automatic_cleanup(true)))
            }
            StoreKind::S3 => {
                let mut builder = AmazonS3Builder::new().with_bucket_name(self.bucket.clone().unwrap_or_default());
                if let Some(region) = &self.region {
                    builder = builder.with_region(region);
                }
                if let Some(endpoint) = &self.endpoint {
                    builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
                }
                if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
                    builder = builder.with_access_key_id(id).with_secret_access_key(secret.expose());
                }
                let s3 = builder.build().map_err(|e| format!("files (s3): {e}"))?;
                Ok(Arc::new(s3))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_stores_create_their_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("nested/files");
        FilesConfig::default().open(&root).unwrap();
        assert!(root.is_dir());
        let explicit = dir.path().join("explicit");
        FilesConfig { root: Some(explicit.clone()), ..FilesConfig::default() }.open(&root).unwrap();
        assert!(explicit.is_dir(), "root wins over the default");
    }

    #[test]
    fn s3_stores_need_a_bucket_and_whole_credentials() {
        let s3 = FilesConfig { store: StoreKind::S3, ..FilesConfig::default() };
        assert!(s3.check().unwrap_err().contains("files.bucket"));
        let half = FilesConfig { bucket: Some("b".into()), access_key_id: Some("id".into()), ..s3.clone() };
        assert!(half.check().unwrap_err().contains("secret_access_key"));
        let minio = FilesConfig {
            bucket: Some("herald".into()),
            endpoint: Some("http://127.0.0.1:9000".into()),
            access_key_id: Some("id".into()),
            secret_access_key: Some(Secret::new("very-secret")),
            ..s3
        };
        minio.check().unwrap();
        let store = minio.open(Path::new("unused")).unwrap();
        assert!(store.to_string().contains("herald"), "{store}");
        assert!(!format!("{minio:?}").contains("very-secret"));
        assert!(FilesConfig { max_file_bytes: 0, ..FilesConfig::default() }.check().is_err());
    }
}
