//! Tenants and their API keys.

use crate::EngineError;
use crate::audit::{self, AuditEntry};
use herald_core::access::Role;
use herald_core::api_key;
use herald_core::clock::Clock;
use herald_core::values::{E164, EmailAddress, TenantSlug, TimeZoneName};
use herald_core::{Invalid, resources::is_language_tag};
use herald_store::{ApiKeyRecord, Store, StoreError, TenantRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// A change to a tenant's profile: each field given replaces the stored one; `null` clears
/// an optional one.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileChange {
    /// The display name (the clinic's name in templates).
    pub name: Option<String>,
    /// The IANA time zone for recipients without one.
    #[serde(default, deserialize_with = "present")]
    pub time_zone: Option<Option<String>>,
    /// The clinic's contact phone number, E.164.
    #[serde(default, deserialize_with = "present")]
    pub phone: Option<Option<String>>,
    /// The clinic's contact email address.
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    /// The locale for recipients without one (a language tag: `it`, `en-GB`).
    #[serde(default, deserialize_with = "present")]
    pub default_locale: Option<Option<String>>,
}

/// A field that is present, even as `null` (`Some(None)`), as opposed to absent (`None`).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// A tenant's profile as the API shows it.
pub fn profile_json(tenant: &TenantRecord) -> Value {
    json!({
        "slug": tenant.slug,
        "name": tenant.name,
        "timeZone": tenant.time_zone,
        "phone": tenant.phone,
        "email": tenant.email,
        "defaultLocale": tenant.default_locale,
        "createdAt": herald_core::document::format_timestamp(tenant.created_at),
    })
}

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

/// Manages tenants and API keys. Key changes are recorded in the audit trail as done by the
/// manager's actor (`system` unless [`Tenants::acting_as`] says otherwise).
#[derive(Clone)]
pub struct Tenants {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    actor: String,
}

impl Tenants {
    /// A manager over `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock, actor: "system".into() }
    }

    /// The same manager, recording its changes as done by `actor` (`cli`).
    pub fn acting_as(mut self, actor: &str) -> Self {
        self.actor = actor.to_string();
        self
    }

    /// Records a key change in the tenant's audit trail.
    async fn audit_key(&self, tenant: &str, action: &str, key_id: &str, changes: Value) -> Result<(), EngineError> {
        let entry = AuditEntry {
            tenant: tenant.to_string(),
            actor: self.actor.clone(),
            action: action.to_string(),
            target: format!("api_keys/{key_id}"),
            changes,
            source: None,
        };
        audit::record(&self.store, &self.clock, entry).await
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
            ..TenantRecord::default()
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
        self.audit_key(tenant, "api_keys.create", &minted.key_id, json!({"role": role.as_str()})).await?;
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
            self.audit_key(tenant, "api_keys.revoke", key_id, json!({})).await
        } else {
            Err(EngineError::NotFound("active API key"))
        }
    }

    /// One tenant.
    pub async fn find(&self, tenant: &str) -> Result<TenantRecord, EngineError> {
        self.store.find_tenant(tenant).await?.ok_or(EngineError::NotFound("tenant"))
    }

    /// Validates and applies a profile change, recording it in the audit trail as done by
    /// `actor` from `source`.
    pub async fn update_profile(
        &self,
        tenant: &str,
        change: ProfileChange,
        actor: &str,
        source: Option<String>,
    ) -> Result<TenantRecord, EngineError> {
        let mut record = self.find(tenant).await?;
        let mut changes = serde_json::Map::new();
        let given = [
            ("timeZone", &change.time_zone),
            ("phone", &change.phone),
            ("email", &change.email),
            ("defaultLocale", &change.default_locale),
        ];
        for (field, value) in given.into_iter().chain([("name", &change.name.clone().map(Some))]) {
            if let Some(value) = value {
                changes.insert(field.to_string(), json!(value));
            }
        }
        if let Some(name) = change.name {
            if name.trim().is_empty() || name.len() > 200 {
                return Err(Invalid::new("name", "must be 1 to 200 characters").into());
            }
            record.name = name;
        }
        if let Some(time_zone) = change.time_zone {
            record.time_zone = time_zone
                .map(|tz| TimeZoneName::parse(&tz).map(|tz| tz.to_string()))
                .transpose()
                .map_err(|r| Invalid::new("timeZone", r))?;
        }
        if let Some(phone) = change.phone {
            record.phone = phone.map(|p| E164::parse(&p).map(|p| p.to_string())).transpose().map_err(|r| Invalid::new("phone", r))?;
        }
        if let Some(email) = change.email {
            record.email =
                email.map(|e| EmailAddress::parse(&e).map(|e| e.to_string())).transpose().map_err(|r| Invalid::new("email", r))?;
        }
        if let Some(locale) = change.default_locale {
            if locale.as_deref().is_some_and(|l| !is_language_tag(l)) {
                return Err(Invalid::new("defaultLocale", "must be a language tag such as en or it-IT").into());
            }
            record.default_locale = locale;
        }
        if !self.store.update_tenant(&record).await? {
            return Err(EngineError::NotFound("tenant"));
        }
        let entry = AuditEntry {
            tenant: tenant.to_string(),
            actor: actor.to_string(),
            action: "tenant.update".into(),
            target: "tenant".into(),
            changes: Value::Object(changes),
            source,
        };
        audit::record(&self.store, &self.clock, entry).await?;
        Ok(record)
    }

    /// Every tenant.
    pub async fn list(&self) -> Result<Vec<TenantRecord>, EngineError> {
        Ok(self.store.list_tenants().await?)
    }
}
