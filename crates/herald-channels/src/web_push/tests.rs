//! Web Push: the encryption against RFC 8291's example, and the client against a local push
//! service that records each request; the test decrypts what it got as a browser would.

use super::*;
use herald_core::resources::user::DeviceToken;
use herald_testkit::recorder::{Answer, Recorder};
use jsonwebtoken::{DecodingKey, Validation};
use p256::pkcs8::{EncodePublicKey, LineEnding};

fn b64(text: &str) -> Vec<u8> {
    decode(text).unwrap()
}

#[test]
fn encrypts_exactly_as_rfc_8291_appendix_a() {
    let ua_public =
        PublicKey::from_sec1_bytes(&b64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"))
            .unwrap();
    let as_secret = SecretKey::from_slice(&b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
    let auth: [u8; 16] = b64("BTBZMqHH6r4Tts7J_aSIgg").try_into().unwrap();
    let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
    let body = encrypt(b"When I grow up, I want to be a watermelon", &ua_public, &auth, salt, &as_secret).unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.encode(body),
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
    );
}

/// A browser: its subscription keys, able to read what it is sent.
struct Browser {
    secret: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Self {
        let mut auth = [0u8; 16];
        rand::rng().fill_bytes(&mut auth);
        Self { secret: ephemeral_key(), auth }
    }

    fn subscription(&self, endpoint: &str) -> String {
        let p256dh = URL_SAFE_NO_PAD.encode(self.secret.public_key().to_encoded_point(false).as_bytes());
        json!({"endpoint": endpoint, "expirationTime": null, "keys": {"p256dh": p256dh, "auth": URL_SAFE_NO_PAD.encode(self.auth)}})
            .to_string()
    }

    /// Decrypts a push as RFC 8291 says a user agent does.
    fn read(&self, body: &[u8]) -> Value {
        assert_eq!(&body[16..20], 4096u32.to_be_bytes(), "one 4096-byte record");
        assert_eq!(body[20], 65, "the key id is the sender's uncompressed public key");
        let as_public = PublicKey::from_sec1_bytes(&body[21..86]).unwrap();
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), as_public.as_affine());
        let ua_public = self.secret.public_key().to_encoded_point(false);
        let ikm = input_keying_material(&self.auth, shared.raw_secret_bytes(), ua_public.as_bytes(), &body[21..86]);
        serde_json::from_slice(&ece_native::decrypt(ikm, body.to_vec()).expect("a body the browser can decrypt")).unwrap()
    }
}

const VAPID_KEY: &str = "IQ9Ur0ykXoHS9gzfYX0aBjy9lvdrjx_PFUXmie9YRcY";

fn client() -> WebPushClient {
    WebPushClient::new(&WebPushConfig {
        vapid_private_key: Secret::new(VAPID_KEY),
        subject: "mailto:ops@sanluca.example".into(),
        ttl_seconds: 86_400,
        timeout_seconds: 5,
    })
    .unwrap()
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn push(at: Timestamp) -> Push<'static> {
    Push {
        title: Some("Appointment"),
        subtitle: Some("Tomorrow"),
        body: Some("See you at 9:00"),
        data: None,
        key: "64b7f0c2a1e3d4f5a6b7c8d9.0",
        at,
    }
}

async fn push_service() -> Recorder {
    Recorder::start(Answer::new(201, &[("location", "https://push.example.net/message/m-1")], "")).await
}

#[tokio::test]
async fn sends_an_encrypted_payload_with_vapid_authorization() {
    let service = push_service().await;
    let browser = Browser::new();
    let endpoint = format!("{}/wpush/v2/subscription-1", service.url);
    let receipt = client().send(&browser.subscription(&endpoint), &push(at(0))).await.unwrap();
    assert_eq!((receipt.provider_message_id.as_deref(), receipt.response_code), (Some("https://push.example.net/message/m-1"), Some(201)));

    let received = service.received();
    let request = &received[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/wpush/v2/subscription-1"));
    assert_eq!(request.headers["ttl"], "86400");
    assert_eq!(request.headers["content-encoding"], "aes128gcm");
    assert_eq!(request.headers["content-type"], "application/octet-stream");
    assert_eq!(
        browser.read(&request.body),
        json!({"title": "Appointment", "subtitle": "Tomorrow", "body": "See you at 9:00", "heraldMessageId": "64b7f0c2a1e3d4f5a6b7c8d9.0"})
    );

    let authorization = request.headers["authorization"].to_str().unwrap();
    let (token, public_key) = authorization.strip_prefix("vapid t=").and_then(|rest| rest.split_once(", k=")).expect("vapid t=…, k=…");
    let vapid_public = SecretKey::from_slice(&b64(VAPID_KEY)).unwrap().public_key();
    assert_eq!(b64(public_key), vapid_public.to_encoded_point(false).as_bytes(), "k is the VAPID public key");
    let pem = vapid_public.to_public_key_pem(LineEnding::LF).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.set_audience(&[service.url.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(token, &DecodingKey::from_ec_pem(pem.as_bytes()).unwrap(), &validation).unwrap().claims;
    assert_eq!(claims, json!({"aud": service.url, "exp": at(12 * 3600).as_second(), "sub": "mailto:ops@sanluca.example"}));
}

#[tokio::test]
async fn expired_subscriptions_are_gone_and_busy_services_are_retried() {
    let service = push_service().await;
    let subscription = Browser::new().subscription(&format!("{}/sub", service.url));
    for status in [410, 404] {
        service.answer(Answer::new(status, &[], ""));
        let error = client().send(&subscription, &push(at(0))).await.unwrap_err();
        assert_eq!((error.transient, error.response_code), (false, Some(status)));
        assert_eq!(error.gone_devices.0, [DeviceToken { platform: Platform::Web, token: subscription.clone() }]);
    }
    service.answer(Answer::new(429, &[("retry-after", "90")], "slow down"));
    let error = client().send(&subscription, &push(at(0))).await.unwrap_err();
    assert_eq!((error.transient, error.retry_after), (true, Some(Duration::from_secs(90))));
    assert!(error.gone_devices.is_empty());
    service.answer(Answer::new(413, &[], "too large"));
    let error = client().send(&subscription, &push(at(0))).await.unwrap_err();
    assert!(!error.transient && error.gone_devices.is_empty());
    assert_eq!(service.received().len(), 4);
}

#[tokio::test]
async fn what_cannot_be_sent_fails_its_device_without_a_request() {
    let service = push_service().await;
    let subscription = Browser::new().subscription(&format!("{}/sub", service.url));
    for malformed in
        ["not json", r#"{"endpoint": "ftp://x/y", "keys": {"p256dh": "AA", "auth": "AA"}}"#, &subscription.replace("keys", "kees")]
    {
        let error = client().send(malformed, &push(at(0))).await.unwrap_err();
        assert!(!error.transient && error.gone_devices.is_empty(), "{malformed}");
        assert!(!error.reason.contains("ftp"), "the token is never in the reason");
    }
    let long = "x".repeat(MAX_PAYLOAD);
    let too_long = Push { body: Some(&long), ..push(at(0)) };
    let error = client().send(&subscription, &too_long).await.unwrap_err();
    assert!(error.reason.contains("more than the 3993 bytes"), "{}", error.reason);
    assert!(service.received().is_empty());
}

#[test]
fn the_vapid_key_is_read_from_base64url_or_pem_and_push_data_fills_the_title() {
    let secret = SecretKey::from_slice(&b64(VAPID_KEY)).unwrap();
    let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
    assert_eq!(vapid_key(&pem).unwrap(), secret);
    assert_eq!(vapid_key(&format!("{VAPID_KEY}=")).unwrap(), secret);
    assert!(vapid_key("not a key").is_none());
    let config = |key: &str, subject: &str| WebPushConfig {
        vapid_private_key: Secret::new(key),
        subject: subject.into(),
        ttl_seconds: 60,
        timeout_seconds: 5,
    };
    assert!(WebPushClient::new(&config("AAAA", "mailto:a@b")).err().unwrap().contains("vapid_private_key"));
    assert!(WebPushClient::new(&config(VAPID_KEY, "ops@sanluca.example")).err().unwrap().contains("subject"));

    let data = json!({"android": {"notification": {"title": "Hi", "body": "There"}}});
    let only_data = Push { title: None, subtitle: None, body: None, data: Some(&data), key: "k.1", at: at(0) };
    assert_eq!(payload(&only_data), json!({"title": "Hi", "body": "There", "heraldMessageId": "k.1"}));
}
