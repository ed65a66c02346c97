//! Firebase Cloud Messaging, HTTP v1 API. A service account's key signs an RS256 assertion
//! (`iss` = `client_email`, `scope` = firebase.messaging, `aud` = the token endpoint, an hour
//! long) that the token endpoint exchanges (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`)
//! for an access token; the token is kept until a minute before it expires, and fetched again
//! once when FCM answers 401. Each device is one `POST {send_url}/v1/projects/{project}/messages:send`
//! with `Authorization: Bearer <access token>` and
//! `{"message": {"token", "notification": {"title", "body"}, "data": {"heraldMessageId"}, "android", "apns"}}`:
//! `android` and `apns` are the template's `pushData` as given; without an `apns` one, a
//! subtitle goes to iOS devices as `apns.payload.aps.alert.subtitle` (Android has none).
//!
//! Answers: 2xx is sent, FCM's `name` the provider id. `UNREGISTERED`, and `INVALID_ARGUMENT`
//! about the token (FCM's error detail without a field violation on another field), mean the
//! token will never work: the device is gone. 429 and 5xx are retried after their
//! `Retry-After`; anything else fails for good, the FCM error code in the reason.

use crate::push::{Push, gone};
use crate::{Receipt, SendError, http};
use herald_core::resources::user::Platform;
use herald_core::secrets::Secret;
use jiff::{SignedDuration, Timestamp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// The OAuth scope of the FCM send API.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The OAuth grant of a signed assertion.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How long before its expiry a cached access token is replaced.
const EXPIRY_MARGIN: SignedDuration = SignedDuration::from_secs(60);

/// How Herald reaches FCM: the service account (inline or as a file) and, for tests, the
/// endpoints.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FcmConfig {
    /// The service account key file's JSON (`client_email`, `private_key`, `token_uri`,
    /// `project_id`); one of this and `service_account_file`.
    #[serde(default)]
    pub service_account: Option<Secret>,
    /// The path of the service account key file.
    #[serde(default)]
    pub service_account_file: Option<PathBuf>,
    /// The Firebase project (default: the service account's `project_id`).
    #[serde(default)]
    pub project_id: Option<String>,
    /// The OAuth token endpoint (default: the service account's `token_uri`).
    #[serde(default)]
    pub token_url: Option<String>,
    /// The FCM API's base URL.
    #[serde(default = "default_send_url")]
    pub send_url: String,
    /// Seconds to wait for an answer.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_send_url() -> String {
    "https://fcm.googleapis.com".into()
}

fn default_timeout() -> u64 {
    10
}

/// The fields of a service account key file Herald uses.
#[derive(Deserialize)]
struct ServiceAccount {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default = "default_token_uri")]
    token_uri: String,
    #[serde(default)]
    project_id: Option<String>,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".into()
}

/// An access token and when it stops working.
struct AccessToken {
    value: String,
    expires_at: Timestamp,
}

/// Sends to Android devices (and any FCM registration token).
pub(crate) struct FcmClient {
    http: reqwest::Client,
    client_email: String,
    key: EncodingKey,
    key_id: Option<String>,
    token_url: String,
    messages_url: String,
    token: tokio::sync::Mutex<Option<AccessToken>>,
}

impl FcmClient {
    /// A client for `config`; the error names the setting that is wrong.
    pub fn new(config: &FcmConfig) -> Result<Self, String> {
        let json = match (&config.service_account, &config.service_account_file) {
            (Some(inline), None) => inline.expose().to_string(),
            (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| format!("fcm.service_account_file: {e}"))?,
            _ => return Err("fcm: set one of service_account and service_account_file".into()),
        };
        let account: ServiceAccount = serde_json::from_str(&json)
            .map_err(|_| "fcm: the service account is not a key file's JSON with client_email and private_key")?;
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|_| "fcm: the service account's private_key is not an RSA key")?;
        let project = config.project_id.clone().or(account.project_id).ok_or("fcm: project_id is missing")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .build()
            .map_err(|e| format!("fcm client: {e}"))?;
        Ok(Self {
            http,
            client_email: account.client_email,
            key,
            key_id: account.private_key_id,
            token_url: config.token_url.clone().unwrap_or(account.token_uri),
            messages_url: format!("{}/v1/projects/{project}/messages:send", config.send_url.trim_end_matches('/')),
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// A valid access token: the cached one, unless it expires within a minute or `renew`.
    async fn access_token(&self, at: Timestamp, renew: bool) -> Result<String, SendError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| !renew && at.checked_add(EXPIRY_MARGIN).is_ok_and(|soon| soon < t.expires_at)) {
            return Ok(token.value.clone());
        }
        let claims =
            json!({"iss": self.client_email, "scope": SCOPE, "aud": self.token_url, "iat": at.as_second(), "exp": at.as_second() + 3600});
        let header = Header { kid: self.key_id.clone(), ..Header::new(Algorithm::RS256) };
        let assertion =
            jsonwebtoken::encode(&header, &claims, &self.key).map_err(|_| SendError::permanent("the FCM assertion could not be signed"))?;
        let response = self
            .http
            .post(&self.token_url)
            .form(&[("grant_type", GRANT_TYPE), ("assertion", assertion.as_str())])
            .send()
            .await
            .map_err(|e| http::unanswered(&e, "the FCM token endpoint"))?;
        let status = response.status().as_u16();
        let retry_after = http::retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(http::outcome(status, retry_after, &text, "the FCM token endpoint").err().unwrap_or_default());
        }
        let answer: Value = serde_json::from_str(&text).unwrap_or_default();
        let (Some(value), Some(seconds)) = (answer["access_token"].as_str(), answer["expires_in"].as_i64()) else {
            return Err(SendError::transient("the FCM token endpoint answered without an access token"));
        };
        let expires_at = at.checked_add(SignedDuration::from_secs(seconds)).unwrap_or(at);
        *cached = Some(AccessToken { value: value.to_string(), expires_at });
        Ok(value.to_string())
    }

    /// Gets an access token now, which proves the service account is accepted.
    pub async fn healthcheck(&self) -> Result<(), SendError> {
        self.access_token(Timestamp::now(), false).await.map(|_| ())
    }

    /// Sends `push` to the device with registration `token`.
    pub async fn send(&self, token: &str, push: &Push<'_>) -> Result<Receipt, SendError> {
        let body = message(token, push);
        let mut renew = false;
        loop {
            let access_token = self.access_token(push.at, renew).await?;
            let response = self
                .http
                .post(&self.messages_url)
                .bearer_auth(&access_token)
                .json(&body)
                .send()
                .await
                .map_err(|e| http::unanswered(&e, "FCM"))?;
            let status = response.status().as_u16();
            let retry_after = http::retry_after(response.headers());
            let text = response.text().await.unwrap_or_default();
            if status == 401 && !renew {
                renew = true;
                continue;
            }
            return read(token, status, retry_after, &text);
        }
    }
}

/// The `messages:send` body for one device.
fn message(token: &str, push: &Push<'_>) -> Value {
    let mut message = Map::new();
    message.insert("token".into(), json!(token));
    let notification: Map<String, Value> =
        [("title", push.title), ("body", push.body)].into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), json!(v)))).collect();
    if !notification.is_empty() {
        message.insert("notification".into(), Value::Object(notification));
    }
    message.insert("data".into(), json!({"heraldMessageId": push.key}));
    if let Some(android) = push.platform_data("android") {
        message.insert("android".into(), android.clone());
    }
    match (push.platform_data("apns"), push.subtitle) {
        (Some(apns), _) => {
            message.insert("apns".into(), apns.clone());
        }
        (None, Some(subtitle)) => {
            message.insert("apns".into(), json!({"payload": {"aps": {"alert": {"subtitle": subtitle}}}}));
        }
        (None, None) => {}
    }
    json!({ "message": message })
}

/// Reads FCM's answer for the device with `token`.
fn read(token: &str, status: u16, retry_after: Option<Duration>, text: &str) -> Result<Receipt, SendError> {
    let body: Value = serde_json::from_str(text).unwrap_or_default();
    match http::outcome(status, retry_after, text, "FCM") {
        Ok(receipt) => Ok(Receipt { provider_message_id: body["name"].as_str().map(str::to_string), ..receipt }),
        Err(mut error) => {
            let code = error_code(&body);
            if let Some(code) = code {
                error.reason = format!("FCM answered {status} {code}");
            }
            let token_invalid = match code {
                Some("UNREGISTERED") => true,
                Some("INVALID_ARGUMENT") => !violations(&body).any(|field| field != "message.token"),
                _ => false,
            };
            Err(if token_invalid { gone(error, Platform::Android, token) } else { error })
        }
    }
}

/// The FCM error code of an error answer (`UNREGISTERED`, `QUOTA_EXCEEDED`, …).
fn error_code(body: &Value) -> Option<&str> {
    let details = body["error"]["details"].as_array()?;
    details.iter().find(|d| d["@type"].as_str().is_some_and(|t| t.ends_with("google.firebase.fcm.v1.FcmError")))?["errorCode"].as_str()
}

/// The fields an error answer says are wrong.
fn violations(body: &Value) -> impl Iterator<Item = &str> {
    let details = body["error"]["details"].as_array().map(Vec::as_slice).unwrap_or_default();
    details.iter().filter_map(|d| d["fieldViolations"].as_array()).flatten().filter_map(|v| v["field"].as_str())
}

#[cfg(test)]
mod tests;
