//! The SMS and voice providers against a local fake of their HTTP APIs: the exact request each
//! documents (method, path, auth header, form fields) and how each documented answer is read —
//! success with the message id, 429 with `Retry-After`, 5xx, and errors whose code and message
//! are kept with phone numbers masked.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use herald_channels::{KaleyraConfig, KaleyraProvider, Outgoing, Provider, ProviderConfig, TwilioSmsConfig, TwilioSmsProvider};
use herald_channels::{TwilioVoiceConfig, TwilioVoiceProvider};
use herald_core::notification::EmailOptions;
use herald_core::render::Content;
use herald_core::resources::user::User;
use herald_core::secrets::Secret;
use herald_testkit::fake_api::{Answer, FakeApi};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const SID: &str = "SM1f0e8ae6ade43cb3c0ce4525424e404f";

fn form(body: &str) -> BTreeMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(body).unwrap().into_iter().collect()
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// Twilio's documented answer to a created message.
fn created() -> Answer {
    Answer::json(
        201,
        json!({"sid": SID, "account_sid": ACCOUNT, "to": "+393331234567", "from": "+14155550100", "body": "Your results are ready",
               "status": "queued", "num_segments": "1", "direction": "outbound-api", "error_code": null, "error_message": null}),
    )
}

fn twilio_config(fake: &FakeApi) -> TwilioSmsConfig {
    serde_json::from_value(json!({
        "base_url": fake.url, "account_sid": ACCOUNT, "auth_token": "auth-token", "from": "+14155550100",
        "public_base": "https://herald.example.org/", "timeout_seconds": 5
    }))
    .unwrap()
}

fn outgoing(content: Content) -> Outgoing {
    let recipient: User = serde_json::from_value(json!({"id": "patient-1", "phoneNumber": "+393331234567"})).unwrap();
    Outgoing {
        idempotency_key: "n1.0".into(),
        tenant: "clinic-a".into(),
        recipient,
        content: Some(content),
        email: EmailOptions::default(),
        attachments: Vec::new(),
        event: Value::Null,
        at: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
    }
}

fn sms(body: &str) -> Content {
    Content::Sms { body: body.into() }
}

#[tokio::test]
async fn twilio_sms_posts_the_documented_form_with_basic_auth() {
    let fake = FakeApi::start(created()).await;
    let provider = TwilioSmsProvider::new(&twilio_config(&fake)).unwrap();
    let receipt = provider.send(&outgoing(sms("Your results are ready"))).await.unwrap();
    assert_eq!((receipt.provider_message_id.as_deref(), receipt.response_code), (Some(SID), Some(201)));
    let kept: Value = serde_json::from_str(receipt.response.as_deref().unwrap()).unwrap();
    assert_eq!(kept, json!({"sid": SID, "status": "queued", "num_segments": "1"}), "no number or body in the record");

    let requests = fake.received();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json")
    );
    assert_eq!(requests[0].header("authorization"), Some(basic(ACCOUNT, "auth-token").as_str()));
    assert_eq!(requests[0].header("content-type"), Some("application/x-www-form-urlencoded"));
    let expected: BTreeMap<String, String> = [
        ("To", "+393331234567"),
        ("From", "+14155550100"),
        ("Body", "Your results are ready"),
        ("StatusCallback", "https://herald.example.org/webhooks/twilio/clinic-a/status"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(form(&requests[0].body), expected);
}

#[tokio::test]
async fn twilio_sms_uses_an_api_key_and_a_messaging_service_when_configured() {
    let fake = FakeApi::start(created()).await;
    let config = TwilioSmsConfig {
        from: None,
        messaging_service_sid: Some("MG9752274e9e519418a7406176694466fa".into()),
        api_key_sid: Some("SK0123".into()),
        api_key_secret: Some(Secret::new("key-secret")),
        public_base: None,
        ..twilio_config(&fake)
    };
    TwilioSmsProvider::new(&config).unwrap().send(&outgoing(sms("Hi"))).await.unwrap();
    let request = &fake.received()[0];
    assert_eq!(request.header("authorization"), Some(basic("SK0123", "key-secret").as_str()));
    let sent = form(&request.body);
    assert_eq!(sent.get("MessagingServiceSid").map(String::as_str), Some("MG9752274e9e519418a7406176694466fa"));
    assert!(!sent.contains_key("From") && !sent.contains_key("StatusCallback"), "{sent:?}");
}

#[tokio::test]
async fn twilio_errors_are_transient_or_permanent_and_name_no_number() {
    let fake = FakeApi::start(created()).await;
    fake.then([
        Answer::json(429, json!({"code": 20429, "message": "Too Many Requests", "status": 429})).with_header("retry-after", "7"),
        Answer::json(503, json!({"code": 20503, "message": "Service unavailable", "status": 503})),
        Answer::json(
            400,
            json!({"code": 21211, "message": "The 'To' number +393331234567 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}),
        ),
    ]);
    let provider = TwilioSmsProvider::new(&twilio_config(&fake)).unwrap();
    let limited = provider.send(&outgoing(sms("Hi"))).await.unwrap_err();
    assert!(limited.transient);
    assert_eq!(limited.retry_after, Some(Duration::from_secs(7)));
    assert!(provider.send(&outgoing(sms("Hi"))).await.unwrap_err().transient);
    let invalid = provider.send(&outgoing(sms("Hi"))).await.unwrap_err();
    assert!(!invalid.transient);
    assert_eq!(invalid.response_code, Some(400));
    assert!(invalid.reason.contains("21211") && invalid.reason.contains("not a valid phone number"), "{}", invalid.reason);
    assert!(!invalid.reason.contains("3331234567") && !invalid.response.unwrap().contains("3331234567"), "the number is masked");
}

#[test]
fn twilio_settings_are_checked_when_the_provider_is_built() {
    let build = |config: Value| serde_json::from_value::<ProviderConfig>(config).unwrap().build().err().unwrap_or_default();
    let base = json!({"type": "twilio", "account_sid": ACCOUNT, "auth_token": "t"});
    let with = |key: &str, value: Value| {
        let mut config = base.clone();
        config[key] = value;
        config
    };
    assert!(build(base.clone()).contains("from or messaging_service_sid"));
    assert!(build(with("from", json!("A sender too long"))).contains("from"));
    assert!(build(with("from", json!("StClaire"))).is_empty(), "an alphanumeric sender is fine");
    assert!(build(with("account_sid", json!("XX1"))).contains("account_sid"));
    assert!(build(json!({"type": "twilio", "account_sid": ACCOUNT, "from": "+14155550100"})).contains("auth_token"));
    assert!(
        build(json!({"type": "twilio", "account_sid": ACCOUNT, "from": "+14155550100", "api_key_sid": "SK1"})).contains("api_key_secret")
    );
}

#[tokio::test]
async fn twilio_voice_places_a_call_reading_the_escaped_text() {
    let fake =
        FakeApi::start(Answer::json(201, json!({"sid": "CA5ef8732a3c49700934481addd5ce1659", "status": "queued", "to": "+393331234567"})))
            .await;
    let config: TwilioVoiceConfig = serde_json::from_value(json!({
        "base_url": fake.url, "account_sid": ACCOUNT, "auth_token": "auth-token", "from": "+14155550100",
        "language": "it-IT", "repeat": 2, "public_base": "https://herald.example.org"
    }))
    .unwrap();
    let receipt =
        TwilioVoiceProvider::new(&config).unwrap().send(&outgoing(Content::Voice { body: "Visita alle 9 & 30".into() })).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("CA5ef8732a3c49700934481addd5ce1659"));
    let request = &fake.received()[0];
    assert_eq!(request.path, "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls.json");
    assert_eq!(request.header("authorization"), Some(basic(ACCOUNT, "auth-token").as_str()));
    let sent = form(&request.body);
    assert_eq!(sent["To"], "+393331234567");
    assert_eq!(sent["From"], "+14155550100");
    assert_eq!(sent["Twiml"], "<Response><Say language=\"it-IT\" loop=\"3\">Visita alle 9 &amp; 30</Say></Response>");
    assert_eq!(sent["StatusCallback"], "https://herald.example.org/webhooks/twilio/clinic-a/status");
}

fn kaleyra(fake: &FakeApi) -> KaleyraProvider {
    KaleyraProvider::new(&KaleyraConfig {
        base_url: fake.url.clone(),
        sid: "HXAP1234567890US".into(),
        api_key: Secret::new("Ac4f0e1d2c3b4a5"),
        sender: "KLRHXA".into(),
        message_type: "DEFAULT".into(),
        timeout_seconds: 5,
    })
    .unwrap()
}

#[tokio::test]
async fn kaleyra_posts_the_documented_form_with_the_api_key_header() {
    let fake = FakeApi::start(Answer::json(
        202,
        json!({"id": "6e5a1a26-c2b6-4c9e-8c6b-0d5a5c3f1d90", "sender": "KLRHXA", "type": "DEFAULT", "body": "Hi", "totalCount": 1,
               "data": [{"message_id": "6e5a1a26-c2b6-4c9e-8c6b-0d5a5c3f1d90:1", "recipient": "+393331234567"}], "error": {}}),
    ))
    .await;
    let provider = kaleyra(&fake);
    let receipt = provider.send(&outgoing(sms("Your results are ready"))).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("6e5a1a26-c2b6-4c9e-8c6b-0d5a5c3f1d90:1"));
    assert!(!receipt.response.unwrap().contains("3331234567"));
    provider.send(&outgoing(sms("Привет"))).await.unwrap();

    let requests = fake.received();
    assert_eq!((requests[0].method.as_str(), requests[0].path.as_str()), ("POST", "/v1/HXAP1234567890US/messages"));
    assert_eq!(requests[0].header("api-key"), Some("Ac4f0e1d2c3b4a5"));
    let sent = form(&requests[0].body);
    let expected: BTreeMap<String, String> =
        [("to", "+393331234567"), ("sender", "KLRHXA"), ("type", "DEFAULT"), ("body", "Your results are ready")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(sent, expected);
    assert_eq!(form(&requests[1].body).get("unicode").map(String::as_str), Some("1"), "a UCS-2 body is flagged");
}

#[tokio::test]
async fn kaleyra_errors_keep_the_code_and_mask_numbers() {
    let fake = FakeApi::start(Answer::json(500, json!({"code": "E500", "message": "Internal error"}))).await;
    fake.then([Answer::json(400, json!({"code": "E413", "message": "Invalid number +393331234567", "error": {"to": "invalid"}}))]);
    let provider = kaleyra(&fake);
    let invalid = provider.send(&outgoing(sms("Hi"))).await.unwrap_err();
    assert!(!invalid.transient);
    assert!(invalid.reason.contains("E413") && !invalid.reason.contains("3331234567"), "{}", invalid.reason);
    assert!(provider.send(&outgoing(sms("Hi"))).await.unwrap_err().transient, "5xx is retried");
}
