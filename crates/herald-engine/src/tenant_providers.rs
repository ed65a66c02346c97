//! A tenant's own providers: several per channel, each with a priority, tried in that order
//! (lowest first, then oldest) with failover (see `delivery::providers`). A tenant with
//! enabled entries for a channel uses them instead of the global `channels.<channel>`
//! provider; without any, the global one applies.
//!
//! Each entry stores a `ProviderConfig` whose secrets (every [`Secret`](herald_core::secrets::Secret)
//! field, whatever the provider type) are sealed with the keyring before they reach the
//! database. Secrets are write-only: responses show `"set"` where one is stored, and a
//! replacement that omits a secret (or sends `"set"`) keeps the stored one when the provider
//! type is unchanged; `null` clears an optional one.
//!
//! `{"type": "disabled"}` is an entry of its own: the channel is switched off for the tenant
//! (seed 05's `disabled`), its messages fail with that reason (and fall back to the next
//! channel when they have one) instead of going out through the global provider.
//!
//! Endpoints a tenant names are where Herald will connect, so they must resolve to public
//! addresses unless `email.allow_private_hosts` is set (see [`crate::public_host`]): every
//! string field called `host`, `url`, `endpoint` or ending in `_url`, at any depth of the
//! settings, whatever the provider type.
//!
//! Every change is recorded in the audit trail (`providers.create|update|delete`, target
//! `providers/<id>`), with the entry as responses show it: secrets as `"set"`.
//!
//! The entry named [`SMTP_SETTINGS`] belongs to seed 05's SMTP settings API: this API lists
//! and deletes it (deleting returns the tenant to the global settings) but refuses to change
//! it, so the two views never disagree.

use crate::EngineError;
use crate::audit::{self, AuditEntry};
use crate::documents::Actor;
use crate::lookups::READ_LIMIT;
use crate::public_host::ensure_public;
use herald_channels::ProviderConfig;
use herald_core::Invalid;
use herald_core::clock::Clock;
use herald_core::document::{Document, format_timestamp};
use herald_core::id::{is_document_id, new_document_id};
use herald_core::query::{Filter, ListQuery};
use herald_core::resources::Collection;
use herald_core::resources::channel::Channel;
use herald_core::secrets::{Keyring, is_sealed, open_secrets, redact_sealed, seal_secrets};
use herald_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The name of the entry seed 05's SMTP settings API manages (the tenant's email provider at
/// priority 0).
pub const SMTP_SETTINGS: &str = "smtp-settings";

/// The `type` of an entry that switches its channel off for the tenant.
pub const DISABLED: &str = "disabled";

/// One provider entry, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderEntry {
    /// Unique within the tenant: `[a-z0-9][a-z0-9_-]*`, at most 64 characters.
    pub name: String,
    /// The channel it serves.
    pub channel: Channel,
    /// Lower is tried first.
    pub priority: u32,
    /// Disabled entries are kept but never used.
    pub enabled: bool,
    /// The provider's settings (`ProviderConfig` JSON, or `{"type": "disabled"}`), every secret
    /// sealed.
    pub config: Value,
    /// Seed 05's view of the settings, on the [`SMTP_SETTINGS`] entry only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_settings: Option<Value>,
}

/// A stored entry and its system fields.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEntry {
    /// The document id.
    pub id: String,
    /// Bumped on every change.
    pub revision: i64,
    /// The entry.
    pub entry: ProviderEntry,
    /// When it was created.
    pub created_at: jiff::Timestamp,
    /// When it last changed.
    pub updated_at: jiff::Timestamp,
}

impl StoredEntry {
    fn from_document(document: Document) -> Option<Self> {
        let entry = serde_json::from_value(Value::Object(document.body)).ok()?;
        Some(Self { id: document.id, revision: document.revision, entry, created_at: document.created_at, updated_at: document.updated_at })
    }

    /// The provider type (`smtp`, `webhook`, `disabled`, …).
    pub fn kind(&self) -> &str {
        self.entry.config.get("type").and_then(Value::as_str).unwrap_or_default()
    }

    /// What the audit trail keeps of the entry: the admin API's view without its times.
    fn audit_json(&self) -> Value {
        let mut out = self.to_json();
        if let Value::Object(map) = &mut out {
            map.retain(|key, _| !matches!(key.as_str(), "createdAt" | "updatedAt"));
        }
        out
    }

    /// The entry as the admin API shows it: every stored secret as `"set"`.
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "id": self.id,
            "name": self.entry.name,
            "channel": self.entry.channel,
            "priority": self.entry.priority,
            "enabled": self.entry.enabled,
            "config": redact_sealed(&self.entry.config),
            "createdAt": format_timestamp(self.created_at),
            "updatedAt": format_timestamp(self.updated_at),
        });
        if self.entry.name == SMTP_SETTINGS {
            out["managedBy"] = json!("/api/v1/notifications/smtp-settings");
        }
        out
    }
}

/// What a client sends to create or replace an entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryInput {
    name: String,
    #[serde(default)]
    priority: u32,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    config: Value,
}

fn enabled_by_default() -> bool {
    true
}

/// Reads and writes tenants' provider entries.
#[derive(Clone)]
pub struct TenantProviders {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    keyring: Keyring,
    allow_private_hosts: bool,
}

impl TenantProviders {
    /// Entries in `store`, sealed and opened with `keyring`; endpoints resolving to internal
    /// addresses are refused unless `allow_private_hosts`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keyring: Keyring, allow_private_hosts: bool) -> Self {
        Self { store, clock, keyring, allow_private_hosts }
    }

    /// The keyring secrets are sealed with.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The tenant's entries (of one channel, or all), by channel, priority and age.
    pub async fn list(&self, tenant: &str, channel: Option<Channel>) -> Result<Vec<StoredEntry>, EngineError> {
        list(&self.store, tenant, channel).await
    }

    /// One entry of the tenant's `channel`.
    pub async fn get(&self, tenant: &str, channel: Channel, id: &str) -> Result<StoredEntry, EngineError> {
        let document = if is_document_id(id) { self.store.get_document(Collection::Providers, tenant, id).await? } else { None };
        document.and_then(StoredEntry::from_document).filter(|e| e.entry.channel == channel).ok_or(EngineError::NotFound("provider"))
    }

    /// Creates an entry on `channel` from a client body; `source` is where the request came
    /// from, for the audit trail.
    pub async fn create(&self, actor: &Actor, channel: Channel, body: Value, source: Option<String>) -> Result<StoredEntry, EngineError> {
        let input: EntryInput = Invalid::deserialize(body)?;
        check_name(&input.name)?;
        let config = self.sealed_config(channel, input.config, None).await?;
        let entry =
            ProviderEntry { name: input.name, channel, priority: input.priority, enabled: input.enabled, config, smtp_settings: None };
        let created = self.insert(actor, entry).await?;
        self.audit(actor, "providers.create", &created.id, created.audit_json(), source).await?;
        Ok(created)
    }

    /// Replaces an entry of `channel` with a client body (secrets left out are kept).
    pub async fn replace(
        &self,
        actor: &Actor,
        channel: Channel,
        id: &str,
        body: Value,
        source: Option<String>,
    ) -> Result<StoredEntry, EngineError> {
        let stored = self.get(&actor.tenant, channel, id).await?;
        if stored.entry.name == SMTP_SETTINGS {
            return Err(EngineError::Unprocessable(format!(
                "the {SMTP_SETTINGS} entry is managed by PUT /api/v1/notifications/smtp-settings"
            )));
        }
        let input: EntryInput = Invalid::deserialize(body)?;
        check_name(&input.name)?;
        let config = self.sealed_config(channel, input.config, Some(&stored.entry.config)).await?;
        let entry =
            ProviderEntry { name: input.name, channel, priority: input.priority, enabled: input.enabled, config, smtp_settings: None };
        let replaced = self.update(actor, &stored, entry).await?;
        self.audit(actor, "providers.update", &replaced.id, replaced.audit_json(), source).await?;
        Ok(replaced)
    }

    /// Deletes an entry of `channel`.
    pub async fn delete(&self, actor: &Actor, channel: Channel, id: &str, source: Option<String>) -> Result<(), EngineError> {
        let stored = self.get(&actor.tenant, channel, id).await?;
        if !self.store.delete_document(Collection::Providers, &actor.tenant, &stored.id).await? {
            return Err(EngineError::NotFound("provider"));
        }
        let changes = json!({"name": stored.entry.name, "channel": stored.entry.channel});
        self.audit(actor, "providers.delete", &stored.id, changes, source).await
    }

    /// Records a change to the entry `id` in the tenant's audit trail.
    pub(crate) async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        id: &str,
        changes: Value,
        source: Option<String>,
    ) -> Result<(), EngineError> {
        let entry = AuditEntry {
            tenant: actor.tenant.clone(),
            actor: actor.id.clone(),
            action: action.to_string(),
            target: format!("providers/{id}"),
            changes,
            source,
        };
        audit::record(&self.store, &self.clock, entry).await
    }

    /// The tenant's entry named `name`, if there is one.
    pub(crate) async fn find_named(&self, tenant: &str, name: &str) -> Result<Option<StoredEntry>, EngineError> {
        Ok(list(&self.store, tenant, None).await?.into_iter().find(|e| e.entry.name == name))
    }

    /// Stores a new entry; `Conflict` when its name is taken.
    pub(crate) async fn insert(&self, actor: &Actor, entry: ProviderEntry) -> Result<StoredEntry, EngineError> {
        let now = self.clock.now();
        let document = Document::new(new_document_id(now), body(&entry), now, &actor.id);
        self.store.insert_documents(Collection::Providers, &actor.tenant, std::slice::from_ref(&document)).await.map_err(conflict)?;
        Ok(StoredEntry { id: document.id, revision: 1, entry, created_at: now, updated_at: now })
    }

    /// Replaces `stored` with `entry` unless it changed meanwhile (`Contended`).
    pub(crate) async fn update(&self, actor: &Actor, stored: &StoredEntry, entry: ProviderEntry) -> Result<StoredEntry, EngineError> {
        let now = self.clock.now();
        let document = Document {
            id: stored.id.clone(),
            body: body(&entry),
            created_at: stored.created_at,
            updated_at: now,
            creator_id: String::new(),
            updater_id: actor.id.clone(),
            revision: stored.revision,
        };
        let replaced =
            self.store.replace_document(Collection::Providers, &actor.tenant, &document, stored.revision).await.map_err(conflict)?;
        if !replaced {
            return Err(EngineError::Contended("provider"));
        }
        Ok(StoredEntry { id: stored.id.clone(), revision: stored.revision + 1, entry, created_at: stored.created_at, updated_at: now })
    }

    /// Checks a client's `config` for `channel` and returns it with its secrets sealed. With
    /// `previous` (the stored config), secrets the client left out or sent as `"set"` are kept
    /// when the type is unchanged.
    pub(crate) async fn sealed_config(&self, channel: Channel, mut config: Value, previous: Option<&Value>) -> Result<Value, Invalid> {
        let kind = config.get("type").and_then(Value::as_str).ok_or_else(|| Invalid::new("config.type", "is required"))?.to_string();
        if kind == DISABLED {
            if config.as_object().is_some_and(|c| c.len() > 1) {
                return Err(Invalid::new("config", "a disabled provider takes no settings"));
            }
            return Ok(json!({"type": DISABLED}));
        }
        check_fits(channel, &kind)?;
        if let Some(previous) = previous.filter(|p| p.get("type").and_then(Value::as_str) == Some(&kind)) {
            keep_secrets(&mut config, previous, &self.keyring)
                .map_err(|_| Invalid::new("config", "a stored secret cannot be opened; send it again"))?;
        }
        let parsed: ProviderConfig = Invalid::deserialize(config.clone()).map_err(|e| e.within("config"))?;
        if matches!(&parsed, ProviderConfig::Console(console) if console.print) {
            return Err(Invalid::new("config.print", "printing messages is for the operator's own development console, not a tenant's"));
        }
        parsed.build().map_err(|reason| Invalid::new("config", reason))?;
        for (field, host, port) in endpoints(&config, "config") {
            ensure_public(&field, &host, port, self.allow_private_hosts).await?;
        }
        seal_secrets(&self.keyring, &parsed).map_err(|_| Invalid::new("config", "cannot be stored"))
    }

    /// The provider settings of a stored entry, secrets opened; `None` for a disabled entry.
    pub fn open(&self, entry: &ProviderEntry) -> Result<Option<ProviderConfig>, String> {
        open_config(&self.keyring, &entry.config)
    }
}

/// The settings of a stored `config`, secrets opened with `keyring`; `None` when it is
/// `{"type": "disabled"}`. The error names no secret.
pub fn open_config(keyring: &Keyring, config: &Value) -> Result<Option<ProviderConfig>, String> {
    if config.get("type").and_then(Value::as_str) == Some(DISABLED) {
        return Ok(None);
    }
    open_secrets(keyring, config.clone()).map(Some).map_err(|e| e.to_string())
}

/// The tenant's entries (of one channel, or all), by channel, priority and age.
pub(crate) async fn list(store: &Arc<dyn Store>, tenant: &str, channel: Option<Channel>) -> Result<Vec<StoredEntry>, EngineError> {
    let filter = channel.map_or_else(Filter::all, |c| Filter::equals("channel", c.as_str()));
    let documents = store.find_documents(Collection::Providers, tenant, &ListQuery::matching(filter, READ_LIMIT)).await?;
    let mut entries: Vec<StoredEntry> = documents.into_iter().filter_map(StoredEntry::from_document).collect();
    entries.sort_by_key(|e| (e.entry.channel, e.entry.priority, e.created_at));
    Ok(entries)
}

fn body(entry: &ProviderEntry) -> Map<String, Value> {
    match serde_json::to_value(entry).expect("entries serialize") {
        Value::Object(map) => map,
        _ => unreachable!("an entry is an object"),
    }
}

fn conflict(error: StoreError) -> EngineError {
    match error {
        StoreError::Conflict { .. } => EngineError::Conflict { what: "provider", field: "name" },
        other => other.into(),
    }
}

/// Names are short slugs; [`SMTP_SETTINGS`] is taken by seed 05's API.
fn check_name(name: &str) -> Result<(), Invalid> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(Invalid::new("name", "must be 1 to 64 lowercase letters, digits, '-' or '_', starting with a letter or digit"));
    }
    if name == SMTP_SETTINGS {
        return Err(Invalid::new("name", format!("{SMTP_SETTINGS} is kept for PUT /api/v1/notifications/smtp-settings")));
    }
    Ok(())
}

/// Refuses the provider types that cannot carry a channel's content: `smtp` and `ses` are for email,
/// `webhook` for webhooks, `in_app` for the in-app channel. Other types (console, and each
/// messaging service's own) are not checked here: a provider handed content it cannot send
/// fails that message for good.
fn check_fits(channel: Channel, kind: &str) -> Result<(), Invalid> {
    let only = match kind {
        "smtp" | "ses" => Some(Channel::Email),
        "webhook" => Some(Channel::Webhook),
        "in_app" => Some(Channel::InApp),
        "twilio" | "kaleyra" => Some(Channel::Sms),
        "twilio_voice" => Some(Channel::Voice),
        _ => None,
    };
    match only {
        Some(only) if only != channel => {
            Err(Invalid::new("config.type", format!("a {kind} provider serves the {} channel only", only.as_str())))
        }
        _ => Ok(()),
    }
}

/// The endpoints in a provider's settings, as (field, host, port): `host` fields (with a
/// sibling `port`, else 25) and URLs in `url`, `endpoint` and `*_url` fields.
fn endpoints(value: &Value, path: &str) -> Vec<(String, String, u16)> {
    let Value::Object(map) = value else { return Vec::new() };
    let mut found = Vec::new();
    for (key, inner) in map {
        let field = format!("{path}.{key}");
        match inner {
            Value::String(host) if key == "host" => {
                let port = map.get("port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok()).unwrap_or(25);
                found.push((field, host.clone(), port));
            }
            Value::String(url) if key == "url" || key == "endpoint" || key.ends_with("_url") => {
                let parsed = reqwest::Url::parse(url).ok();
                let host = parsed.as_ref().and_then(|u| u.host_str()).unwrap_or_default().to_string();
                found.push((field, host, parsed.and_then(|u| u.port_or_known_default()).unwrap_or(443)));
            }
            Value::Object(_) => found.extend(endpoints(inner, &field)),
            _ => {}
        }
    }
    found
}

/// Puts the opened stored secret wherever `config` leaves a key out (or sends `"set"`) that
/// `previous` holds sealed, at any depth.
fn keep_secrets(config: &mut Value, previous: &Value, keyring: &Keyring) -> Result<(), herald_core::secrets::OpenError> {
    let (Value::Object(config), Value::Object(previous)) = (config, previous) else { return Ok(()) };
    for (key, stored) in previous {
        match (config.get_mut(key), stored) {
            (None, Value::String(sealed)) if is_sealed(sealed) => {
                config.insert(key.clone(), Value::String(keyring.open(sealed)?));
            }
            (Some(Value::String(given)), Value::String(sealed)) if given.as_str() == "set" && is_sealed(sealed) => {
                *given = keyring.open(sealed)?;
            }
            (Some(inner @ Value::Object(_)), Value::Object(_)) => keep_secrets(inner, stored, keyring)?,
            _ => {}
        }
    }
    Ok(())
}
