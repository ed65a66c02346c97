//! The SMTP provider (lettre, pooled connections, rustls): `plain` for a local relay,
//! `starttls` (the default) or `tls`. Each email is `multipart/alternative` with a text and an
//! HTML part when both are rendered; with attachments, that body comes first in a
//! `multipart/mixed` followed by one part per file. Its `Message-ID` is derived from the
//! message's idempotency key, so a retry after a lost answer carries the same id and receivers
//! can drop the copy.
//!
//! SMTP 4xx replies and connection failures are worth retrying; 5xx replies fail for good.

use crate::{Attachment, Outgoing, Provider, Receipt, SendError, truncate};
use async_trait::async_trait;
use herald_core::render::Content;
use herald_core::secrets::Secret;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
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
    from: Mailbox,
}

impl SmtpProvider {
    /// A provider for `config`; fails when the sender or the TLS settings are invalid.
    pub fn new(config: &SmtpConfig) -> Result<Self, String> {
        let from: Mailbox = config.from.parse().map_err(|_| "smtp.from is not an email address".to_string())?;
        let tls = || TlsParameters::new(config.host.clone()).map_err(|e| format!("smtp TLS settings: {e}"));
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
        Ok(Self { transport: builder.build(), from })
    }

    /// The email for `outgoing`; errors are permanent (the message cannot be built).
    fn message(&self, outgoing: &Outgoing) -> Result<Message, SendError> {
        let Some(Content::Email { subject, text, html }) = &outgoing.content else {
            return Err(SendError::permanent("an email needs email content"));
        };
        let to = outgoing.recipient.email_address.as_ref().ok_or_else(|| SendError::permanent("the recipient has no email address"))?;
        let mailbox = |address: &str| address.parse::<Mailbox>().map_err(|_| SendError::permanent("an email address is not valid"));
        let from = match &outgoing.email.sender {
            Some(sender) => mailbox(sender)?,
            None => self.from.clone(),
        };
        let domain = from.email.domain().to_string();
        let mut builder = Message::builder()
            .from(from)
            .to(mailbox(to.as_str())?)
            .subject(subject)
            .message_id(Some(format!("<{}@{domain}>", outgoing.idempotency_key)));
        for cc in &outgoing.email.carbon_copies {
            builder = builder.cc(mailbox(cc)?);
        }
        for bcc in &outgoing.email.blind_carbon_copies {
            builder = builder.bcc(mailbox(bcc)?);
        }
        let body = match (text, html) {
            (Some(text), Some(html)) => Body::Alternative(MultiPart::alternative_plain_html(text.clone(), html.clone())),
            (None, Some(html)) => Body::Single(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
            (Some(text), None) => Body::Single(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text.clone())),
            (None, None) => return Err(SendError::permanent("an email needs a body")),
        };
        let built = match (body, with_attachments(&outgoing.attachments)?) {
            (Body::Alternative(alternative), Some(attach)) => builder.multipart(attach(MultiPart::mixed().multipart(alternative))),
            (Body::Single(single), Some(attach)) => builder.multipart(attach(MultiPart::mixed().singlepart(single))),
            (Body::Alternative(alternative), None) => builder.multipart(alternative),
            (Body::Single(single), None) => builder.singlepart(single),
        };
        built.map_err(|e| SendError::permanent(format!("the email cannot be built: {e}")))
    }
}

/// An email's text: one part, or the text and HTML alternatives.
enum Body {
    Single(SinglePart),
    Alternative(MultiPart),
}

/// What appends `attachments` after the body of a `multipart/mixed` email, each as an
/// `attachment` part with its file name and content type (binary files in base64); `None`
/// without attachments, so such emails keep their plain structure.
fn with_attachments(attachments: &[Attachment]) -> Result<Option<impl FnOnce(MultiPart) -> MultiPart>, SendError> {
    if attachments.is_empty() {
        return Ok(None);
    }
    let parts = attachments
        .iter()
        .map(|file| {
            let content_type =
                ContentType::parse(&file.content_type).map_err(|_| SendError::permanent("an attachment's content type is not valid"))?;
            Ok(lettre::message::Attachment::new(file.filename.clone()).body(file.content.clone(), content_type))
        })
        .collect::<Result<Vec<_>, SendError>>()?;
    Ok(Some(move |mixed: MultiPart| parts.into_iter().fold(mixed, MultiPart::singlepart)))
}

#[async_trait]
impl Provider for SmtpProvider {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        let message = self.message(outgoing)?;
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
