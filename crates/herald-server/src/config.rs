//! Configuration: built-in defaults < an optional TOML file < `HERALD_*` environment variables
//! (nested keys with `__`, e.g. `HERALD_AUTH__JWT__SECRET`). Secrets are wrapped so they never
//! print; an invalid value stops Herald with an error naming the key. Without a
//! `[channels.email]`, seed 05's `EMAIL_*` variables set the global email provider (see
//! `email_env`).

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use herald_channels::ProviderConfig;
use herald_core::resources::channel::Channel;
pub use herald_core::secrets::Secret;
use herald_engine::delivery::DeliveryConfig;
use herald_engine::files::FilesConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod email_env;

/// Everything Herald reads at startup.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://PATH` (the default, `sqlite://data/herald.db`, created if missing) or
    /// `postgres://…`.
    pub database_url: String,
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// Key that encrypts secrets at rest: 64 hex digits or base64 of 32 bytes. When unset on
    /// SQLite, Herald generates one and keeps it in `herald.key` beside the database file.
    pub secret_key: Option<Secret>,
    /// Older keys, still accepted for decrypting values sealed before a rotation.
    pub previous_secret_keys: Vec<Secret>,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Largest body of bulk endpoints (user sync), in bytes.
    pub bulk_body_limit: usize,
    /// Most documents one list request returns (`_l` is capped to it).
    pub max_page_size: u32,
    /// Most items one bulk request may carry.
    pub max_bulk_items: usize,
    /// Seconds within which an event id seen before is a duplicate (seed 02: 5 minutes).
    pub dedup_window_seconds: u64,
    /// The locale messages use when neither the recipient nor the tenant names one.
    pub default_locale: String,
    /// The channels this server sends on; events and user settings are limited to them.
    pub active_channels: Vec<herald_core::resources::channel::Channel>,
    /// Milliseconds between looks for due timed jobs (reminders); 0 turns the runner off (tests
    /// drive it by hand with a manual clock).
    pub job_poll_interval_ms: u64,
    /// Hosts `rest` timers may call (`host` or `host:port`); none by default, so timers never
    /// reach internal addresses unless configured to.
    pub timer_allowed_hosts: Vec<String>,
    /// Seconds a claimed job (a delivery, a reminder, a timer) stays reserved for the instance
    /// that claimed it: if that instance dies, the job runs again once this has passed. Must be
    /// longer than `delivery.send_timeout_seconds`.
    pub job_lease_seconds: u64,
    /// The provider of each channel (`[channels.email] type = "smtp"`, …). A channel not
    /// listed uses the console provider (the in-app channel, the notification center).
    pub channels: BTreeMap<Channel, ProviderConfig>,
    /// Delivery concurrency, timeouts, retries and rate limits.
    pub delivery: DeliveryConfig,
    /// Folder of custom handler scripts (`*.js`, named by file stem), loaded at start.
    pub scripts_dir: Option<PathBuf>,
    /// Milliseconds a custom handler may run before it is stopped.
    pub script_timeout_ms: u64,
    /// Mebibytes of memory a custom handler may use.
    pub script_memory_mb: usize,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// How end users (patients, staff) are authenticated.
    pub auth: AuthConfig,
    /// RabbitMQ to consume events from (`amqp://user:password@host:5672/vhost`); ingest over
    /// AMQP is off when unset.
    pub amqp_url: Option<Secret>,
    /// Names and limits of the RabbitMQ ingest.
    pub amqp: AmqpConfig,
    /// Folder of template files (`email/{locale}/{name}.html`, `sms/{locale}/{name}.txt`),
    /// the last fallback after the tenant's and the system tenant's templates; read at start.
    pub templates_dir: Option<PathBuf>,
    /// The events `POST /saga/send` sends back to the Flow Manager; none by default.
    pub saga: SagaConfig,
    /// The files service's storage (`[files] store = "local"|"s3"`, `root`, `bucket`,
    /// `endpoint`, `region`, `access_key_id`, `secret_access_key`) and its size limit.
    pub files: FilesConfig,
    /// Tenants' own email settings (seed 05's SMTP settings API).
    pub email: EmailConfig,
    /// How often and how long providers are checked for `/readyz`.
    pub provider_health: ProviderHealthConfig,
    /// The notification center's WebSocket and SSE connections.
    pub realtime: RealtimeConfig,
}

/// The notification center's real-time connections (`[realtime]`, `HERALD_REALTIME__…`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealtimeConfig {
    /// Browser origins allowed to open the WebSocket (`https://app.example.org`, exact match);
    /// `["*"]` allows any. A request without `Origin` (not a browser) is allowed; any other
    /// origin is refused with 403. Empty by default: no browser page may connect until its
    /// origin is listed.
    pub allowed_origins: Vec<String>,
    /// Seconds a client may take to accept one message before its connection is dropped (it
    /// resumes where it left off when it reconnects).
    pub send_timeout_seconds: u64,
    /// Seconds between keep-alives (WebSocket pings, SSE comments).
    pub keep_alive_seconds: u64,
}

/// No browser origins; ten seconds to take a message; a keep-alive every 25 seconds.
impl Default for RealtimeConfig {
    fn default() -> Self {
        Self { allowed_origins: Vec::new(), send_timeout_seconds: 10, keep_alive_seconds: 25 }
    }
}

/// Tenants' own email settings and the SES event webhook.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// Whether tenants may name SMTP hosts (and, in their own provider settings, any endpoint)
    /// that resolve to loopback, private, link-local or metadata addresses
    /// (`HERALD_EMAIL__ALLOW_PRIVATE_HOSTS`); off, so a tenant cannot make Herald reach into
    /// its own network.
    pub allow_private_hosts: bool,
    /// Origins (`https://host[:port]`) trusted to serve SNS signing certificates and
    /// subscription confirmations for `/webhooks/ses/{tenant}`
    /// (`HERALD_EMAIL__SNS_CERTIFICATE_ORIGINS='["…"]'`); any `https://sns.<region>.amazonaws.com`
    /// when empty. An `http://` origin is trusted only when listed (local fakes in tests).
    pub sns_certificate_origins: Vec<String>,
    /// The SNS topics whose deliveries `/webhooks/ses/{tenant}` accepts
    /// (`HERALD_EMAIL__SNS_TOPIC_ARNS='["arn:aws:sns:…"]'`); the route is off while none is listed.
    pub sns_topic_arns: Vec<String>,
}

/// The background health checks of configured providers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderHealthConfig {
    /// Seconds between checks; 0 checks never (`/readyz` then lists none).
    pub interval_seconds: u64,
    /// Seconds one provider's check may take before it counts as failing.
    pub timeout_seconds: u64,
}

/// A check a minute, five seconds each.
impl Default for ProviderHealthConfig {
    fn default() -> Self {
        Self { interval_seconds: 60, timeout_seconds: 5 }
    }
}

/// The Flow Manager events of `POST /saga/send`, named after the notification manager's
/// `flowManagerConfiguration` (`successEventLabel`, `failEventLabel`). Herald publishes them
/// on RabbitMQ (`amqp_url`), to `exchange` with the label as routing key; an unset label sends
/// no event.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SagaConfig {
    /// `messageLabel` of the event sent when a saga send starts without errors.
    pub success_event_label: Option<String>,
    /// `messageLabel` of the event sent when a saga send is refused.
    pub fail_event_label: Option<String>,
    /// The existing exchange the events are published to, with a queue bound to take them.
    pub exchange: String,
}

/// No events; the exchange is the Flow Manager's.
impl Default for SagaConfig {
    fn default() -> Self {
        Self { success_event_label: None, fail_event_label: None, exchange: "flow-manager".into() }
    }
}

/// The RabbitMQ ingest (seed 02): a durable queue bound to a topic exchange, routing key =
/// event name, rejected messages dead-lettered with the reason.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmqpConfig {
    /// The topic exchange events are published to.
    pub exchange: String,
    /// The queue Herald consumes.
    pub queue: String,
    /// Where rejected messages go, with `x-herald-reason`.
    pub dead_letter_exchange: String,
    /// The queue bound to the dead-letter exchange.
    pub dead_letter_queue: String,
    /// Messages processed at once.
    pub prefetch: u16,
    /// The message header naming the tenant.
    pub tenant_header: String,
    /// The tenant of messages without that header.
    pub default_tenant: String,
}

/// The broker's names and limits default to `herald-broker`'s own.
impl Default for AmqpConfig {
    fn default() -> Self {
        let broker = herald_broker::BrokerConfig::new("");
        Self {
            exchange: broker.exchange,
            queue: broker.queue,
            dead_letter_exchange: broker.dead_letter_exchange,
            dead_letter_queue: broker.dead_letter_queue,
            prefetch: broker.prefetch,
            tenant_header: "x-herald-tenant".into(),
            default_tenant: "default".into(),
        }
    }
}

impl AmqpConfig {
    /// The broker settings for `url`.
    pub fn broker(&self, url: &str) -> herald_broker::BrokerConfig {
        herald_broker::BrokerConfig {
            exchange: self.exchange.clone(),
            queue: self.queue.clone(),
            dead_letter_exchange: self.dead_letter_exchange.clone(),
            dead_letter_queue: self.dead_letter_queue.clone(),
            prefetch: self.prefetch,
            ..herald_broker::BrokerConfig::new(url)
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// End-user authentication for the user-facing endpoints.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// JWT bearer tokens.
    pub jwt: Option<JwtConfig>,
    /// Identity headers set by a trusted gateway.
    pub gateway: Option<GatewayConfig>,
}

/// JWT verification settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// `HS256`, `RS256` or `ES256`.
    pub algorithm: JwtAlgorithm,
    /// Shared secret for `HS256`.
    pub secret: Option<Secret>,
    /// PEM public key for `RS256`/`ES256`, inline.
    pub public_key_pem: Option<String>,
    /// PEM public key for `RS256`/`ES256`, from a file.
    pub public_key_file: Option<PathBuf>,
    /// Required `iss`, if set.
    pub issuer: Option<String>,
    /// Required `aud`, if set.
    pub audience: Option<String>,
    /// Claim carrying the tenant slug.
    #[serde(default = "defaults::tenant_claim")]
    pub tenant_claim: String,
    /// Claim carrying the user's groups.
    #[serde(default = "defaults::groups_claim")]
    pub groups_claim: String,
    /// Claim carrying the user's roles.
    #[serde(default = "defaults::roles_claim")]
    pub roles_claim: String,
    /// Claim carrying the user's clusters.
    #[serde(default = "defaults::clusters_claim")]
    pub clusters_claim: String,
    /// Seconds of clock skew tolerated on `exp` and `nbf`.
    #[serde(default = "defaults::leeway")]
    pub leeway_seconds: u64,
}

impl JwtConfig {
    /// HS256 tokens signed with `secret`, every other setting at its default (no issuer or
    /// audience check, the standard claim names, the default leeway).
    pub fn hs256(secret: Secret) -> Self {
        Self {
            algorithm: JwtAlgorithm::HS256,
            secret: Some(secret),
            public_key_pem: None,
            public_key_file: None,
            issuer: None,
            audience: None,
            tenant_claim: defaults::tenant_claim(),
            groups_claim: defaults::groups_claim(),
            roles_claim: defaults::roles_claim(),
            clusters_claim: defaults::clusters_claim(),
            leeway_seconds: defaults::leeway(),
        }
    }
}

/// A JWT signature algorithm Herald accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    HS256,
    /// RSA PKCS#1 v1.5 with SHA-256.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

/// Headers a trusted gateway sets after authenticating the user. Enable only behind a
/// gateway that removes these headers from what clients send.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Header with the user id.
    #[serde(default = "defaults::user_header")]
    pub user_header: String,
    /// Header with the tenant slug.
    #[serde(default = "defaults::tenant_header")]
    pub tenant_header: String,
    /// Header with comma-separated groups.
    #[serde(default = "defaults::groups_header")]
    pub groups_header: String,
    /// Header with comma-separated roles.
    #[serde(default = "defaults::roles_header")]
    pub roles_header: String,
    /// Header with comma-separated clusters.
    #[serde(default = "defaults::clusters_header")]
    pub clusters_header: String,
}

mod defaults {
    pub fn tenant_claim() -> String {
        "tenant".into()
    }
    pub fn groups_claim() -> String {
        "groups".into()
    }
    pub fn roles_claim() -> String {
        "roles".into()
    }
    pub fn clusters_claim() -> String {
        "clusters".into()
    }
    pub fn leeway() -> u64 {
        30
    }
    pub fn user_header() -> String {
        "x-user-id".into()
    }
    pub fn tenant_header() -> String {
        "x-tenant-id".into()
    }
    pub fn groups_header() -> String {
        "x-user-groups".into()
    }
    pub fn roles_header() -> String {
        "x-user-roles".into()
    }
    pub fn clusters_header() -> String {
        "x-user-clusters".into()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/herald.db".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            secret_key: None,
            previous_secret_keys: Vec::new(),
            body_limit: 1024 * 1024,
            bulk_body_limit: 16 * 1024 * 1024,
            max_page_size: 200,
            max_bulk_items: 10_000,
            dedup_window_seconds: 300,
            default_locale: "en".into(),
            active_channels: {
                use herald_core::resources::channel::Channel::*;
                vec![Email, Sms, Push, Voice, Whatsapp, InApp, Webhook]
            },
            job_poll_interval_ms: 250,
            timer_allowed_hosts: Vec::new(),
            job_lease_seconds: 120,
            channels: BTreeMap::new(),
            delivery: DeliveryConfig::default(),
            scripts_dir: None,
            script_timeout_ms: 2_000,
            script_memory_mb: 32,
            log_format: LogFormat::Text,
            auth: AuthConfig::default(),
            amqp_url: None,
            amqp: AmqpConfig::default(),
            templates_dir: None,
            saga: SagaConfig::default(),
            files: FilesConfig::default(),
            email: EmailConfig::default(),
            provider_health: ProviderHealthConfig::default(),
            realtime: RealtimeConfig::default(),
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Reads defaults, then `file` (if given), then the `HERALD_*` variables of `environment`,
    /// and checks the result.
    pub fn load(file: Option<&Path>, environment: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError(format!("the configuration file {} does not exist", file.display())));
            }
            figment = figment.merge(Toml::file(file));
        }
        let environment: Vec<(String, String)> = environment.into_iter().collect();
        let variables: Vec<&(String, String)> =
            environment.iter().filter(|(k, _)| k.starts_with("HERALD_") && !k.starts_with("HERALD_TEST_")).collect();
        let figment = variables.iter().fold(figment, |f, (k, v)| {
            let key = k.trim_start_matches("HERALD_").to_ascii_lowercase().replace("__", ".");
            f.merge(Serialized::global(&key, parse_env_value(v)))
        });
        let mut config: Config = figment.extract().map_err(|e| ConfigError(describe(e)))?;
        if let std::collections::btree_map::Entry::Vacant(email) = config.channels.entry(Channel::Email)
            && let Some(provider) = email_env::provider(&environment.into_iter().collect())?
        {
            email.insert(provider);
        }
        config.check()?;
        Ok(config)
    }

    /// Reads the configuration from the process environment.
    pub fn from_env(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load(file, std::env::vars())
    }

    fn check(&self) -> Result<(), ConfigError> {
        let scheme_ok = ["sqlite:", "postgres://", "postgresql://"].iter().any(|s| self.database_url.starts_with(s));
        if !scheme_ok {
            return Err(ConfigError("database_url (HERALD_DATABASE_URL): must start with sqlite:// or postgres://".into()));
        }
        if let Some(key) = &self.secret_key {
            herald_core::secrets::SecretKey::parse(key.expose())
                .map_err(|e| ConfigError(format!("secret_key (HERALD_SECRET_KEY): {e}")))?;
        } else if !self.database_url.starts_with("sqlite:") {
            return Err(ConfigError(
                "secret_key (HERALD_SECRET_KEY): must be set when the database is PostgreSQL, so every instance shares it".into(),
            ));
        }
        for key in &self.previous_secret_keys {
            herald_core::secrets::SecretKey::parse(key.expose()).map_err(|e| ConfigError(format!("previous_secret_keys: {e}")))?;
        }
        if self.body_limit < 1024 || self.bulk_body_limit < self.body_limit {
            return Err(ConfigError("body_limit must be at least 1024 bytes and bulk_body_limit at least body_limit".into()));
        }
        if self.max_page_size == 0 || self.max_bulk_items == 0 {
            return Err(ConfigError("max_page_size and max_bulk_items must be at least 1".into()));
        }
        if self.delivery.send_timeout_seconds == 0 || self.delivery.send_timeout_seconds >= self.job_lease_seconds {
            return Err(ConfigError(
                "delivery.send_timeout_seconds (HERALD_DELIVERY__SEND_TIMEOUT_SECONDS): must be at least 1 and shorter than job_lease_seconds".into(),
            ));
        }
        for (key, label) in [("success_event_label", &self.saga.success_event_label), ("fail_event_label", &self.saga.fail_event_label)] {
            let env_name = format!("HERALD_SAGA__{}", key.to_ascii_uppercase());
            match label {
                Some(label) if label.is_empty() || label.len() > 255 => {
                    return Err(ConfigError(format!("saga.{key} ({env_name}): must be 1 to 255 bytes (it is the routing key)")));
                }
                Some(_) if self.amqp_url.is_none() => {
                    return Err(ConfigError(format!(
                        "saga.{key} ({env_name}): the saga events are published on RabbitMQ, so amqp_url (HERALD_AMQP_URL) must be set"
                    )));
                }
                _ => {}
            }
        }
        if self.provider_health.timeout_seconds == 0 {
            return Err(ConfigError(
                "provider_health.timeout_seconds (HERALD_PROVIDER_HEALTH__TIMEOUT_SECONDS): must be at least 1".into(),
            ));
        }
        if self.saga.exchange.is_empty() || self.saga.exchange.len() > 255 {
            return Err(ConfigError("saga.exchange (HERALD_SAGA__EXCHANGE): must be 1 to 255 bytes".into()));
        }
        self.files.check().map_err(ConfigError)?;
        if let Some(jwt) = &self.auth.jwt {
            let has_public_key = jwt.public_key_pem.is_some() || jwt.public_key_file.is_some();
            match jwt.algorithm {
                JwtAlgorithm::HS256 if jwt.secret.as_ref().is_none_or(|s| s.expose().len() < 32) => {
                    return Err(ConfigError("auth.jwt.secret: HS256 needs a secret of at least 32 characters".into()));
                }
                JwtAlgorithm::RS256 | JwtAlgorithm::ES256 if !has_public_key => {
                    return Err(ConfigError(
                        "auth.jwt.public_key_pem: RS256 and ES256 need a public key (public_key_pem or public_key_file)".into(),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Where a local files store keeps bytes unless `files.root` says: `files` beside the
    /// SQLite database file, else `data/files`.
    pub fn default_files_root(&self) -> PathBuf {
        let beside = self.sqlite_path().and_then(|db| db.parent().map(|dir| dir.join("files")));
        beside.unwrap_or_else(|| PathBuf::from("data/files"))
    }

    /// The SQLite database file, when the database is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.database_url.strip_prefix("sqlite://").or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }
}

/// Environment values are text; numbers, booleans and JSON arrays of strings or of whole
/// numbers are read as such so typed keys work (`HERALD_PREVIOUS_SECRET_KEYS='["…","…"]'`,
/// `HERALD_DELIVERY__RETRY__SCHEDULE_SECONDS='[5,30,120]'`).
fn parse_env_value(value: &str) -> figment::value::Value {
    if let Ok(items) = serde_json::from_str::<Vec<String>>(value) {
        return items.into();
    }
    if let Ok(numbers) = serde_json::from_str::<Vec<u64>>(value) {
        return numbers.into();
    }
    if let Ok(n) = value.parse::<u64>() {
        return n.into();
    }
    match value {
        "true" => true.into(),
        "false" => false.into(),
        _ => value.to_string().into(),
    }
}

/// figment's message names the key; values of secret keys are never echoed.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() { "configuration".to_string() } else { e.path.join(".") };
            let env_name = format!("HERALD_{}", key.to_ascii_uppercase().replace('.', "__"));
            let detail = match &e.kind {
                figment::error::Kind::InvalidType(actual, expected) => {
                    format!("expected {expected}, found {}", kind_only(actual))
                }
                figment::error::Kind::InvalidValue(actual, expected) => {
                    format!("expected {expected}, found {}", kind_only(actual))
                }
                other => other.to_string(),
            };
            format!("{key} ({env_name}): {detail}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn kind_only(actual: &figment::error::Actual) -> String {
    use figment::error::Actual;
    match actual {
        Actual::Str(_) => "a string".into(),
        Actual::Unsigned(_) | Actual::Signed(_) => "a number".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_work_alone() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(config.database_url, "sqlite://data/herald.db");
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.body_limit, 1024 * 1024);
        assert_eq!(config.sqlite_path(), Some(PathBuf::from("data/herald.db")));
        assert_eq!(config.templates_dir, None);
    }

    #[test]
    fn file_then_environment_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("herald.toml");
        std::fs::write(&file, "bind = \"0.0.0.0:9000\"\nmax_page_size = 50\n[auth.jwt]\nalgorithm = \"HS256\"\nsecret = \"0123456789abcdef0123456789abcdef\"\n").unwrap();
        let config = Config::load(
            Some(&file),
            env(&[
                ("HERALD_MAX_PAGE_SIZE", "20"),
                ("HERALD_AUTH__JWT__ISSUER", "https://idp"),
                ("HERALD_TEMPLATES_DIR", "/srv/herald/templates"),
            ]),
        )
        .unwrap();
        assert_eq!(config.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(config.max_page_size, 20, "the environment wins over the file");
        assert_eq!(config.templates_dir, Some(PathBuf::from("/srv/herald/templates")));
        let jwt = config.auth.jwt.unwrap();
        assert_eq!(jwt.issuer.as_deref(), Some("https://idp"));
        assert_eq!(jwt.tenant_claim, "tenant");
    }

    #[test]
    fn lists_come_from_json_arrays() {
        let old_key = "cd".repeat(32);
        let keys = format!("[\"{old_key}\"]");
        let config = Config::load(None, env(&[("HERALD_PREVIOUS_SECRET_KEYS", &keys)])).unwrap();
        assert_eq!(config.previous_secret_keys, vec![Secret::new(old_key)]);
        let config = Config::load(None, env(&[("HERALD_DELIVERY__RETRY__SCHEDULE_SECONDS", "[5,30,120]")])).unwrap();
        assert_eq!(config.delivery.retry.schedule_seconds, [5, 30, 120]);
    }

    #[test]
    fn realtime_origins_and_timeouts_come_from_the_environment() {
        assert_eq!(Config::load(None, env(&[])).unwrap().realtime.allowed_origins, Vec::<String>::new(), "no browser origin by default");
        let vars =
            env(&[("HERALD_REALTIME__ALLOWED_ORIGINS", "[\"https://app.example.org\"]"), ("HERALD_REALTIME__SEND_TIMEOUT_SECONDS", "3")]);
        let realtime = Config::load(None, vars).unwrap().realtime;
        assert_eq!((realtime.allowed_origins, realtime.send_timeout_seconds), (vec!["https://app.example.org".to_string()], 3));
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (vec![("HERALD_BIND", "not-an-address")], "HERALD_BIND"),
            (vec![("HERALD_DATABASE_URL", "mysql://x")], "HERALD_DATABASE_URL"),
            (vec![("HERALD_SECRET_KEY", "short")], "HERALD_SECRET_KEY"),
            (vec![("HERALD_MAX_PAGE_SIZE", "lots")], "HERALD_MAX_PAGE_SIZE"),
            (vec![("HERALD_DATABASE_URL", "postgres://h/db")], "HERALD_SECRET_KEY"),
            (vec![("HERALD_UNKNOWN_THING", "1")], "unknown_thing"),
            (vec![("HERALD_AUTH__JWT__ALGORITHM", "RS256")], "public_key"),
            (vec![("HERALD_SAGA__SUCCESS_EVENT_LABEL", "notificationSent")], "saga.success_event_label (HERALD_SAGA__SUCCESS_EVENT_LABEL)"),
            (vec![("HERALD_SAGA__FAIL_EVENT_LABEL", "notificationFailed")], "amqp_url"),
            (vec![("HERALD_AMQP_URL", "amqp://h"), ("HERALD_SAGA__FAIL_EVENT_LABEL", "")], "saga.fail_event_label"),
        ];
        for (vars, needle) in cases {
            let err = Config::load(None, env(&vars)).unwrap_err().to_string();
            assert!(err.contains(needle), "{vars:?}: {err}");
        }
    }

    #[test]
    fn saga_events_are_off_unless_labelled() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(
            (config.saga.success_event_label, config.saga.fail_event_label, config.saga.exchange.as_str()),
            (None, None, "flow-manager")
        );
        let config = Config::load(
            None,
            env(&[
                ("HERALD_AMQP_URL", "amqp://h"),
                ("HERALD_SAGA__SUCCESS_EVENT_LABEL", "notificationSent"),
                ("HERALD_SAGA__EXCHANGE", "fm"),
            ]),
        )
        .unwrap();
        assert_eq!((config.saga.success_event_label.as_deref(), config.saga.fail_event_label), (Some("notificationSent"), None));
        assert_eq!(config.saga.exchange, "fm");
    }

    #[test]
    fn secrets_never_print() {
        let config = Config::load(None, env(&[("HERALD_SECRET_KEY", &"ab".repeat(32))])).unwrap();
        assert!(!format!("{config:?}").contains("abab"));
        let err = Config::load(None, env(&[("HERALD_SECRET_KEY", "my-secret-value")])).unwrap_err().to_string();
        assert!(!err.contains("my-secret-value"), "{err}");
    }

    #[test]
    fn files_are_stored_beside_the_database_unless_configured() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(config.default_files_root(), PathBuf::from("data/files"));
        assert_eq!(config.files.max_file_bytes, 15 * 1024 * 1024);
        let config = Config::load(
            None,
            env(&[
                ("HERALD_FILES__STORE", "s3"),
                ("HERALD_FILES__BUCKET", "herald-files"),
                ("HERALD_FILES__ENDPOINT", "http://127.0.0.1:9000"),
                ("HERALD_FILES__ACCESS_KEY_ID", "AKIAEXAMPLE"),
                ("HERALD_FILES__SECRET_ACCESS_KEY", "s3-secret-value"),
                ("HERALD_FILES__MAX_FILE_BYTES", "1048576"),
            ]),
        )
        .unwrap();
        assert_eq!(config.files.store, herald_engine::files::StoreKind::S3);
        assert_eq!((config.files.bucket.as_deref(), config.files.max_file_bytes), (Some("herald-files"), 1_048_576));
        assert!(!format!("{config:?}").contains("s3-secret-value"));
        let err = Config::load(None, env(&[("HERALD_FILES__STORE", "s3")])).unwrap_err().to_string();
        assert!(err.contains("files.bucket (HERALD_FILES__BUCKET)"), "{err}");
        let err = Config::load(None, env(&[("HERALD_FILES__STORE", "ftp")])).unwrap_err().to_string();
        assert!(err.contains("files.store"), "{err}");
    }

    #[test]
    fn private_smtp_hosts_are_refused_unless_allowed() {
        let config = Config::load(None, env(&[])).unwrap();
        assert!(!config.email.allow_private_hosts);
        assert_eq!((config.provider_health.interval_seconds, config.provider_health.timeout_seconds), (60, 5));
        let config =
            Config::load(None, env(&[("HERALD_EMAIL__ALLOW_PRIVATE_HOSTS", "true"), ("HERALD_PROVIDER_HEALTH__INTERVAL_SECONDS", "0")]))
                .unwrap();
        assert!(config.email.allow_private_hosts);
        assert_eq!(config.provider_health.interval_seconds, 0);
    }

    #[test]
    fn seed_05_email_variables_apply_without_a_configured_email_channel() {
        let seed = [("EMAIL_ENABLED", "true"), ("EMAIL_SMTP_HOST", "smtp.example.com"), ("EMAIL_FROM_ADDRESS", "noreply@example.com")];
        let config = Config::load(None, env(&seed)).unwrap();
        assert!(matches!(config.channels.get(&Channel::Email), Some(ProviderConfig::Smtp(smtp)) if smtp.host == "smtp.example.com"));
        let mut configured = seed.to_vec();
        configured.push(("HERALD_CHANNELS__EMAIL__TYPE", "console"));
        let config = Config::load(None, env(&configured)).unwrap();
        assert!(matches!(config.channels.get(&Channel::Email), Some(ProviderConfig::Console(_))), "[channels.email] wins");
        let config = Config::load(None, env(&[("EMAIL_ENABLED", "false")])).unwrap();
        assert!(matches!(config.channels.get(&Channel::Email), Some(ProviderConfig::Disabled)));
        let config = Config::load(None, env(&[("HERALD_CHANNELS__EMAIL__TYPE", "disabled")])).unwrap();
        assert!(matches!(config.channels.get(&Channel::Email), Some(ProviderConfig::Disabled)));
        let err = Config::load(None, env(&[("EMAIL_PROVIDER", "carrier-pigeon")])).unwrap_err().to_string();
        assert!(err.contains("EMAIL_PROVIDER"), "{err}");
        assert!(Config::load(None, env(&[])).unwrap().channels.is_empty());
    }

    #[test]
    fn missing_file_is_an_error() {
        assert!(Config::load(Some(Path::new("/nonexistent/herald.toml")), env(&[])).unwrap_err().to_string().contains("does not exist"));
    }
}
