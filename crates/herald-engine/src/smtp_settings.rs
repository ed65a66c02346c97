//! Seed 05's per-tenant SMTP settings (`GET`/`PUT /api/v1/notifications/smtp-settings`,
//! `POST …/test`), kept as the tenant's email provider entry named
//! [`SMTP_SETTINGS`](crate::tenant_providers::SMTP_SETTINGS) at priority 0, so delivery uses
//! them: `provider: smtp` sends through the tenant's server, `console` logs instead of
//! sending, `disabled` switches the tenant's email off (its messages fail with that reason and
//! fall back to the next channel when they have one). Without tenant settings the global
//! `channels.email` provider applies, and `GET` says so with `is_active: false`.
//!
//! Choices where the seed is silent:
//! - The password is write-only: sealed at rest, never returned (`has_password` says whether
//!   one is stored). A `PUT` without `password` (or with `null`) keeps it; `""` clears it.
//! - `use_ssl` (TLS from the first byte, port 465) wins over `use_tls` (STARTTLS); neither is
//!   a plain connection, for a relay on the same network.
//! - Hosts must resolve to public addresses unless `email.allow_private_hosts` is set (see
//!   [`crate::public_host`]), on `PUT` and on `test`.
//! - `test` takes any setting it is not given from the stored ones (the password only while
//!   host and username are the stored ones), sends to `to_email`, else to the sender address,
//!   and answers 200 with `success`. Only a test of exactly the stored settings records
//!   `is_verified` (true, or false after a failure) and, on success, `last_verified_at`.
//!   Changing the connection settings clears `is_verified`.
//! - Each `PUT` is recorded in the audit trail (`smtp_settings.update`, the view before and
//!   after, never the password), and so is each verification a test records
//!   (`smtp_settings.verify`). Both target `providers/<entry id>`.

use crate::EngineError;
use crate::documents::Actor;
use crate::public_host::ensure_public;
use crate::tenant_providers::{DISABLED, ProviderEntry, SMTP_SETTINGS, StoredEntry, TenantProviders};
use herald_channels::{Outgoing, ProviderConfig};
use herald_core::Invalid;
use herald_core::clock::Clock;
use herald_core::document::format_timestamp;
use herald_core::render::Content;
use herald_core::resources::channel::Channel;
use herald_core::values::EmailAddress;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

/// Seed 05's providers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Smtp,
    Console,
    Disabled,
}

/// The settings as stored on the entry (the password sealed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Settings {
    provider: Kind,
    host: Option<String>,
    port: u16,
    username: Option<String>,
    password: Option<String>,
    use_tls: bool,
    use_ssl: bool,
    from_email: Option<String>,
    from_name: Option<String>,
    is_verified: bool,
    last_verified_at: Option<Timestamp>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            provider: Kind::Smtp,
            host: None,
            port: 587,
            username: None,
            password: None,
            use_tls: true,
            use_ssl: false,
            from_email: None,
            from_name: None,
            is_verified: false,
            last_verified_at: None,
        }
    }
}

/// A `PUT` body. The view's read-only fields are accepted and ignored, so a client can send
/// back what it read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default = "smtp")]
    provider: Kind,
    #[serde(default)]
    host: Option<String>,
    #[serde(default = "submission_port")]
    port: u16,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default = "yes")]
    use_tls: bool,
    #[serde(default)]
    use_ssl: bool,
    #[serde(default)]
    from_email: Option<String>,
    #[serde(default)]
    from_name: Option<String>,
    #[serde(default, rename = "has_password")]
    _has_password: Option<Value>,
    #[serde(default, rename = "is_active")]
    _is_active: Option<Value>,
    #[serde(default, rename = "is_verified")]
    _is_verified: Option<Value>,
    #[serde(default, rename = "last_verified_at")]
    _last_verified_at: Option<Value>,
}

/// A `test` body: settings to try (the stored ones where left out) and where to send.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    use_tls: Option<bool>,
    #[serde(default)]
    use_ssl: Option<bool>,
    #[serde(default)]
    from_email: Option<String>,
    #[serde(default)]
    from_name: Option<String>,
    #[serde(default)]
    to_email: Option<String>,
}

fn smtp() -> Kind {
    Kind::Smtp
}

fn submission_port() -> u16 {
    587
}

fn yes() -> bool {
    true
}

/// What a `test` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestOutcome {
    /// Whether the server took the test message.
    pub success: bool,
    /// What happened, for people (never a secret or the server's full answer).
    pub message: String,
}

/// Seed 05's SMTP settings of every tenant.
#[derive(Clone)]
pub struct SmtpSettings {
    providers: TenantProviders,
    clock: Arc<dyn Clock>,
    allow_private_hosts: bool,
}

impl SmtpSettings {
    /// Settings kept as `providers` entries; hosts resolving to internal addresses are
    /// refused unless `allow_private_hosts`.
    pub fn new(providers: TenantProviders, clock: Arc<dyn Clock>, allow_private_hosts: bool) -> Self {
        Self { providers, clock, allow_private_hosts }
    }

    /// The tenant's settings as seed 05 shows them (defaults with `is_active: false` when the
    /// global settings apply).
    pub async fn get(&self, tenant: &str) -> Result<Value, EngineError> {
        let stored = self.stored(tenant).await?;
        let settings = stored.as_ref().map(|(_, settings)| settings.clone()).unwrap_or_default();
        Ok(view(&settings, stored.is_some_and(|(entry, _)| entry.entry.enabled)))
    }

    /// Replaces the tenant's settings with a `PUT` body and answers the new view; `source` is
    /// where the request came from, for the audit trail.
    pub async fn put(&self, actor: &Actor, body: Value, source: Option<String>) -> Result<Value, EngineError> {
        let update: Update = Invalid::deserialize(body)?;
        let stored = self.stored(&actor.tenant).await?;
        let previous = stored.as_ref().map(|(_, settings)| settings.clone()).unwrap_or_default();
        let password = match update.password {
            None => previous.password.clone(),
            Some(password) if password.is_empty() => None,
            Some(password) => Some(self.providers.keyring().seal(&password)),
        };
        let mut settings = Settings {
            provider: update.provider,
            host: update.host.map(|h| h.trim().to_string()).filter(|h| !h.is_empty()),
            port: update.port,
            username: update.username.filter(|u| !u.is_empty()),
            password,
            use_tls: update.use_tls,
            use_ssl: update.use_ssl,
            from_email: update.from_email.filter(|e| !e.is_empty()),
            from_name: update.from_name.filter(|n| !n.is_empty()),
            is_verified: previous.is_verified,
            last_verified_at: previous.last_verified_at,
        };
        if !self.same_connection(&settings, &previous) {
            settings.is_verified = false;
        }
        let config = match settings.provider {
            Kind::Smtp => {
                let host = settings.host.as_deref().ok_or_else(|| Invalid::new("host", "is required for the smtp provider"))?;
                let password = settings.password.as_deref().map(|p| self.providers.keyring().open(p)).transpose().map_err(|_| {
                    Invalid::new("password", "the stored password cannot be opened with the configured keys; send it again")
                })?;
                let config = smtp_config(&settings, password.as_deref())?;
                ensure_public("host", host, settings.port, self.allow_private_hosts).await?;
                self.providers.sealed_config(Channel::Email, config, None).await?
            }
            Kind::Console => json!({"type": "console"}),
            Kind::Disabled => json!({"type": DISABLED}),
        };
        let changes = json!({"before": stored.as_ref().map(|(_, s)| audit_view(s)), "after": audit_view(&settings)});
        let entry = ProviderEntry {
            name: SMTP_SETTINGS.into(),
            channel: Channel::Email,
            priority: 0,
            enabled: true,
            config,
            smtp_settings: Some(serde_json::to_value(&settings).expect("settings serialize")),
        };
        let saved = match &stored {
            Some((existing, _)) => self.providers.update(actor, existing, entry).await?,
            None => self.providers.insert(actor, entry).await?,
        };
        self.providers.audit(actor, "smtp_settings.update", &saved.id, changes, source).await?;
        Ok(view(&settings, true))
    }

    /// Connects with the requested settings and sends a test message; records the outcome
    /// when they are the stored settings. Bad input and internal hosts are errors; a server
    /// that cannot be reached or refuses is a `success: false` outcome.
    pub async fn test(&self, actor: &Actor, body: Value, source: Option<String>) -> Result<TestOutcome, EngineError> {
        let request: TestRequest = Invalid::deserialize(body)?;
        let stored = self.stored(&actor.tenant).await?;
        let base = stored.as_ref().map(|(_, settings)| settings.clone()).unwrap_or_default();
        let host = request.host.map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).or(base.host.clone());
        let username = request.username.or(base.username.clone()).filter(|u| !u.is_empty());
        let password = match request.password {
            Some(password) => (!password.is_empty()).then(|| self.providers.keyring().seal(&password)),
            None if host == base.host && username == base.username => base.password.clone(),
            None => None,
        };
        let tested = Settings {
            provider: Kind::Smtp,
            host,
            port: request.port.unwrap_or(base.port),
            username,
            password,
            use_tls: request.use_tls.unwrap_or(base.use_tls),
            use_ssl: request.use_ssl.unwrap_or(base.use_ssl),
            from_email: request.from_email.or(base.from_email.clone()).filter(|e| !e.is_empty()),
            from_name: request.from_name.or(base.from_name.clone()).filter(|n| !n.is_empty()),
            ..Settings::default()
        };
        let host = tested.host.as_deref().ok_or_else(|| Invalid::new("host", "is required"))?;
        let to = request.to_email.or(tested.from_email.clone()).ok_or_else(|| Invalid::new("to_email", "is required"))?;
        let to = EmailAddress::parse(&to).map_err(|reason| Invalid::new("to_email", reason))?;
        ensure_public("host", host, tested.port, self.allow_private_hosts).await?;
        let password = tested
            .password
            .as_deref()
            .map(|p| self.providers.keyring().open(p))
            .transpose()
            .map_err(|_| Invalid::new("password", "the stored password cannot be opened with the configured keys; send it again"))?;
        let config: ProviderConfig = Invalid::deserialize(smtp_config(&tested, password.as_deref())?)?;
        let provider = config.build().map_err(|reason| Invalid::new("from_email", reason))?;
        let outgoing = Outgoing {
            idempotency_key: format!("smtp-test-{}", herald_core::id::new_document_id(self.clock.now())),
            tenant: actor.tenant.clone(),
            recipient: serde_json::from_value(json!({"id": "smtp-settings-test", "emailAddress": to.as_str()})).expect("a valid recipient"),
            content: Some(Content::Email {
                subject: "Herald: SMTP settings test".into(),
                text: Some("This message confirms that Herald can send email with these SMTP settings.".into()),
                html: None,
            }),
            email: Default::default(),
            attachments: Vec::new(),
            event: json!({"name": "smtp-settings.test"}),
            at: self.clock.now(),
        };
        let outcome = match provider.send(&outgoing).await {
            Ok(_) => TestOutcome { success: true, message: "SMTP connection succeeded; a test email was sent".into() },
            Err(error) => TestOutcome { success: false, message: format!("Error: {}", error.reason) },
        };
        if let Some((entry, settings)) = stored.filter(|(_, s)| s.provider == Kind::Smtp && self.same_connection(s, &tested)) {
            let mut verified = settings;
            verified.is_verified = outcome.success;
            if outcome.success {
                verified.last_verified_at = Some(self.clock.now());
            }
            let mut updated = entry.entry.clone();
            updated.smtp_settings = Some(serde_json::to_value(&verified).expect("settings serialize"));
            match self.providers.update(actor, &entry, updated).await {
                Ok(saved) => {
                    let changes =
                        json!({"is_verified": verified.is_verified, "last_verified_at": verified.last_verified_at.map(format_timestamp)});
                    self.providers.audit(actor, "smtp_settings.verify", &saved.id, changes, source).await?;
                }
                Err(EngineError::Contended(_)) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(outcome)
    }

    /// The tenant's entry and its settings, if it has them.
    async fn stored(&self, tenant: &str) -> Result<Option<(StoredEntry, Settings)>, EngineError> {
        let entry = self.providers.find_named(tenant, SMTP_SETTINGS).await?;
        Ok(entry.and_then(|entry| {
            let settings = entry.entry.smtp_settings.clone().and_then(|s| serde_json::from_value(s).ok())?;
            Some((entry, settings))
        }))
    }
}

impl SmtpSettings {
    /// Whether two settings reach the same server the same way (passwords compared opened:
    /// each sealing of the same password differs).
    fn same_connection(&self, a: &Settings, b: &Settings) -> bool {
        let keyring = self.providers.keyring();
        let same_password = match (&a.password, &b.password) {
            (None, None) => true,
            (Some(x), Some(y)) => x == y || matches!((keyring.open(x), keyring.open(y)), (Ok(p), Ok(q)) if p == q),
            _ => false,
        };
        same_password
            && (&a.host, a.port, &a.username, a.use_tls, a.use_ssl, &a.from_email)
                == (&b.host, b.port, &b.username, b.use_tls, b.use_ssl, &b.from_email)
    }
}

/// The `ProviderConfig` JSON of SMTP settings, with the password in the clear (it is sealed
/// again when stored).
fn smtp_config(settings: &Settings, password: Option<&str>) -> Result<Value, Invalid> {
    let from_email = settings.from_email.as_deref().ok_or_else(|| Invalid::new("from_email", "is required for the smtp provider"))?;
    EmailAddress::parse(from_email).map_err(|reason| Invalid::new("from_email", reason))?;
    if settings.port == 0 {
        return Err(Invalid::new("port", "must be between 1 and 65535"));
    }
    for (field, value) in [("host", &settings.host), ("username", &settings.username)] {
        if value.as_deref().is_some_and(|v| v.chars().any(char::is_control)) {
            return Err(Invalid::new(field, "must not contain control characters"));
        }
    }
    let from = match &settings.from_name {
        Some(name) if name.chars().any(char::is_control) => return Err(Invalid::new("from_name", "must not contain control characters")),
        Some(name) => format!("\"{}\" <{from_email}>", name.replace('\\', "\\\\").replace('"', "\\\"")),
        None => from_email.to_string(),
    };
    let security = if settings.use_ssl {
        "tls"
    } else if settings.use_tls {
        "starttls"
    } else {
        "plain"
    };
    Ok(json!({
        "type": "smtp",
        "host": settings.host,
        "port": settings.port,
        "security": security,
        "username": settings.username,
        "password": password,
        "from": from,
    }))
}

/// Seed 05's view: every field but the password.
fn view(settings: &Settings, active: bool) -> Value {
    json!({
        "provider": settings.provider,
        "host": settings.host,
        "port": settings.port,
        "username": settings.username,
        "has_password": settings.password.is_some(),
        "use_tls": settings.use_tls,
        "use_ssl": settings.use_ssl,
        "from_email": settings.from_email,
        "from_name": settings.from_name,
        "is_active": active,
        "is_verified": settings.is_verified,
        "last_verified_at": settings.last_verified_at.map(format_timestamp),
    })
}

/// What the audit trail keeps of settings: the view, without verification state.
fn audit_view(settings: &Settings) -> Value {
    let mut out = view(settings, true);
    if let Value::Object(map) = &mut out {
        for key in ["is_active", "is_verified", "last_verified_at"] {
            map.remove(key);
        }
    }
    out
}
