//! The SMTP provider (lettre, pooled connections, rustls): `plain` for a local relay,
//! `starttls` (the default) or `tls`. The email is built by [`crate::mail`] (structure,
//! `Message-ID`, `Reply-To`, `List-Unsubscribe`). Server certificates are checked against the
//! public roots, plus `root_certificate` when a relay's certificate comes from the clinic's
//! own certificate authority.
//!
//! SMTP 4xx replies and connection failures are worth retrying; 5xx replies fail for good.

use crate::mail::{self, MailSettings};
use crate::{Outgoing, Provider, Receipt, SendError, truncate};
use async_trait::async_trait;
use herald_core::secrets::Secret;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How the connection to the SMTP server is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// No TLS (a relay on the same host or network).
    Plain,
    /// Upgrade with STARTTLS, which the server must offer.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// An SMTP server and the sender address.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The server's host name.
    pub host: String,
    /// Its port (587 for STARTTLS, 465 for TLS, 25 for a relay).
    #[serde(default = "default_port")]
    pub port: u16,
    /// How the connection is secured.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// Login, when the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for `username`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// The sender (`Clinic <noreply@clinic.example>`), unless a send overrides it.
    pub from: String,
    /// Seconds to wait for the server.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Most open connections.
    #[serde(default = "default_pool")]
    pub max_connections: u32,
    /// Where replies go (`Reply-To`), unless a send says.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// The https URL of one-click unsubscribe (`List-Unsubscribe`), with `{tenant}`, `{user}`
    /// and `{event}` filled in; none by default.
    #[serde(default)]
    pub unsubscribe_url: Option<String>,
    /// The event types (non-transactional) whose emails carry `List-Unsubscribe`.
    #[serde(default = "mail::default_unsubscribe_events")]
    pub unsubscribe_events: Vec<String>,
    /// A certificate authority to trust besides the public ones (PEM), for a relay whose
    /// certificate an internal authority signed.
    #[serde(default)]
    pub root_certificate: Option<String>,
}

impl SmtpConfig {
    /// Settings for the server at `host:port` sending as `from`, everything else at its
    /// default: STARTTLS, no login, 10 s, 8 connections, no `Reply-To` or unsubscribe URL.
    pub fn new(host: impl Into<String>, port: u16, from: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port,
            security: SmtpSecurity::default(),
            username: None,
            password: None,
            from: from.into(),
            timeout_seconds: default_timeout(),
            max_connections: default_pool(),
            reply_to: None,
            unsubscribe_url: None,
            unsubscribe_events: mail::default_unsubscribe_events(),
            root_certificate: None,
        }
    }
}

fn default_port() -> u16 {
    587
}

fn default_timeout() -> u64 {
    10
}

fn default_pool() -> u32 {
    8
}

/// Sends email through an SMTP server.
#[derive(Clone)]
pub struct SmtpProvider {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    settings: MailSettings,
}

impl SmtpProvider {
    /// A provider for `config`; fails when the sender or the TLS settings are invalid.
    pub fn new(config: &SmtpConfig) -> Result<Self, String> {
        let settings = MailSettings::new(
            "smtp",
            &config.from,
            config.reply_to.as_deref(),
            config.unsubscribe_url.as_deref(),
            &config.unsubscribe_events,
        )?;
        let tls = || {
            let mut parameters = TlsParameters::builder(config.host.clone());
            if let Some(pem) = &config.root_certificate {
                let not_pem = || "smtp root_certificate: not a PEM certificate".to_string();
                if !pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(not_pem());
                }
                let root = Certificate::from_pem(pem.as_bytes()).map_err(|_| not_pem())?;
                parameters = parameters.add_root_certificate(root);
            }
            parameters.build().map_err(|e| format!("smtp TLS settings: {e}"))
        };
        let tls = match config.security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::Starttls => Tls::Required(tls()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls()?),
        };
        let pool = lettre::transport::smtp::PoolConfig::new().max_size(config.max_connections);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(config.timeout_seconds)))
            .pool_config(pool);
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_string()));
        }
        Ok(Self { transport: builder.build(), settings })
    }
}

#[async_trait]
impl Provider for SmtpProvider {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        let message = mail::message(&self.settings, outgoing)?;
        let message_id = message.headers().get_raw("Message-ID").map(str::to_string);
        match self.transport.send(message).await {
            Ok(response) => Ok(Receipt {
                provider_message_id: message_id,
                response_code: response.code().to_string().parse().ok(),
                response: Some(truncate(&response.message().collect::<Vec<_>>().join(" "))),
                ..Receipt::default()
            }),
            Err(error) => {
                let code = error.status().and_then(|c| c.to_string().parse().ok());
                let transient = !error.is_permanent();
                let reason = match code {
                    Some(code) => format!("the SMTP server answered {code}"),
                    None => "the SMTP server could not be reached".to_string(),
                };
                Err(SendError { transient, response_code: code, reason, ..SendError::default() })
            }
        }
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            _ => Err(SendError::transient("the SMTP server could not be reached")),
        }
    }
}
