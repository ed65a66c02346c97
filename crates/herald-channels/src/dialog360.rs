//! The 360dialog provider (their hosted Cloud API, `https://waba-v2.360dialog.io`): `POST
//! {base_url}/messages` with `D360-API-KEY: <api key>` and the same body as Meta's Cloud API
//! ([`crate::whatsapp`]) — 360dialog adds the phone number id itself, one API key per number.
//! Answers are Meta's, passed on, or 360dialog's own `{meta: {httpCode, developerMessage}}`.
//! The health check reads the number's webhook configuration (`GET
//! {base_url}/v1/configs/webhook`), which proves the key.
//!
//! 360dialog does not sign the webhooks it forwards for a number (only its partner events carry
//! `x-360dialog-signature`), so Herald's webhook URL for it carries a per-tenant secret instead:
//! `/webhooks/360dialog/{tenant}/{token}` with `token` = the lowercase hex HMAC-SHA256 of the
//! tenant's slug under `webhook_secret` ([`whatsapp::tenant_token`]; `printf %s clinic-a | openssl dgst
//! -sha256 -hmac "$SECRET"` computes it). Set that URL with 360dialog's `POST
//! /v1/configs/webhook`.

use crate::whatsapp_cloud::{default_language, default_timeout};
use crate::{Outgoing, Provider, Receipt, SendError, http, whatsapp};
use async_trait::async_trait;
use herald_core::secrets::Secret;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A WhatsApp number on 360dialog.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialog360Config {
    /// The Messaging API (`https://waba-v2.360dialog.io`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The number's API key.
    pub api_key: Secret,
    /// The template language of recipients without a (supported) locale.
    #[serde(default = "default_language")]
    pub default_language: String,
    /// The secret each tenant's webhook URL token is derived from; without it the webhook route
    /// refuses every callback.
    #[serde(default)]
    pub webhook_secret: Option<Secret>,
    /// Seconds to wait for an answer.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_base_url() -> String {
    "https://waba-v2.360dialog.io".into()
}

/// Sends template messages and free-form texts through 360dialog.
#[derive(Clone, Debug)]
pub struct Dialog360Provider {
    client: reqwest::Client,
    base_url: String,
    api_key: Secret,
    default_language: String,
}

/// The service, as reasons name it.
const WHAT: &str = "360dialog";

impl Dialog360Provider {
    /// A provider for `config`'s number.
    pub fn new(config: &Dialog360Config) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .build()
            .map_err(|e| format!("360dialog client: {e}"))?;
        Ok(Self {
            client,
            base_url: config.base_url.trim_end_matches('/').to_string(),
            api_key: config.api_key.clone(),
            default_language: config.default_language.clone(),
        })
    }
}

#[async_trait]
impl Provider for Dialog360Provider {
    fn name(&self) -> &'static str {
        whatsapp::DIALOG360_SERVICE
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        let body = whatsapp::message_body(outgoing, &self.default_language)?;
        let response = self
            .client
            .post(format!("{}/messages", self.base_url))
            .header("D360-API-KEY", self.api_key.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| http::unanswered(&e, WHAT))?;
        whatsapp::answer(response, WHAT).await
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        let response = self
            .client
            .get(format!("{}/v1/configs/webhook", self.base_url))
            .header("D360-API-KEY", self.api_key.expose())
            .send()
            .await
            .map_err(|e| http::unanswered(&e, WHAT))?;
        whatsapp::answer(response, WHAT).await.map(|_| ())
    }
}
