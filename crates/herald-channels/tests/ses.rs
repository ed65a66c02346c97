//! The Amazon SES v2 provider against a local fake of its API: the `SendEmail` request as AWS
//! documents it (path, JSON body, SigV4 `Authorization` that the fake recomputes from the
//! request it received), `Content.Simple` without attachments and `Content.Raw` (base64 MIME)
//! with them, and how SES's answers are read.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use herald_channels::sigv4::{self, Scope};
use herald_channels::{Attachment, Outgoing, Provider, SesConfig, SesProvider};
use herald_core::notification::EmailOptions;
use herald_core::render::Content;
use herald_core::secrets::Secret;
use herald_testkit::fake_api::{Answer, FakeApi, Request};
use serde_json::{Value, json};
use std::time::Duration;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const MESSAGE_ID: &str = "0102018f6d1c8a3b-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6-000000";

fn config(fake: &FakeApi) -> SesConfig {
    SesConfig {
        region: "eu-west-1".into(),
        endpoint: Some(fake.url.clone()),
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: Secret::new(SECRET),
        session_token: None,
        from: "Clinica San Luca <noreply@sanluca.example>".into(),
        reply_to: Some("front-desk@sanluca.example".into()),
        configuration_set_name: Some("herald-events".into()),
        unsubscribe_url: Some("https://sanluca.example/unsubscribe?u={user}&t={tenant}".into()),
        unsubscribe_events: vec!["welcome".into()],
        timeout_seconds: 5,
    }
}

fn outgoing(event: &str, attachments: Vec<Attachment>) -> Outgoing {
    Outgoing {
        idempotency_key: "n1.0".into(),
        tenant: "san-luca".into(),
        recipient: serde_json::from_value(json!({"id": "patient 1", "emailAddress": "ada@example.org"})).unwrap(),
        content: Some(Content::Email {
            subject: "Welcome\r\nBcc: x@evil.example".into(),
            text: Some("Hello Ada".into()),
            html: Some("<p>Hello Ada</p>".into()),
        }),
        email: EmailOptions { carbon_copies: vec!["cc@example.org".into()], ..EmailOptions::default() },
        attachments,
        event: json!({"name": event}),
        at: "2027-01-15T08:00:00Z".parse().unwrap(),
    }
}

/// Recomputes the SigV4 signature of `request` as AWS would, and checks the header with it.
fn assert_signed(request: &Request, access_key: &str, token: Option<&str>) {
    let authorization = request.header("authorization").expect("an Authorization header");
    let amz_date = request.header("x-amz-date").expect("an X-Amz-Date header");
    assert_eq!(amz_date, "20270115T080000Z", "signed at the message's time");
    let prefix = format!("AWS4-HMAC-SHA256 Credential={access_key}/20270115/eu-west-1/ses/aws4_request, SignedHeaders=");
    let rest = authorization.strip_prefix(&prefix).unwrap_or_else(|| panic!("{authorization}"));
    let (signed, signature) = rest.split_once(", Signature=").unwrap();
    let names: Vec<&str> = signed.split(';').collect();
    let mut expected_names = vec!["content-type", "host", "x-amz-date"];
    if token.is_some() {
        expected_names.push("x-amz-security-token");
        assert_eq!(request.header("x-amz-security-token"), token);
    }
    assert_eq!(names, expected_names);
    let headers: Vec<(String, String)> = names.iter().map(|n| (n.to_string(), request.header(n).unwrap().to_string())).collect();
    let signing = sigv4::Request {
        method: request.method.as_str(),
        path: &request.path,
        query: "",
        headers: headers.clone(),
        payload: request.body.as_bytes(),
    };
    let recomputed = sigv4::signature(SECRET, Scope { region: "eu-west-1", service: "ses" }, amz_date, &signing, &headers);
    assert_eq!(signature, recomputed, "the signature matches the request as received");
}

#[tokio::test]
async fn sends_simple_content_signed_as_documented() {
    let fake = FakeApi::start(Answer::json(200, json!({"MessageId": MESSAGE_ID}))).await;
    let receipt = SesProvider::new(&config(&fake)).unwrap().send(&outgoing("welcome", Vec::new())).await.unwrap();
    assert_eq!((receipt.provider_message_id.as_deref(), receipt.response_code), (Some(MESSAGE_ID), Some(200)));

    let request = &fake.received()[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/v2/email/outbound-emails"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_signed(request, "AKIAIOSFODNN7EXAMPLE", None);
    assert_eq!(
        request.json(),
        json!({
            "FromEmailAddress": "Clinica San Luca <noreply@sanluca.example>",
            "Destination": {"ToAddresses": ["ada@example.org"], "CcAddresses": ["cc@example.org"]},
            "ReplyToAddresses": ["front-desk@sanluca.example"],
            "ConfigurationSetName": "herald-events",
            "Content": {"Simple": {
                "Subject": {"Data": "Welcome  Bcc: x@evil.example", "Charset": "UTF-8"},
                "Body": {"Text": {"Data": "Hello Ada", "Charset": "UTF-8"}, "Html": {"Data": "<p>Hello Ada</p>", "Charset": "UTF-8"}},
                "Headers": [
                    {"Name": "List-Unsubscribe", "Value": "<https://sanluca.example/unsubscribe?u=patient%201&t=san-luca>"},
                    {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"}
                ]
            }}
        })
    );
}

#[tokio::test]
async fn transactional_messages_carry_no_unsubscribe_and_a_send_can_set_reply_to() {
    let fake = FakeApi::start(Answer::json(200, json!({"MessageId": MESSAGE_ID}))).await;
    let mut message = outgoing("appointment_reminder", Vec::new());
    message.email.reply_to = Some("dr.rossi@sanluca.example".into());
    SesProvider::new(&config(&fake)).unwrap().send(&message).await.unwrap();
    let body = fake.received()[0].json();
    assert_eq!(body["Content"]["Simple"].get("Headers"), None);
    assert_eq!(body["ReplyToAddresses"], json!(["dr.rossi@sanluca.example"]));
}

#[tokio::test]
async fn names_that_are_not_ascii_are_encoded() {
    let fake = FakeApi::start(Answer::json(200, json!({"MessageId": MESSAGE_ID}))).await;
    let settings = SesConfig { from: "Mi Clínica Dental <noreply@clinica.example>".into(), ..config(&fake) };
    SesProvider::new(&settings).unwrap().send(&outgoing("appointment_reminder", Vec::new())).await.unwrap();
    assert_eq!(fake.received()[0].json()["FromEmailAddress"], "=?UTF-8?B?TWkgQ2zDrW5pY2EgRGVudGFs?= <noreply@clinica.example>");
}

#[tokio::test]
async fn attachments_go_as_raw_mime() {
    let fake = FakeApi::start(Answer::json(200, json!({"MessageId": MESSAGE_ID}))).await;
    let mut settings = config(&fake);
    settings.session_token = Some(Secret::new("session-token-value"));
    let pdf = Attachment { filename: "referto.pdf".into(), content_type: "application/pdf".into(), content: b"%PDF-1.7 bytes".to_vec() };
    SesProvider::new(&settings).unwrap().send(&outgoing("welcome", vec![pdf])).await.unwrap();
    let request = &fake.received()[0];
    assert_signed(request, "AKIAIOSFODNN7EXAMPLE", Some("session-token-value"));
    let body = request.json();
    assert_eq!(body["Destination"]["ToAddresses"], json!(["ada@example.org"]));
    let raw = STANDARD.decode(body["Content"]["Raw"]["Data"].as_str().unwrap()).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    for expected in [
        "Content-Type: multipart/mixed",
        "Reply-To: front-desk@sanluca.example",
        "List-Unsubscribe: <https://sanluca.example/unsubscribe?u=patient%201&t=san-luca>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "filename=\"referto.pdf\"",
        "Message-ID: <n1.0@sanluca.example>",
    ] {
        assert!(raw.contains(expected), "{expected} in {raw}");
    }
    assert!(!raw.contains("\nBcc: x@evil"), "no header can be injected through the subject");
}

#[tokio::test]
async fn throttling_and_server_errors_are_transient_rejections_are_not() {
    let fake = FakeApi::start(Answer::json(200, json!({"MessageId": MESSAGE_ID}))).await;
    fake.then([
        Answer::json(429, json!({"message": "Maximum sending rate exceeded."}))
            .with_header("x-amzn-errortype", "TooManyRequestsException")
            .with_header("retry-after", "2"),
        Answer::json(503, json!({"message": "Service unavailable"})),
        Answer::json(400, json!({"message": "Email address is not verified."})).with_header("x-amzn-errortype", "MessageRejected"),
    ]);
    let provider = SesProvider::new(&config(&fake)).unwrap();
    let message = outgoing("welcome", Vec::new());
    let throttled = provider.send(&message).await.unwrap_err();
    assert!(throttled.transient);
    assert_eq!((throttled.response_code, throttled.retry_after), (Some(429), Some(Duration::from_secs(2))));
    assert!(provider.send(&message).await.unwrap_err().transient);
    let rejected = provider.send(&message).await.unwrap_err();
    assert!(!rejected.transient && rejected.reason.contains("400"), "{rejected:?}");
}

#[tokio::test]
async fn the_health_check_reads_the_account() {
    let fake = FakeApi::start(Answer::json(200, json!({"SendingEnabled": true}))).await;
    SesProvider::new(&config(&fake)).unwrap().healthcheck().await.unwrap();
    let request = &fake.received()[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("GET", "/v2/email/account"));
    assert!(request.header("authorization").unwrap().contains("SignedHeaders=host;x-amz-date,"));
}

#[test]
fn settings_are_checked() {
    let good = SesConfig { endpoint: None, ..config_for("https://unused") };
    assert!(SesProvider::new(&good).is_ok());
    assert!(SesProvider::new(&SesConfig { region: "eu west".into(), ..good.clone() }).is_err());
    assert!(SesProvider::new(&SesConfig { from: "not an address".into(), ..good.clone() }).is_err());
    let err = SesProvider::new(&SesConfig { unsubscribe_url: Some("http://plain.example/u".into()), ..good }).unwrap_err();
    assert!(err.contains("unsubscribe_url"), "{err}");
}

fn config_for(url: &str) -> SesConfig {
    let value: Value = json!({"type": "ses", "region": "eu-west-1", "endpoint": url, "access_key_id": "AKIA", "secret_access_key": "s",
        "from": "noreply@sanluca.example"});
    let Ok(herald_channels::ProviderConfig::Ses(config)) = serde_json::from_value(value) else { panic!("an SES configuration") };
    config
}
