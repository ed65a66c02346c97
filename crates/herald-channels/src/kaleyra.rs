//! The Kaleyra SMS provider (`type = "kaleyra"` on the `sms` channel): Kaleyra.io's
//! `POST {base_url}/v1/{sid}/messages` with the `api-key` header and a form of `to` (E.164),
//! `sender` (the registered sender ID), `type` (`DEFAULT`, or the route the account uses:
//! `TXN`, `OTP`, `MKT`), `body` and, for a body that needs UCS-2, `unicode=1`.
//! The answer's `data[0].message_id` (else its `id`) is the provider message id; the recorded
//! answer keeps only the ids and counts (the answer repeats the number and the body). 429 and
//! 5xx are retried with `Retry-After`; any other error fails for good with Kaleyra's `code`
//! and `message` (`{code: "E413", message, error: {…}}`), numbers masked. Herald does not ask
//! Kaleyra for delivery callbacks (Kaleyra does not sign them), so Kaleyra messages stay
//! `SUCCESS` once accepted. The health check lists the account's messages with `limit=1`,
//! which proves the key.
//!
//! Config keys: `sid`, `api_key`, `sender`, `message_type` (default `DEFAULT`), `base_url`
//! (default `https://api.kaleyra.io`) and `timeout_seconds` (default 10).

use crate::twilio::mask_numbers;
use crate::whatsapp_cloud::default_timeout;
use crate::{Outgoing, Provider, Receipt, SendError, http, truncate};
use async_trait::async_trait;
use herald_core::render::Content;
use herald_core::secrets::Secret;
use herald_core::sms::{Encoding, segments};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

/// The provider's name, recorded as its messages' `service`.
pub const KALEYRA_SERVICE: &str = "kaleyra";

/// The service, as reasons name it.
const WHAT: &str = "Kaleyra";

/// A Kaleyra.io account sending SMS.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KaleyraConfig {
    /// Kaleyra.io's API (`https://api.kaleyra.io`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The account SID.
    pub sid: String,
    /// The API key.
    pub api_key: Secret,
    /// The registered sender ID.
    pub sender: String,
    /// The message type (route): `DEFAULT`, `TXN`, `OTP` or `MKT`.
    #[serde(default = "default_type")]
    pub message_type: String,
    /// Seconds to wait for an answer.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_base_url() -> String {
    "https://api.kaleyra.io".into()
}

fn default_type() -> String {
    "DEFAULT".into()
}

/// Sends SMS through Kaleyra.io.
#[derive(Clone, Debug)]
pub struct KaleyraProvider {
    client: reqwest::Client,
    messages_url: String,
    api_key: Secret,
    sender: String,
    message_type: String,
}

impl KaleyraProvider {
    /// A provider for `config`'s account; the error names the setting that is wrong.
    pub fn new(config: &KaleyraConfig) -> Result<Self, String> {
        if config.sid.is_empty() || !config.sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err("sid must be the account SID (letters and digits)".into());
        }
        if config.sender.trim().is_empty() {
            return Err("sender must not be empty".into());
        }
        if !matches!(config.message_type.as_str(), "DEFAULT" | "TXN" | "OTP" | "MKT") {
            return Err("message_type must be DEFAULT, TXN, OTP or MKT".into());
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .build()
            .map_err(|e| format!("Kaleyra client: {e}"))?;
        Ok(Self {
            client,
            messages_url: format!("{}/v1/{}/messages", config.base_url.trim_end_matches('/'), config.sid),
            api_key: config.api_key.clone(),
            sender: config.sender.clone(),
            message_type: config.message_type.clone(),
        })
    }
}

/// Reads Kaleyra's answer.
async fn answer(response: reqwest::Response) -> Result<Receipt, SendError> {
    let status = response.status().as_u16();
    let retry_after = http::retry_after(response.headers());
    let body: Value = serde_json::from_str(&response.text().await.unwrap_or_default()).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        let message_id = body.pointer("/data/0/message_id").or_else(|| body.get("id")).and_then(Value::as_str).map(str::to_string);
        let Some(message_id) = message_id else {
            return Err(SendError {
                response_code: Some(status),
                ..SendError::permanent(format!("{WHAT} answered {status} without an id"))
            });
        };
        let kept = json!({"id": body.get("id"), "message_id": message_id, "totalCount": body.get("totalCount")});
        return Ok(Receipt {
            provider_message_id: Some(message_id),
            response_code: Some(status),
            response: Some(truncate(&kept.to_string())),
            ..Receipt::default()
        });
    }
    let code = body.get("code").and_then(Value::as_str).map(str::to_string);
    let message = body.get("message").and_then(Value::as_str).map(mask_numbers);
    let cause = [code.clone(), message.clone()].into_iter().flatten().collect::<Vec<_>>().join(": ");
    let cause = if cause.is_empty() { String::new() } else { format!(": {cause}") };
    Err(SendError {
        transient: status == 429 || status >= 500,
        retry_after,
        response_code: Some(status),
        response: Some(truncate(&json!({"code": code, "message": message}).to_string())),
        reason: format!("{WHAT} answered {status}{cause}"),
        ..SendError::default()
    })
}

#[async_trait]
impl Provider for KaleyraProvider {
    fn name(&self) -> &'static str {
        KALEYRA_SERVICE
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<Receipt, SendError> {
        let Some(Content::Sms { body }) = &outgoing.content else {
            return Err(SendError::permanent("Kaleyra sends SMS content only"));
        };
        let to = outgoing.recipient.phone_number.as_ref().ok_or_else(|| SendError::permanent("the recipient has no phone number"))?;
        let mut form = vec![("to", to.as_str()), ("sender", &self.sender), ("type", &self.message_type), ("body", body)];
        if segments(body).encoding == Encoding::Ucs2 {
            form.push(("unicode", "1"));
        }
        let response = self
            .client
            .post(&self.messages_url)
            .header("api-key", self.api_key.expose())
            .form(&form)
            .send()
            .await
            .map_err(|e| http::unanswered(&e, WHAT))?;
        answer(response).await
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        let response = self
            .client
            .get(&self.messages_url)
            .query(&[("limit", "1")])
            .header("api-key", self.api_key.expose())
            .send()
            .await
            .map_err(|e| http::unanswered(&e, WHAT))?;
        http::answer(response, WHAT).await.map(|_| ())
    }
}
