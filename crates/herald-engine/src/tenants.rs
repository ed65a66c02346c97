//! Tenants and their API keys.

use crate::EngineError;
use herald_core::access::Role;
use herald_core::api_key;
use herald_core::clock::Clock;
use herald_core::values::{TenantSlug, TimeZoneName};
use herald_store::{ApiKeyRecord, Store, StoreError, TenantRecord};
use std::sync::Arc;

/// The slug of the tenant Herald creates on its first start against an empty database.
pub const DEFAULT_TENANT: &str = "default";

/// A key just minted: its secret is shown once and never stored.
#[derive(Debug)]
pub struct IssuedKey {
    /// The tenant it acts for.
    pub tenant: String,
    /// Its public id.
    pub key_id: String,
    /// Its role.
    pub role: Role,
    /// The secret to hand to the service that will use it.
    pub secret: String,
}

/// Manages tenants and API keys.
#[derive(Clone)]
pub struct Tenants {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl Tenants {
    /// A manager over `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Creates a tenant (with its default time zone, for recipients without one) and its
    /// first admin key.
    pub async fn create(&self, slug: &str, name: Option<&str>, time_zone: Option<&str>) -> Result<IssuedKey, EngineError> {
        let slug = TenantSlug::parse(slug).map_err(|reason| herald_core::Invalid::new("slug", reason))?;
        let time_zone =
            time_zone.map(|tz| TimeZoneName::parse(tz).map_err(|reason| herald_core::Invalid::new("time zone", reason))).transpose()?;
        let record = TenantRecord {
            slug: slug.to_string(),
            name: name.unwrap_or(slug.as_str()).to_string(),
            time_zone: time_zone.map(|tz| tz.to_string()),
            created_at: self.clock.now(),
        };
        self.store.create_tenant(&record).await.map_err(|e| match e {
            StoreError::Conflict { field } => EngineError::Conflict { what: "tenant", field },
            other => other.into(),
        })?;
        self.issue_key(&record.slug, Role::Admin).await
    }

    /// On a database without tenants, creates [`DEFAULT_TENANT`] and returns its admin key;
    /// otherwise (or when another instance just did it) returns `None`.
    pub async fn ensure_default(&self) -> Result<Option<IssuedKey>, EngineError> {
        if !self.store.list_tenants().await?.is_empty() {
            return Ok(None);
        }
        match self.create(DEFAULT_TENANT, Some("Default tenant"), None).await {
            Ok(key) => Ok(Some(key)),
            Err(EngineError::Conflict { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Mints a new key with `role` for an existing tenant.
    pub async fn issue_key(&self, tenant: &str, role: Role) -> Result<IssuedKey, EngineError> {
        self.store.find_tenant(tenant).await?.ok_or(EngineError::NotFound("tenant"))?;
        let minted = api_key::mint();
        let record = ApiKeyRecord {
            key_id: minted.key_id.clone(),
            tenant: tenant.to_string(),
            role,
            key_hash: minted.hash,
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.insert_api_key(&record).await?;
        Ok(IssuedKey { tenant: tenant.to_string(), key_id: minted.key_id, role, secret: minted.secret })
    }

    /// A tenant's keys (never their secrets).
    pub async fn list_keys(&self, tenant: &str) -> Result<Vec<ApiKeyRecord>, EngineError> {
        self.store.find_tenant(tenant).await?.ok_or(EngineError::NotFound("tenant"))?;
        Ok(self.store.list_api_keys(tenant).await?)
    }

    /// Revokes a key at once.
    pub async fn revoke_key(&self, tenant: &str, key_id: &str) -> Result<(), EngineError> {
        if self.store.revoke_api_key(tenant, key_id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(EngineError::NotFound("active API key"))
        }
    }

    /// Every tenant.
    pub async fn list(&self) -> Result<Vec<TenantRecord>, EngineError> {
        Ok(self.store.list_tenants().await?)
    }
}
