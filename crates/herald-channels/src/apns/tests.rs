//! APNs against a local HTTP/2 fake that records each request and answers as APNs documents.

use super::*;
use herald_core::resources::user::DeviceToken;
use herald_testkit::recorder::{Answer, Recorder};
use jsonwebtoken::{DecodingKey, Validation};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rand::RngCore;

const DEVICE: &str = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad";
const APNS_ID: &str = "eabeae54-14a8-11e5-b60b-1697f925ec7b";

/// A fresh `.p8`-style key: its PKCS#8 PEM and its public key for verifying.
fn signing_key() -> (String, DecodingKey) {
    let secret = loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
            break secret;
        }
    };
    let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let public = secret.public_key().to_public_key_pem(LineEnding::LF).unwrap();
    (pem, DecodingKey::from_ec_pem(public.as_bytes()).unwrap())
}

async fn apns() -> (ApnsClient, Recorder, DecodingKey) {
    let fake = Recorder::start(Answer::new(200, &[("apns-id", APNS_ID)], "")).await;
    let (pem, public) = signing_key();
    let config = ApnsConfig {
        key: Some(Secret::new(pem)),
        key_file: None,
        key_id: "ABC123DEFG".into(),
        team_id: "DEF123GHIJ".into(),
        topic: "org.example.clinic".into(),
        url: fake.url.clone(),
        timeout_seconds: 5,
    };
    (ApnsClient::new(&config).unwrap(), fake, public)
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn push(key: &str, at: Timestamp) -> Push<'_> {
    Push { title: Some("Appointment"), subtitle: Some("Tomorrow"), body: Some("See you at 9:00"), data: None, key, at }
}

/// The provider token's claims, once its ES256 signature is verified with the key.
fn verified(authorization: &str, key: &DecodingKey) -> (jsonwebtoken::Header, Value) {
    let token = authorization.strip_prefix("bearer ").expect("a bearer provider token");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Value>(token, key, &validation).expect("a token signed with the .p8 key");
    (data.header, data.claims)
}

#[tokio::test]
async fn sends_the_documented_http2_request_with_a_provider_token_reused_for_55_minutes() {
    let (apns, fake, public) = apns().await;
    let receipt = apns.send(DEVICE, &push("64b7f0c2a1e3d4f5a6b7c8d9.0", at(0))).await.unwrap();
    assert_eq!((receipt.provider_message_id.as_deref(), receipt.response_code), (Some(APNS_ID), Some(200)));

    let received = fake.received();
    let request = &received[0];
    assert_eq!(request.version, axum::http::Version::HTTP_2);
    assert_eq!(request.method, axum::http::Method::POST);
    assert_eq!(request.path, format!("/3/device/{DEVICE}"));
    assert_eq!(request.headers["apns-topic"], "org.example.clinic");
    assert_eq!(request.headers["apns-push-type"], "alert");
    assert_eq!(request.headers["apns-priority"], "10");
    assert!(!request.headers.contains_key("apns-id"), "Herald's keys are not UUIDs: APNs assigns the id");
    let (header, claims) = verified(request.headers["authorization"].to_str().unwrap(), &public);
    assert_eq!(header.kid.as_deref(), Some("ABC123DEFG"));
    assert_eq!(claims, json!({"iss": "DEF123GHIJ", "iat": at(0).as_second()}));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({"aps": {"alert": {"title": "Appointment", "subtitle": "Tomorrow", "body": "See you at 9:00"}}, "heraldMessageId": "64b7f0c2a1e3d4f5a6b7c8d9.0"})
    );

    apns.send(DEVICE, &push(APNS_ID, at(54 * 60))).await.unwrap();
    apns.send(DEVICE, &push("k.1", at(56 * 60))).await.unwrap();
    let received = fake.received();
    assert_eq!(received[1].headers["authorization"], received[0].headers["authorization"], "reused within 55 minutes");
    assert_eq!(received[1].headers["apns-id"], APNS_ID, "a UUID key is the apns-id");
    let (_, renewed) = verified(received[2].headers["authorization"].to_str().unwrap(), &public);
    assert_eq!(renewed["iat"], at(56 * 60).as_second(), "a new token after 55 minutes");
}

#[tokio::test]
async fn bad_and_unregistered_tokens_are_gone_and_busy_answers_are_retried() {
    let (apns, fake, _) = apns().await;
    let json = [("content-type", "application/json")];
    fake.answer(Answer::new(400, &json, r#"{"reason":"BadDeviceToken"}"#));
    let error = apns.send(DEVICE, &push("k.0", at(0))).await.unwrap_err();
    assert_eq!(error.reason, "APNs answered 400 BadDeviceToken");
    assert_eq!((error.transient, error.response_code), (false, Some(400)));
    assert_eq!(error.gone_devices.0, [DeviceToken { platform: Platform::Ios, token: DEVICE.into() }]);

    fake.answer(Answer::new(410, &json, r#"{"reason":"Unregistered","timestamp":1786000000000}"#));
    let error = apns.send(DEVICE, &push("k.0", at(0))).await.unwrap_err();
    assert_eq!(error.reason, "APNs answered 410 Unregistered");
    assert_eq!(error.gone_devices.0.len(), 1);

    fake.answer(Answer::new(400, &json, r#"{"reason":"BadTopic"}"#));
    let error = apns.send(DEVICE, &push("k.0", at(0))).await.unwrap_err();
    assert!(!error.transient && error.gone_devices.is_empty(), "a wrong topic is Herald's problem, not the device's");

    fake.answer(Answer::new(429, &[("content-type", "application/json"), ("retry-after", "20")], r#"{"reason":"TooManyRequests"}"#));
    let error = apns.send(DEVICE, &push("k.0", at(0))).await.unwrap_err();
    assert_eq!(error.reason, "APNs answered 429 TooManyRequests");
    assert_eq!((error.transient, error.retry_after), (true, Some(Duration::from_secs(20))));
    assert!(error.gone_devices.is_empty());

    fake.answer(Answer::new(503, &json, r#"{"reason":"ServiceUnavailable"}"#));
    assert!(apns.send(DEVICE, &push("k.0", at(0))).await.unwrap_err().transient);
}

#[tokio::test]
async fn an_expired_provider_token_is_made_anew_once() {
    let (apns, fake, public) = apns().await;
    apns.send(DEVICE, &push("k.0", at(0))).await.unwrap();
    let json = [("content-type", "application/json")];
    fake.answer(Answer::new(403, &json, r#"{"reason":"ExpiredProviderToken"}"#));
    let receipt = apns.send(DEVICE, &push("k.1", at(60))).await.unwrap();
    assert_eq!(receipt.response_code, Some(200));
    let received = fake.received();
    assert_eq!(received.len(), 3);
    let (_, renewed) = verified(received[2].headers["authorization"].to_str().unwrap(), &public);
    assert_eq!(renewed["iat"], at(60).as_second());

    fake.answer(Answer::new(403, &json, r#"{"reason":"ExpiredProviderToken"}"#));
    fake.answer(Answer::new(403, &json, r#"{"reason":"ExpiredProviderToken"}"#));
    let error = apns.send(DEVICE, &push("k.2", at(120))).await.unwrap_err();
    assert_eq!((error.response_code, error.transient), (Some(403), false));
    assert_eq!(fake.received().len(), 5, "made anew once, not again");
}

#[tokio::test]
async fn a_token_that_is_not_hexadecimal_is_never_sent() {
    let (apns, fake, _) = apns().await;
    let error = apns.send("../../4/device", &push("k.0", at(0))).await.unwrap_err();
    assert!(!error.transient && error.gone_devices.is_empty());
    assert!(fake.received().is_empty());
}

#[test]
fn push_data_gives_the_payload_and_its_headers() {
    let data = json!({"apns": {"headers": {"apns-priority": "5", "apns-collapse-id": "appointments", "apns-expiration": 1800003600},
                               "payload": {"aps": {"badge": 2, "sound": "default"}, "appointment": "apt-1"}}});
    let with_data = Push { title: Some("Reminder"), subtitle: None, body: None, data: Some(&data), key: "k.1", at: at(0) };
    let (headers, body) = request(&with_data);
    assert_eq!(
        headers,
        [
            ("apns-priority", "5".to_string()),
            ("apns-expiration", "1800003600".to_string()),
            ("apns-collapse-id", "appointments".to_string()),
            ("apns-push-type", "alert".to_string()),
        ]
    );
    assert_eq!(
        body,
        json!({"aps": {"badge": 2, "sound": "default", "alert": {"title": "Reminder"}}, "appointment": "apt-1", "heraldMessageId": "k.1"})
    );
    assert!(is_uuid(APNS_ID) && !is_uuid("64b7f0c2a1e3d4f5a6b7c8d9.0") && !is_uuid("eabeae54-14a8-11e5-b60b-1697f925ec7"));
}
