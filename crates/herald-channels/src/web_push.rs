//! Web Push (RFC 8030) to browsers. A `web` device's token is the browser's subscription as
//! `PushSubscription.toJSON()` gives it: `{"endpoint", "keys": {"p256dh", "auth"}}`. Each
//! device is one `POST {endpoint}` with the payload encrypted for that subscription as RFC 8291
//! says (`aes128gcm`: an ephemeral P-256 key agreed with `p256dh`, HKDF-SHA-256 with the `auth`
//! secret, one record of 4096 bytes — the record layer is RFC 8188's, from `ece-native`; the key
//! derivation is here so that it can be checked against RFC 8291's example) and VAPID (RFC
//! 8292) authorization: `Authorization: vapid t=<ES256 JWT {aud: the endpoint's origin, exp:
//! 12 hours, sub}>, k=<the public key>`, with `TTL`, `Content-Encoding: aes128gcm` and
//! `Content-Type: application/octet-stream`.
//!
//! The payload is JSON for the site's service worker: `{"title", "subtitle", "body",
//! "heraldMessageId"}`; a template with only `pushData` gives its
//! `android.notification.title`/`body`. Push services carry at most 4096 bytes, so a payload
//! over 3993 bytes fails that device.
//!
//! Answers: 2xx is sent, the `Location` of the push message the provider id. 404 and 410 mean
//! the subscription is gone. 429 and 5xx are retried after their `Retry-After`; anything else
//! fails for good. A token that is not a subscription fails its device and is left in place.

use crate::push::{Push, gone};
use crate::{Receipt, SendError, http};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_core::resources::user::Platform;
use herald_core::secrets::Secret;
use hkdf::Hkdf;
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use p256::{PublicKey, SecretKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;

/// The size of the one encrypted record (RFC 8291 section 4 recommends 4096).
const RECORD_SIZE: u32 = 4096;
/// The largest payload one 4096-byte push message carries: the record less the header (86
/// bytes), the padding delimiter and the authentication tag.
const MAX_PAYLOAD: usize = 4096 - 86 - 1 - 16;
/// How long a VAPID token is valid (RFC 8292 allows up to 24 hours).
const VAPID_LIFETIME_SECONDS: i64 = 12 * 3600;

/// How Herald identifies itself to push services.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebPushConfig {
    /// The VAPID private key: its 32 bytes in base64url (as VAPID key generators print it) or
    /// a PEM (PKCS#8 or SEC1) P-256 key. Browsers subscribe with its public key.
    pub vapid_private_key: Secret,
    /// Who to contact about these pushes: a `mailto:` or `https:` URL.
    pub subject: String,
    /// How long a push service keeps a message for an offline browser, in seconds (default:
    /// a day).
    #[serde(default = "default_ttl")]
    pub ttl_seconds: u32,
    /// Seconds to wait for an answer.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_ttl() -> u32 {
    86_400
}

fn default_timeout() -> u64 {
    10
}

/// A browser's push subscription.
#[derive(Deserialize)]
struct Subscription {
    endpoint: String,
    keys: SubscriptionKeys,
}

#[derive(Deserialize)]
struct SubscriptionKeys {
    p256dh: String,
    auth: String,
}

/// Sends to browsers.
pub(crate) struct WebPushClient {
    http: reqwest::Client,
    key: EncodingKey,
    public_key: String,
    subject: String,
    ttl: u32,
}

impl WebPushClient {
    /// A client for `config`; the error names the setting that is wrong.
    pub fn new(config: &WebPushConfig) -> Result<Self, String> {
        let secret = vapid_key(config.vapid_private_key.expose()).ok_or("web_push.vapid_private_key: not a P-256 private key")?;
        let der = secret.to_pkcs8_der().map_err(|_| "web_push.vapid_private_key: not a P-256 private key")?;
        if !(config.subject.starts_with("mailto:") || config.subject.starts_with("https:")) {
            return Err("web_push.subject: must be a mailto: or https: URL".into());
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .build()
            .map_err(|e| format!("web push client: {e}"))?;
        Ok(Self {
            http,
            key: EncodingKey::from_ec_der(der.as_bytes()),
            public_key: URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes()),
            subject: config.subject.clone(),
            ttl: config.ttl_seconds,
        })
    }

    /// Sends `push` to the browser whose subscription is `token`.
    pub async fn send(&self, token: &str, push: &Push<'_>) -> Result<Receipt, SendError> {
        let malformed = || SendError::permanent("the web device's token is not a push subscription {endpoint, keys: {p256dh, auth}}");
        let subscription: Subscription = serde_json::from_str(token).map_err(|_| malformed())?;
        let endpoint =
            reqwest::Url::parse(&subscription.endpoint).ok().filter(|u| matches!(u.scheme(), "https" | "http")).ok_or_else(malformed)?;
        let ua_public =
            decode(&subscription.keys.p256dh).and_then(|bytes| PublicKey::from_sec1_bytes(&bytes).ok()).ok_or_else(malformed)?;
        let auth: [u8; 16] = decode(&subscription.keys.auth).and_then(|bytes| bytes.try_into().ok()).ok_or_else(malformed)?;
        let payload = payload(push).to_string();
        if payload.len() > MAX_PAYLOAD {
            return Err(SendError::permanent(format!(
                "the push is {} bytes, more than the {MAX_PAYLOAD} bytes Web Push carries",
                payload.len()
            )));
        }
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let body = encrypt(payload.as_bytes(), &ua_public, &auth, salt, &ephemeral_key())
            .map_err(|_| SendError::permanent("the push could not be encrypted"))?;
        let response = self
            .http
            .post(endpoint.clone())
            .header("authorization", self.vapid(&endpoint, push.at)?)
            .header("ttl", self.ttl)
            .header("content-encoding", "aes128gcm")
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| http::unanswered(&e, "the push service"))?;
        let status = response.status().as_u16();
        let retry_after = http::retry_after(response.headers());
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = response.text().await.unwrap_or_default();
        match http::outcome(status, retry_after, &text, "the push service") {
            Ok(receipt) => Ok(Receipt { provider_message_id: location, ..receipt }),
            Err(error) if matches!(status, 404 | 410) => Err(gone(error, Platform::Web, token)),
            Err(error) => Err(error),
        }
    }

    /// The `Authorization` value for a push to `endpoint`.
    fn vapid(&self, endpoint: &reqwest::Url, at: Timestamp) -> Result<String, SendError> {
        let claims =
            json!({"aud": endpoint.origin().ascii_serialization(), "exp": at.as_second() + VAPID_LIFETIME_SECONDS, "sub": self.subject});
        let token = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.key)
            .map_err(|_| SendError::permanent("the VAPID token could not be signed"))?;
        Ok(format!("vapid t={token}, k={}", self.public_key))
    }
}

/// The VAPID key from base64url bytes or a PEM.
fn vapid_key(text: &str) -> Option<SecretKey> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return SecretKey::from_pkcs8_pem(text).ok().or_else(|| SecretKey::from_sec1_pem(text).ok());
    }
    SecretKey::from_slice(&decode(text)?).ok()
}

/// Base64url, with or without padding.
fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim().trim_end_matches('=')).ok()
}

/// A fresh key pair for one message's key agreement.
fn ephemeral_key() -> SecretKey {
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// What the service worker receives.
fn payload(push: &Push<'_>) -> Value {
    let notification = push.platform_data("android").and_then(|android| android.get("notification"));
    let from_data = |field: &str| notification.and_then(|n| n.get(field)).and_then(Value::as_str);
    let mut payload = serde_json::Map::new();
    for (field, value) in
        [("title", push.title.or(from_data("title"))), ("subtitle", push.subtitle), ("body", push.body.or(from_data("body")))]
    {
        if let Some(value) = value {
            payload.insert(field.into(), json!(value));
        }
    }
    payload.insert("heraldMessageId".into(), json!(push.key));
    Value::Object(payload)
}

/// Encrypts `plaintext` for the browser with public key `ua_public` and secret `auth` (RFC
/// 8291): the ECDH secret of `as_secret` and `ua_public`, keyed by `auth`, is the input keying
/// material of an `aes128gcm` body with `salt` whose key id is the ephemeral public key.
fn encrypt(
    plaintext: &[u8],
    ua_public: &PublicKey,
    auth: &[u8; 16],
    salt: [u8; 16],
    as_secret: &SecretKey,
) -> Result<Vec<u8>, ece_native::Error> {
    let as_public = as_secret.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_public.as_affine());
    let ikm = input_keying_material(auth, shared.raw_secret_bytes(), ua_public.to_encoded_point(false).as_bytes(), as_public.as_bytes());
    ece_native::encrypt(ikm, salt, as_public.as_bytes(), std::iter::once(plaintext.to_vec()), RECORD_SIZE)
}

/// RFC 8291's `IKM = HKDF(auth, ecdh_secret, "WebPush: info" || 0x00 || ua_public || as_public, 32)`.
fn input_keying_material(auth: &[u8], ecdh_secret: &[u8], ua_public: &[u8], as_public: &[u8]) -> [u8; 32] {
    let info = [b"WebPush: info\0".as_slice(), ua_public, as_public].concat();
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), ecdh_secret).expand(&info, &mut ikm).expect("32 bytes is a valid HKDF-SHA-256 length");
    ikm
}

#[cfg(test)]
mod tests;
