//! The Meta WhatsApp Cloud API provider: `POST {base_url}/{api_version}/{phone_number_id}/messages`
//! with `Authorization: Bearer <access token>` and the body [`crate::whatsapp`] builds; the
//! answer's `messages[0].id` (`wamid.…`) is the provider message id its webhooks report
//! statuses for. The health check reads the phone number (`GET
//! {base_url}/{api_version}/{phone_number_id}?fields=id`), which proves the token.
//!
//! The webhook settings (`app_secret` for `X-Hub-Signature-256`, `verify_token` for the
//! subscription challenge) live here too, beside the account they belong to; Herald's webhook
//! route reads them.

use crate::{Outgoing, Provider, Receipt, SendError, http, whatsapp};
use async_trait::async_trait;
use herald_core::secrets::Secret;
use serde::{Deserialize, Deserializer, Serialize};
use std::time::Duration;

/// A WhatsApp Business phone number on the Cloud API.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappCloudConfig {
    /// The Graph API (`https://graph.facebook.com`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The Graph API version (`v23.0`).
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The business phone number's id (not the number itself); digits, read as text even when
    /// the configuration writes them as a number (`HERALD_CHANNELS__WHATSAPP__PHONE_NUMBER_ID`).
    #[serde(deserialize_with = "text_or_number")]
    pub phone_number_id: String,
    /// A system user's access token with `whatsapp_business_messaging`.
    pub access_token: Secret,
    /// The template language of recipients without a (supported) locale.
    #[serde(default = "default_language")]
    pub default_language: String,
    /// The Meta app's secret, which signs webhooks (`X-Hub-Signature-256`); without it the
    /// webhook route refuses every callback.
    #[serde(default)]
    pub app_secret: Option<Secret>,
    /// The token Meta echoes when it verifies the webhook subscription.
    #[serde(default)]
    pub verify_token: Option<Secret>,
    /// Seconds to wait for an answer.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

/// A string, or a whole number written as one.
fn text_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(match Id::deserialize(deserializer)? {
        Id::Text(text) => text,
        Id::Number(number) => number.to_string(),
    })
}

fn default_base_url() -> String {
    "https://graph.facebook.com".into()
}

fn default_api_version() -> String {
    "v23.0".into()
}

/// English, when nothing else is known.
pub(crate) fn default_language() -> String {
    "en".into()
}

pub(crate) fn default_timeout() -> u64 {
    10
}

/// Sends template messages and free-form texts through the Cloud API.
#[derive(Clone, Debug)]
pub struct WhatsappCloudProvider {
    client: reqwest::Client,
    phone_url: String,
    token: Secret,
    default_language: String,
}

/// The service, as reasons name it.
const WHAT: &str = "the WhatsApp Cloud API";

impl WhatsappCloudProvider {
    /// A provider for `config`'s phone number.
    pub fn new(config: &WhatsappCloudConfig) -> Result<Self, String> {
        if config.phone_number_id.trim().is_empty() {
            return Err("phone_number_id must not be empty".into());
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .build()
            .map_err(|e| format!("WhatsApp Cloud API client: {e}"))?;
        let phone_url = format!("{}/{}/{}", config.base_url.trim_end_matches('/'), config.api_version, config.phone_number_id);
        Ok(Self { client, phone_url, token: config.access_token.clone(), default_language: config.default_language.clone() })
    }
}

#[async_trait]
impl Provider for WhatsappCloudProvider {
    fn name(&self) -> &'static str {
        whatsapp::CLOUD_SERVICE
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        let body = whatsapp::message_body(outgoing, &self.default_language)?;
        let response = self
            .client
            .post(format!("{}/messages", self.phone_url))
            .bearer_auth(self.token.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| http::unanswered(&e, WHAT))?;
        whatsapp::answer(response, WHAT).await
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        let response = self
            .client
            .get(&self.phone_url)
            .query(&[("fields", "id")])
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| http::unanswered(&e, WHAT))?;
        whatsapp::answer(response, WHAT).await.map(|_| ())
    }
}
