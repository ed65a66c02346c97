//! A stand-in for Amazon SNS: it signs HTTP deliveries exactly as SNS documents (the
//! canonical `Key\nValue\n` string, SHA1withRSA for `SignatureVersion` 1 and SHA256withRSA for
//! 2, base64) with a test RSA key, and serves the matching certificate and the subscription
//! confirmation URL from a local HTTP server that records what it is asked.
//!
//! The key and its self-signed certificate are fixtures (`fixtures/sns-signing-*.pem`,
//! made once with `openssl req -x509 -newkey rsa:2048 -nodes`): generating a 2048-bit key in
//! every test run would cost seconds of a debug build.

use crate::fake_api::{Answer, FakeApi};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};

/// The test signing key.
const KEY: &str = include_str!("../fixtures/sns-signing-key.pem");
/// Its self-signed certificate.
pub const CERTIFICATE: &str = include_str!("../fixtures/sns-signing-cert.pem");

/// The topic deliveries come from.
pub const TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:123456789012:herald-ses-events";

/// The running stand-in.
pub struct FakeSns {
    /// Serves the certificate and the confirmation URL: `http://127.0.0.1:<port>`.
    pub server: FakeApi,
    key: RsaPrivateKey,
}

impl FakeSns {
    /// Starts the certificate server.
    pub async fn start() -> Self {
        let server = FakeApi::start(Answer { status: 200, headers: Vec::new(), body: CERTIFICATE.to_string() }).await;
        Self { server, key: RsaPrivateKey::from_pkcs8_pem(KEY).expect("the fixture key") }
    }

    /// The URL of the signing certificate.
    pub fn certificate_url(&self) -> String {
        format!("{}/SimpleNotificationService-test.pem", self.server.url)
    }

    /// A `Notification` carrying `message` (an SES event), signed with `version` (1 or 2).
    pub fn notification(&self, message: &Value, version: u8) -> Value {
        let mut body = json!({
            "Type": "Notification",
            "MessageId": "5b1f3a4e-2c57-5b1a-9f21-6a1f0e8e7c11",
            "TopicArn": TOPIC_ARN,
            "Message": message.to_string(),
            "Timestamp": "2027-01-15T08:00:00.000Z",
            "SignatureVersion": version.to_string(),
            "SigningCertURL": self.certificate_url(),
            "UnsubscribeURL": format!("{}/?Action=Unsubscribe", self.server.url),
        });
        self.sign(&mut body);
        body
    }

    /// A `SubscriptionConfirmation` whose `SubscribeURL` is on the server.
    pub fn subscription_confirmation(&self) -> Value {
        let mut body = json!({
            "Type": "SubscriptionConfirmation",
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
            "TopicArn": TOPIC_ARN,
            "Message": format!("You have chosen to subscribe to the topic {TOPIC_ARN}.\nTo confirm the subscription, visit the SubscribeURL included in this message."),
            "SubscribeURL": format!("{}/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token=2336412f37f", self.server.url),
            "Timestamp": "2027-01-15T08:00:00.000Z",
            "SignatureVersion": "1",
            "SigningCertURL": self.certificate_url(),
        });
        self.sign(&mut body);
        body
    }

    /// Sets `Signature` of `body` over its canonical string.
    pub fn sign(&self, body: &mut Value) {
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
        let kind = field("Type").expect("a Type");
        let names: &[&str] = if kind == "Notification" {
            &["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        } else {
            &["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        };
        let text: String = names.iter().filter_map(|name| field(name).map(|value| format!("{name}\n{value}\n"))).collect();
        let signature = match field("SignatureVersion").as_deref() {
            Some("2") => SigningKey::<sha2::Sha256>::new(self.key.clone()).sign(text.as_bytes()).to_vec(),
            _ => SigningKey::<sha1::Sha1>::new(self.key.clone()).sign(text.as_bytes()).to_vec(),
        };
        body["Signature"] = json!(STANDARD.encode(signature));
    }
}
