//! The Apple Push Notification service, token-based. A provider token — an ES256 JWT signed
//! with the team's `.p8` key (`kid` = key id, `iss` = team id, `iat`) — is reused for 55
//! minutes (Apple refuses tokens older than an hour and too-frequent new ones) and made anew
//! once when APNs answers `403 ExpiredProviderToken`. Each device is one HTTP/2
//! `POST {url}/3/device/{token}` with `authorization: bearer <provider token>`, `apns-topic`
//! (the app's bundle id), `apns-push-type: alert`, `apns-priority: 10`, and `apns-id` when the
//! message's idempotency key is a UUID (Herald's keys are not, so APNs assigns one and
//! answers it). The body is the template's `pushData.apns.payload` when given (with its
//! `apns-priority`, `apns-expiration`, `apns-collapse-id` and `apns-push-type` headers), else
//! `{"aps": {"alert": {"title", "subtitle", "body"}}}`; `heraldMessageId` is added to it.
//!
//! The client speaks HTTP/2 only (APNs has nothing else): over TLS it offers only `h2` in ALPN,
//! and to a plain `http://` URL (the tests' fake) it speaks HTTP/2 with prior knowledge.
//!
//! Answers: 200 is sent, the answered `apns-id` the provider id. `410` (`Unregistered`,
//! `ExpiredToken`) and `400 BadDeviceToken` mean the device is gone. 429 and 5xx are retried;
//! anything else fails for good with APNs's `reason`. A token that is not hexadecimal is never
//! sent (it would not be a valid path) and fails that device, left in place.

use crate::push::{Push, gone};
use crate::{Receipt, SendError, http};
use herald_core::resources::user::Platform;
use herald_core::secrets::Secret;
use jiff::{SignedDuration, Timestamp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// How long a provider token is reused.
const TOKEN_LIFETIME: SignedDuration = SignedDuration::from_mins(55);
/// The `pushData.apns.headers` passed on to APNs.
const PASSED_HEADERS: [&str; 4] = ["apns-priority", "apns-expiration", "apns-collapse-id", "apns-push-type"];

/// How Herald reaches APNs: the signing key (inline or as a file), its ids and the app.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApnsConfig {
    /// The `.p8` key's content (PKCS#8 PEM); one of this and `key_file`.
    #[serde(default)]
    pub key: Option<Secret>,
    /// The path of the `.p8` key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The key's id (10 characters, from the Apple developer account).
    pub key_id: String,
    /// The team id (10 characters).
    pub team_id: String,
    /// The app's bundle id, sent as `apns-topic`.
    pub topic: String,
    /// The APNs server: `https://api.push.apple.com`, or `https://api.sandbox.push.apple.com`
    /// for development builds of the app.
    #[serde(default = "default_url")]
    pub url: String,
    /// Seconds to wait for an answer.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_url() -> String {
    "https://api.push.apple.com".into()
}

fn default_timeout() -> u64 {
    10
}

/// Sends to iOS devices.
pub(crate) struct ApnsClient {
    http: reqwest::Client,
    key: EncodingKey,
    key_id: String,
    team_id: String,
    topic: String,
    url: String,
    token: Mutex<Option<(String, Timestamp)>>,
}

impl ApnsClient {
    /// A client for `config`; the error names the setting that is wrong.
    pub fn new(config: &ApnsConfig) -> Result<Self, String> {
        let pem = match (&config.key, &config.key_file) {
            (Some(inline), None) => inline.expose().to_string(),
            (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| format!("apns.key_file: {e}"))?,
            _ => return Err("apns: set one of key and key_file".into()),
        };
        let key = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|_| "apns: the key is not a .p8 (PKCS#8 EC) key")?;
        let http = reqwest::Client::builder()
            .http2_prior_knowledge()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .build()
            .map_err(|e| format!("apns client: {e}"))?;
        Ok(Self {
            http,
            key,
            key_id: config.key_id.clone(),
            team_id: config.team_id.clone(),
            topic: config.topic.clone(),
            url: config.url.trim_end_matches('/').to_string(),
            token: Mutex::new(None),
        })
    }

    /// The provider token: the current one while it is younger than 55 minutes, unless `renew`.
    fn provider_token(&self, at: Timestamp, renew: bool) -> Result<String, SendError> {
        let mut cached = self.token.lock().expect("never poisoned");
        if let Some((token, _)) =
            cached.as_ref().filter(|(_, issued)| !renew && *issued <= at && at.duration_since(*issued) < TOKEN_LIFETIME)
        {
            return Ok(token.clone());
        }
        let header = Header { kid: Some(self.key_id.clone()), ..Header::new(Algorithm::ES256) };
        let claims = json!({"iss": self.team_id, "iat": at.as_second()});
        let token = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|_| SendError::permanent("the APNs provider token could not be signed"))?;
        *cached = Some((token.clone(), at));
        Ok(token)
    }

    /// Sends `push` to the device with `token`.
    pub async fn send(&self, token: &str, push: &Push<'_>) -> Result<Receipt, SendError> {
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SendError::permanent("the iOS device token is not an APNs token (hexadecimal)"));
        }
        let (headers, body) = request(push);
        let mut renew = false;
        loop {
            let provider_token = self.provider_token(push.at, renew)?;
            let mut request = self
                .http
                .post(format!("{}/3/device/{token}", self.url))
                .header("authorization", format!("bearer {provider_token}"))
                .header("apns-topic", &self.topic)
                .json(&body);
            for (name, value) in &headers {
                request = request.header(*name, value);
            }
            if is_uuid(push.key) {
                request = request.header("apns-id", push.key);
            }
            let response = request.send().await.map_err(|e| http::unanswered(&e, "APNs"))?;
            let status = response.status().as_u16();
            let retry_after = http::retry_after(response.headers());
            let apns_id = response.headers().get("apns-id").and_then(|v| v.to_str().ok()).map(str::to_string);
            let text = response.text().await.unwrap_or_default();
            let reason = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["reason"].as_str().map(str::to_string));
            if status == 403 && reason.as_deref() == Some("ExpiredProviderToken") && !renew {
                renew = true;
                continue;
            }
            return match http::outcome(status, retry_after, &text, "APNs") {
                Ok(receipt) => Ok(Receipt { provider_message_id: apns_id, ..receipt }),
                Err(mut error) => {
                    if let Some(reason) = &reason {
                        error.reason = format!("APNs answered {status} {reason}");
                    }
                    let device_gone = status == 410 || reason.as_deref() == Some("BadDeviceToken");
                    Err(if device_gone { gone(error, Platform::Ios, token) } else { error })
                }
            };
        }
    }
}

/// The headers (besides authorization and topic) and the JSON body of one push.
fn request(push: &Push<'_>) -> (Vec<(&'static str, String)>, Value) {
    let apns = push.platform_data("apns");
    let given = apns.and_then(|a| a.get("headers")).and_then(Value::as_object);
    let headers = PASSED_HEADERS
        .iter()
        .map(|name| {
            let value = given.and_then(|h| h.get(*name)).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
            let default = match *name {
                "apns-priority" => Some("10".to_string()),
                "apns-push-type" => Some("alert".to_string()),
                _ => None,
            };
            (*name, value.or(default))
        })
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect();
    let mut body = apns.and_then(|a| a.get("payload")).and_then(Value::as_object).cloned().unwrap_or_default();
    let alert: Map<String, Value> = [("title", push.title), ("subtitle", push.subtitle), ("body", push.body)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), json!(v))))
        .collect();
    if !alert.is_empty() {
        let aps = body.entry("aps").or_insert_with(|| json!({}));
        if let Some(aps) = aps.as_object_mut() {
            aps.entry("alert").or_insert(Value::Object(alert));
        }
    }
    body.insert("heraldMessageId".into(), json!(push.key));
    (headers, Value::Object(body))
}

/// Whether `key` is a UUID in its canonical form (`8-4-4-4-12` hexadecimal digits).
fn is_uuid(key: &str) -> bool {
    let groups: Vec<&str> = key.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]) && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests;
