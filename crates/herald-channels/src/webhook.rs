//! The webhook provider: each message is a JSON POST to the tenant system's URL, signed as
//! Standard Webhooks do — `webhook-id` (the message's idempotency key, the same on every
//! retry), `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256
//! of "{id}.{timestamp}.{body}">`. A secret written `whsec_<base64>` is decoded; any other
//! secret is used as its bytes.
//!
//! Answers are read as every HTTP provider's are ([`crate::http`]).

use crate::{Outgoing, Provider, Receipt, SendError, http};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use herald_core::secrets::Secret;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use std::time::Duration;

/// Where webhooks go and how they are signed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The receiving endpoint (`https://…`).
    pub url: String,
    /// The signing secret.
    pub secret: Secret,
    /// Seconds to wait for an answer.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    10
}

/// Posts signed JSON messages.
#[derive(Clone, Debug)]
pub struct WebhookProvider {
    client: reqwest::Client,
    url: String,
    key: Vec<u8>,
}

impl WebhookProvider {
    /// A provider posting to `config.url`.
    pub fn new(config: &WebhookConfig) -> Result<Self, String> {
        let secret = config.secret.expose();
        let key = match secret.strip_prefix("whsec_") {
            Some(encoded) => STANDARD.decode(encoded).map_err(|_| "webhook secret: whsec_ must be followed by base64".to_string())?,
            None => secret.as_bytes().to_vec(),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .build()
            .map_err(|e| format!("webhook client: {e}"))?;
        Ok(Self { client, url: config.url.clone(), key })
    }

    /// The `webhook-signature` value for a body.
    fn signature(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[async_trait]
impl Provider for WebhookProvider {
    fn name(&self) -> &'static str {
        "webhook"
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        let body = json!({
            "type": "notification.message",
            "id": outgoing.idempotency_key,
            "tenant": outgoing.tenant,
            "recipient": outgoing.recipient.id,
            "event": outgoing.event,
            "content": outgoing.content,
        })
        .to_string();
        let timestamp = outgoing.at.as_second();
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &outgoing.idempotency_key)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", self.signature(&outgoing.idempotency_key, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| http::unanswered(&e, "the webhook"))?;
        http::answer(response, "the webhook").await
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_standard_webhooks_does() {
        // The example from the Standard Webhooks specification's reference implementation.
        let provider = WebhookProvider::new(&WebhookConfig {
            url: "http://127.0.0.1:1/".into(),
            secret: Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            timeout_seconds: 1,
        })
        .unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(provider.signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
