//! Amazon SNS HTTP(S) deliveries (how SES event publishing reaches Herald): reading the
//! envelope, verifying its signature, and confirming a subscription.
//!
//! - The string to sign is the envelope's fields as `Key\nValue\n`, in SNS's documented order:
//!   `Message`, `MessageId`, `Subject` (only when present), `Timestamp`, `TopicArn`, `Type` for
//!   a `Notification`; `Message`, `MessageId`, `SubscribeURL`, `Timestamp`, `Token`,
//!   `TopicArn`, `Type` for a `SubscriptionConfirmation` or `UnsubscribeConfirmation`.
//! - `SignatureVersion` `1` is SHA1withRSA, `2` SHA256withRSA (PKCS#1 v1.5), the signature in
//!   base64, the key that of the X.509 certificate at `SigningCertURL`.
//! - `SigningCertURL` (and `SubscribeURL`) must be on an allowed origin: by default any
//!   `https://sns.<region>.amazonaws.com` (`.amazonaws.com.cn` in China); otherwise exactly
//!   the configured origins (`https://host[:port]`; an `http://` origin is honoured only
//!   because it is listed, for local fakes in tests). Nothing else is ever fetched, so a forged
//!   message cannot make Herald call an address of the attacker's choice.
//! - Certificates are kept by URL once fetched and parsed (SNS rotates them by publishing a new
//!   URL), so a busy topic costs one fetch.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

/// Largest certificate read.
const MAX_CERTIFICATE: usize = 16 * 1024;

/// An SNS HTTP delivery, as posted.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsMessage {
    /// `Notification`, `SubscriptionConfirmation` or `UnsubscribeConfirmation`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// SNS's id of this delivery.
    pub message_id: String,
    /// The topic.
    pub topic_arn: String,
    /// The notification's subject, when the publisher gave one.
    #[serde(default)]
    pub subject: Option<String>,
    /// The payload (for SES events, the event's JSON as text).
    pub message: String,
    /// When it was published.
    pub timestamp: String,
    /// The confirmation token of a (un)subscription.
    #[serde(default)]
    pub token: Option<String>,
    /// `1` or `2`.
    pub signature_version: String,
    /// The base64 signature.
    pub signature: String,
    /// Where the signing certificate is.
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    /// What to GET to confirm a subscription.
    #[serde(rename = "SubscribeURL", default)]
    pub subscribe_url: Option<String>,
}

/// Why a delivery is not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnsError {
    /// The signature does not verify, or cannot be checked from a trusted certificate.
    #[error("{0}")]
    Forged(String),
    /// The certificate could not be fetched (worth trying again: SNS retries).
    #[error("{0}")]
    Unavailable(String),
}

impl SnsMessage {
    /// The canonical string SNS signed.
    pub fn string_to_sign(&self) -> Result<String, SnsError> {
        let mut fields: Vec<(&str, &str)> = vec![("Message", self.message.as_str()), ("MessageId", self.message_id.as_str())];
        match self.kind.as_str() {
            "Notification" => {
                if let Some(subject) = &self.subject {
                    fields.push(("Subject", subject.as_str()));
                }
            }
            "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
                let missing = || SnsError::Forged("SubscribeURL and Token are required".into());
                fields.push(("SubscribeURL", self.subscribe_url.as_deref().ok_or_else(missing)?));
                fields.push(("Timestamp", self.timestamp.as_str()));
                fields.push(("Token", self.token.as_deref().ok_or_else(missing)?));
                fields.extend([("TopicArn", self.topic_arn.as_str()), ("Type", self.kind.as_str())]);
                return Ok(join(&fields));
            }
            _ => return Err(SnsError::Forged("Type is not one SNS sends".into())),
        }
        fields.extend([("Timestamp", self.timestamp.as_str()), ("TopicArn", self.topic_arn.as_str()), ("Type", self.kind.as_str())]);
        Ok(join(&fields))
    }
}

fn join(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(key, value)| format!("{key}\n{value}\n")).collect()
}

/// Verifies SNS deliveries and confirms subscriptions. Cheap to clone; clones share the
/// certificate cache.
#[derive(Clone, Debug)]
pub struct SnsVerifier {
    client: reqwest::Client,
    origins: Arc<Vec<String>>,
    certificates: Arc<Mutex<HashMap<String, RsaPublicKey>>>,
}

impl SnsVerifier {
    /// A verifier trusting `origins` (`https://host[:port]`); SNS's own when empty.
    pub fn new(origins: Vec<String>) -> Result<Self, String> {
        if let Some(bad) = origins.iter().find(|o| !(o.starts_with("https://") || o.starts_with("http://")) || o.ends_with('/')) {
            return Err(format!("{bad} is not an origin (https://host[:port])"));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("SNS client: {e}"))?;
        Ok(Self { client, origins: Arc::new(origins), certificates: Arc::default() })
    }

    /// Whether `url` is on a trusted origin.
    pub fn trusts(&self, url: &str) -> bool {
        let Ok(parsed) = reqwest::Url::parse(url) else { return false };
        let Some(host) = parsed.host_str() else { return false };
        if self.origins.is_empty() {
            return parsed.scheme() == "https" && parsed.port().is_none() && is_sns_host(host);
        }
        let origin = match parsed.port() {
            Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
            None => format!("{}://{host}", parsed.scheme()),
        };
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(&origin))
    }

    /// Checks `message`'s signature against its (trusted) signing certificate.
    pub async fn verify(&self, message: &SnsMessage) -> Result<(), SnsError> {
        if !self.trusts(&message.signing_cert_url) {
            return Err(SnsError::Forged("SigningCertURL is not an SNS address".into()));
        }
        let signed = message.string_to_sign()?;
        let signature = STANDARD
            .decode(message.signature.trim())
            .ok()
            .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
            .ok_or_else(|| SnsError::Forged("Signature is not base64".into()))?;
        let key = self.certificate(&message.signing_cert_url).await?;
        let verified = match message.signature_version.as_str() {
            "1" => VerifyingKey::<sha1::Sha1>::new(key).verify(signed.as_bytes(), &signature),
            "2" => VerifyingKey::<sha2::Sha256>::new(key).verify(signed.as_bytes(), &signature),
            _ => return Err(SnsError::Forged("SignatureVersion must be 1 or 2".into())),
        };
        verified.map_err(|_| SnsError::Forged("the signature does not match".into()))
    }

    /// Confirms a verified `SubscriptionConfirmation` by GETting its `SubscribeURL`, which
    /// must be on a trusted origin.
    pub async fn confirm(&self, message: &SnsMessage) -> Result<(), SnsError> {
        let url = message.subscribe_url.as_deref().filter(|url| self.trusts(url));
        let url = url.ok_or_else(|| SnsError::Forged("SubscribeURL is not an SNS address".into()))?;
        let response = self.client.get(url).send().await.map_err(|_| SnsError::Unavailable("SNS could not be reached".into()))?;
        if !response.status().is_success() {
            return Err(SnsError::Unavailable(format!("SNS answered {} to the confirmation", response.status().as_u16())));
        }
        Ok(())
    }

    async fn certificate(&self, url: &str) -> Result<RsaPublicKey, SnsError> {
        if let Some(key) = self.certificates.lock().expect("never poisoned").get(url) {
            return Ok(key.clone());
        }
        let unavailable = || SnsError::Unavailable("the signing certificate could not be fetched".into());
        let response = self.client.get(url).send().await.map_err(|_| unavailable())?;
        if !response.status().is_success() {
            return Err(unavailable());
        }
        let pem = response.bytes().await.map_err(|_| unavailable())?;
        if pem.len() > MAX_CERTIFICATE {
            return Err(SnsError::Forged("the signing certificate is too large".into()));
        }
        let key = public_key(&pem).ok_or_else(|| SnsError::Forged("the signing certificate is not an RSA certificate".into()))?;
        self.certificates.lock().expect("never poisoned").insert(url.to_string(), key.clone());
        Ok(key)
    }
}

/// The RSA key of a PEM certificate.
fn public_key(pem: &[u8]) -> Option<RsaPublicKey> {
    let certificate = Certificate::from_pem(pem).ok()?;
    let spki = certificate.tbs_certificate.subject_public_key_info.to_der().ok()?;
    RsaPublicKey::from_public_key_der(&spki).ok()
}

/// `sns.<region>.amazonaws.com` (or `.amazonaws.com.cn`).
fn is_sns_host(host: &str) -> bool {
    let rest = host.strip_suffix(".amazonaws.com").or_else(|| host.strip_suffix(".amazonaws.com.cn"));
    let region = rest.and_then(|r| r.strip_prefix("sns."));
    region.is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: &str) -> SnsMessage {
        SnsMessage {
            kind: kind.into(),
            message_id: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324".into(),
            topic_arn: "arn:aws:sns:us-west-2:123456789012:MyTopic".into(),
            subject: Some("My First Message".into()),
            message: "Hello world!".into(),
            timestamp: "2012-05-02T00:54:06.655Z".into(),
            token: Some("2336412f37f".into()),
            signature_version: "1".into(),
            signature: String::new(),
            signing_cert_url: "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem".into(),
            subscribe_url: Some("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37f".into()),
        }
    }

    #[test]
    fn the_string_to_sign_follows_the_documented_order() {
        assert_eq!(
            message("Notification").string_to_sign().unwrap(),
            "Message\nHello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubject\nMy First Message\n\
             Timestamp\n2012-05-02T00:54:06.655Z\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nNotification\n"
        );
        let without_subject = SnsMessage { subject: None, ..message("Notification") };
        assert!(!without_subject.string_to_sign().unwrap().contains("Subject"));
        assert_eq!(
            message("SubscriptionConfirmation").string_to_sign().unwrap(),
            "Message\nHello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
             SubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37f\n\
             Timestamp\n2012-05-02T00:54:06.655Z\nToken\n2336412f37f\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n\
             Type\nSubscriptionConfirmation\n"
        );
        assert!(message("Other").string_to_sign().is_err());
    }

    #[test]
    fn only_sns_origins_are_trusted_by_default() {
        let verifier = SnsVerifier::new(Vec::new()).unwrap();
        assert!(verifier.trusts("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"));
        assert!(verifier.trusts("https://sns.cn-north-1.amazonaws.com.cn/cert.pem"));
        for url in [
            "http://sns.eu-west-1.amazonaws.com/cert.pem",
            "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
            "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem",
            "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
            "https://s3.amazonaws.com/cert.pem",
            "https://169.254.169.254/latest/meta-data",
            "not a url",
        ] {
            assert!(!verifier.trusts(url), "{url}");
        }
        let local = SnsVerifier::new(vec!["http://127.0.0.1:9000".into()]).unwrap();
        assert!(local.trusts("http://127.0.0.1:9000/cert.pem"));
        assert!(!local.trusts("http://127.0.0.1:9001/cert.pem") && !local.trusts("https://sns.eu-west-1.amazonaws.com/c.pem"));
        assert!(SnsVerifier::new(vec!["127.0.0.1".into()]).is_err());
    }
}
