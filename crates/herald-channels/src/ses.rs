//! The Amazon SES v2 provider: `SendEmail` (`POST {endpoint}/v2/email/outbound-emails`), signed
//! with SigV4 (service `ses`) from the configured keys, at the message's time by the injected
//! clock.
//!
//! - A message without attachments goes as `Content.Simple` (subject, text and/or HTML, and the
//!   `List-Unsubscribe` headers when its type carries them, see [`crate::mail`]); one with
//!   attachments goes as `Content.Raw`, the base64 of the same MIME email the SMTP provider
//!   sends. `Destination` names the recipient, CC and BCC either way; `ReplyToAddresses` the
//!   reply address; `ConfigurationSetName` is sent when configured (the configuration set is
//!   where SES event publishing to SNS is set up, see the `/webhooks/ses/{tenant}` route).
//! - The answer's `MessageId` is the provider message id SES events report about.
//! - 429 (`TooManyRequestsException`), other throttling and 5xx are worth retrying; other 4xx
//!   (`MessageRejected`, `MailFromDomainNotVerifiedException`, …) fail for good.
//! - The health check is `GetAccount` (`GET {endpoint}/v2/email/account`), which proves the
//!   keys and the region.
//!
//! Settings: `region` (required), `endpoint` (default `https://email.{region}.amazonaws.com`),
//! `access_key_id`, `secret_access_key`, `session_token` (optional), `from`, `reply_to`,
//! `configuration_set_name`, `unsubscribe_url`, `unsubscribe_events`, `timeout_seconds`.

use crate::mail::{self, MailSettings, ONE_CLICK};
use crate::sigv4::{self, Credentials, Scope};
use crate::{Outgoing, Provider, Receipt, SendError, http};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use herald_core::secrets::Secret;
use jiff::Timestamp;
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

/// An SES account (region and keys) and the sender.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SesConfig {
    /// The AWS region (`eu-west-1`).
    pub region: String,
    /// The API's base URL; `https://email.{region}.amazonaws.com` when unset.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The IAM access key id.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials.
    #[serde(default)]
    pub session_token: Option<Secret>,
    /// The sender (`Clinic <noreply@clinic.example>`), a verified identity, unless a send
    /// overrides it.
    pub from: String,
    /// Where replies go, unless a send says.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// The SES configuration set (event publishing, dedicated IPs).
    #[serde(default)]
    pub configuration_set_name: Option<String>,
    /// The https URL of one-click unsubscribe, as in `SmtpConfig`.
    #[serde(default)]
    pub unsubscribe_url: Option<String>,
    /// The event types whose emails carry `List-Unsubscribe`.
    #[serde(default = "mail::default_unsubscribe_events")]
    pub unsubscribe_events: Vec<String>,
    /// Seconds to wait for an answer.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    10
}

/// The service, as reasons name it.
const WHAT: &str = "Amazon SES";

/// SES's SigV4 signing name.
const SERVICE: &str = "ses";

/// The path of `SendEmail`.
const SEND_PATH: &str = "/v2/email/outbound-emails";

/// The path of `GetAccount`.
const ACCOUNT_PATH: &str = "/v2/email/account";

/// Sends email through Amazon SES v2.
#[derive(Clone, Debug)]
pub struct SesProvider {
    client: reqwest::Client,
    endpoint: String,
    host: String,
    region: String,
    access_key_id: String,
    secret_access_key: Secret,
    session_token: Option<Secret>,
    configuration_set_name: Option<String>,
    settings: MailSettings,
}

impl SesProvider {
    /// A provider for `config`; fails when the region, endpoint or addresses are invalid.
    pub fn new(config: &SesConfig) -> Result<Self, String> {
        if config.region.is_empty() || !config.region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("ses.region must be an AWS region such as eu-west-1".into());
        }
        if config.access_key_id.is_empty() {
            return Err("ses.access_key_id must not be empty".into());
        }
        let endpoint = config.endpoint.clone().unwrap_or_else(|| format!("https://email.{}.amazonaws.com", config.region));
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&endpoint).map_err(|_| "ses.endpoint is not a URL".to_string())?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => return Err("ses.endpoint has no host".into()),
        };
        let settings = MailSettings::new(
            "ses",
            &config.from,
            config.reply_to.as_deref(),
            config.unsubscribe_url.as_deref(),
            &config.unsubscribe_events,
        )?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .build()
            .map_err(|e| format!("Amazon SES client: {e}"))?;
        Ok(Self {
            client,
            endpoint,
            host,
            region: config.region.clone(),
            access_key_id: config.access_key_id.clone(),
            secret_access_key: config.secret_access_key.clone(),
            session_token: config.session_token.clone(),
            configuration_set_name: config.configuration_set_name.clone(),
            settings,
        })
    }

    /// The `SendEmail` body of `outgoing`.
    fn body(&self, outgoing: &Outgoing) -> Result<Value, SendError> {
        let from = self.settings.sender(outgoing)?;
        let to = mail::mailbox(mail::recipient(outgoing)?)?;
        let mut body = json!({"FromEmailAddress": address(&from), "Destination": {"ToAddresses": [address(&to)]}});
        if !outgoing.email.carbon_copies.is_empty() {
            body["Destination"]["CcAddresses"] = json!(outgoing.email.carbon_copies);
        }
        if !outgoing.email.blind_carbon_copies.is_empty() {
            body["Destination"]["BccAddresses"] = json!(outgoing.email.blind_carbon_copies);
        }
        if let Some(reply_to) = self.settings.reply_to(outgoing)? {
            body["ReplyToAddresses"] = json!([address(&reply_to)]);
        }
        if let Some(set) = &self.configuration_set_name {
            body["ConfigurationSetName"] = json!(set);
        }
        body["Content"] = if outgoing.attachments.is_empty() {
            let (subject, text, html) = mail::email_content(outgoing)?;
            let part = |data: &String| json!({"Data": data, "Charset": "UTF-8"});
            let mut simple = json!({"Subject": part(&subject), "Body": {}});
            if let Some(text) = text {
                simple["Body"]["Text"] = part(text);
            }
            if let Some(html) = html {
                simple["Body"]["Html"] = part(html);
            }
            if let Some(url) = self.settings.unsubscribe(outgoing) {
                simple["Headers"] = json!([
                    {"Name": "List-Unsubscribe", "Value": format!("<{url}>")},
                    {"Name": "List-Unsubscribe-Post", "Value": ONE_CLICK},
                ]);
            }
            json!({"Simple": simple})
        } else {
            let raw = mail::message(&self.settings, outgoing)?.formatted();
            json!({"Raw": {"Data": STANDARD.encode(raw)}})
        };
        Ok(body)
    }

    /// A signed request to `path` with `payload`.
    fn request(&self, method: reqwest::Method, path: &str, payload: Vec<u8>, at: Timestamp) -> reqwest::RequestBuilder {
        let mut headers = vec![("host".to_string(), self.host.clone())];
        if !payload.is_empty() {
            headers.push(("content-type".to_string(), "application/json".to_string()));
        }
        let credentials = Credentials {
            access_key_id: &self.access_key_id,
            secret_access_key: self.secret_access_key.expose(),
            session_token: self.session_token.as_ref().map(Secret::expose),
        };
        let signing = sigv4::Request { method: method.as_str(), path, query: "", headers: headers.clone(), payload: &payload };
        let added = sigv4::sign(&credentials, Scope { region: &self.region, service: SERVICE }, at, &signing);
        let mut builder = self.client.request(method, format!("{}{path}", self.endpoint));
        for (name, value) in headers.into_iter().skip(1).chain(added) {
            builder = builder.header(name, value);
        }
        builder.body(payload)
    }
}

#[async_trait]
impl Provider for SesProvider {
    fn name(&self) -> &'static str {
        "ses"
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        let body = serde_json::to_vec(&self.body(outgoing)?).expect("JSON serializes");
        let response =
            self.request(reqwest::Method::POST, SEND_PATH, body, outgoing.at).send().await.map_err(|e| http::unanswered(&e, WHAT))?;
        let status = response.status().as_u16();
        let retry_after = http::retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        let mut receipt = http::outcome(status, retry_after, &text, WHAT).map_err(|mut error| {
            if throttled(&text) {
                error.transient = true;
            }
            error
        })?;
        receipt.provider_message_id = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["MessageId"].as_str().map(str::to_string));
        Ok(receipt)
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        let response = self
            .request(reqwest::Method::GET, ACCOUNT_PATH, Vec::new(), Timestamp::now())
            .send()
            .await
            .map_err(|e| http::unanswered(&e, WHAT))?;
        http::answer(response, WHAT).await.map(|_| ())
    }
}

/// A mailbox as SES wants it: a display name that is not plain ASCII is RFC 2047-encoded
/// (`=?UTF-8?B?…?=`), which SES requires of the addresses of a `Simple` message.
fn address(mailbox: &Mailbox) -> String {
    match mailbox.name.as_deref().map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) if !name.is_ascii() => format!("=?UTF-8?B?{}?= <{}>", STANDARD.encode(name), mailbox.email),
        _ => mailbox.to_string(),
    }
}

/// Whether an SES error body names throttling (sent with 400 by some AWS front ends).
fn throttled(body: &str) -> bool {
    ["TooManyRequestsException", "ThrottlingException", "Throttling"].iter().any(|code| body.contains(code))
}
