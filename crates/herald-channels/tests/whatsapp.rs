//! The WhatsApp providers against a local fake of their HTTP APIs: the exact request each
//! documents (method, path, auth header, body), and how each documented answer is read —
//! success with the message id, 429 with `Retry-After`, throughput limits, an invalid token or
//! key, a template that does not exist or is paused, a message outside the customer-service
//! window.

use herald_channels::{Dialog360Config, Dialog360Provider, Outgoing, Provider, SendError, WhatsappCloudConfig, WhatsappCloudProvider};
use herald_core::notification::EmailOptions;
use herald_core::render::Content;
use herald_core::resources::user::User;
use herald_core::secrets::Secret;
use herald_testkit::fake_api::{Answer, FakeApi};
use serde_json::{Value, json};
use std::time::Duration;

const WAMID: &str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA";

/// Meta's documented answer to a sent message.
fn accepted() -> Answer {
    Answer::json(
        200,
        json!({"messaging_product": "whatsapp", "contacts": [{"input": "+393331234567", "wa_id": "393331234567"}],
               "messages": [{"id": WAMID, "message_status": "accepted"}]}),
    )
}

/// A Graph API error body as Meta documents it.
fn graph_error(status: u16, code: i64, message: &str, details: &str) -> Answer {
    Answer::json(
        status,
        json!({"error": {"message": message, "type": "OAuthException", "code": code,
               "error_data": {"messaging_product": "whatsapp", "details": details}, "error_subcode": 2494010, "fbtrace_id": "AbCdEf123"}}),
    )
}

fn cloud(fake: &FakeApi) -> WhatsappCloudProvider {
    WhatsappCloudProvider::new(&WhatsappCloudConfig {
        base_url: fake.url.clone(),
        api_version: "v23.0".into(),
        phone_number_id: "106540352242922".into(),
        access_token: Secret::new("EAAG-token"),
        default_language: "en_US".into(),
        app_secret: None,
        verify_token: None,
        timeout_seconds: 5,
    })
    .unwrap()
}

fn dialog360(fake: &FakeApi) -> Dialog360Provider {
    Dialog360Provider::new(&Dialog360Config {
        base_url: fake.url.clone(),
        api_key: Secret::new("d360-key"),
        default_language: "en".into(),
        webhook_secret: None,
        timeout_seconds: 5,
    })
    .unwrap()
}

fn recipient() -> User {
    serde_json::from_value(json!({"id": "patient-1", "phoneNumber": "+393331234567", "locale": "de"})).unwrap()
}

fn outgoing(content: Content) -> Outgoing {
    Outgoing {
        idempotency_key: "n1.0".into(),
        tenant: "default".into(),
        recipient: recipient(),
        content: Some(content),
        email: EmailOptions::default(),
        attachments: Vec::new(),
        event: Value::Null,
        at: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
    }
}

fn template(parameters: &[&str], language: Option<&str>) -> Content {
    Content::Whatsapp {
        template_name: "appointment_reminder".into(),
        parameters: parameters.iter().map(|p| p.to_string()).collect(),
        language: language.map(str::to_string),
    }
}

#[tokio::test]
async fn cloud_sends_a_template_message_as_documented() {
    let fake = FakeApi::start(accepted()).await;
    let receipt = cloud(&fake).send(&outgoing(template(&["Ada", "2027-01-15 10:00"], Some("it")))).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some(WAMID));
    assert_eq!(receipt.response_code, Some(200));
    let kept = receipt.response.unwrap();
    assert!(kept.contains(WAMID) && !kept.contains("393331234567"), "the answer is kept without the phone number: {kept}");

    let request = &fake.received()[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/v23.0/106540352242922/messages"));
    assert_eq!(request.header("authorization"), Some("Bearer EAAG-token"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "393331234567", "type": "template",
               "template": {"name": "appointment_reminder", "language": {"code": "it"},
                            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "2027-01-15 10:00"}]}]}})
    );
}

#[tokio::test]
async fn cloud_sends_free_form_text_and_templates_without_parameters() {
    let fake = FakeApi::start(accepted()).await;
    let provider = cloud(&fake);
    provider.send(&outgoing(Content::WhatsappText { body: "See you tomorrow".into() })).await.unwrap();
    provider.send(&outgoing(template(&[], None))).await.unwrap();
    let received = fake.received();
    assert_eq!(
        received[0].json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "393331234567", "type": "text",
               "text": {"preview_url": false, "body": "See you tomorrow"}})
    );
    assert_eq!(
        received[1].json()["template"],
        json!({"name": "appointment_reminder", "language": {"code": "en_US"}}),
        "the configured default language (not the recipient's locale: delivery chose none), and no components without parameters"
    );
    let too_long = provider.send(&outgoing(Content::WhatsappText { body: "x".repeat(4097) })).await.unwrap_err();
    assert!(!too_long.transient && too_long.reason.contains("4096"), "{too_long:?}");
    let email = Content::Email { subject: "s".into(), text: None, html: None };
    assert!(!provider.send(&outgoing(email)).await.unwrap_err().transient);
    assert_eq!(fake.received().len(), 2, "nothing is sent that WhatsApp would refuse");
}

/// The error of sending a template message.
async fn failure(provider: &dyn Provider) -> SendError {
    provider.send(&outgoing(template(&["Ada"], None))).await.unwrap_err()
}

#[tokio::test]
async fn cloud_errors_are_retried_or_final_as_meta_documents_them() {
    let fake = FakeApi::start(accepted()).await;
    let provider = cloud(&fake);
    let cases = [
        (
            graph_error(429, 130429, "(#130429) Rate limit hit", "Cloud API message throughput has been reached.")
                .with_header("retry-after", "7"),
            true,
            Some(7),
            "throughput",
        ),
        (
            graph_error(
                400,
                131056,
                "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                "Too many messages to the same number.",
            ),
            true,
            None,
            "throughput",
        ),
        (
            graph_error(400, 80007, "(#80007) Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
            true,
            None,
            "throughput",
        ),
        (graph_error(503, 2, "(#2) Service temporarily unavailable", "Temporary due to downtime."), true, None, "temporarily"),
        (
            graph_error(401, 190, "Error validating access token: Session has expired.", "Access token has expired"),
            false,
            None,
            "access token is invalid",
        ),
        (
            graph_error(
                404,
                132001,
                "(#132001) Template name does not exist in the translation",
                "template name (appointment_reminder) does not exist in it",
            ),
            false,
            None,
            "not approved",
        ),
        (
            graph_error(
                400,
                132000,
                "(#132000) Number of parameters does not match the expected number of params",
                "body: number of localizable_params (1) does not match the expected number of params (2)",
            ),
            false,
            None,
            "number of template parameters",
        ),
        (graph_error(400, 132015, "(#132015) Template is Paused", "Template is paused due to low quality"), false, None, "paused"),
        (
            graph_error(
                400,
                131047,
                "(#131047) Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            ),
            false,
            None,
            "24 hours",
        ),
        (
            Answer::json(500, json!({"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 99999}})),
            true,
            None,
            "refused",
        ),
        (Answer { status: 502, headers: Vec::new(), body: "<html>Bad Gateway</html>".into() }, true, None, "answered 502"),
    ];
    for (answer, transient, retry_after, reason) in cases {
        fake.then([answer.clone()]);
        let error = failure(&provider).await;
        assert_eq!(error.transient, transient, "{answer:?}: {error:?}");
        assert_eq!(error.retry_after, retry_after.map(Duration::from_secs), "{error:?}");
        assert_eq!(error.response_code, Some(answer.status));
        assert!(error.reason.starts_with("the WhatsApp Cloud API answered"), "{}", error.reason);
        assert!(error.reason.contains(reason), "{:?} should say {reason:?}", error.reason);
        let kept = error.response.clone().unwrap_or_default();
        assert!(!kept.contains("details") && !kept.contains("appointment_reminder"), "details are not kept: {kept}");
        assert!(!format!("{error:?}").contains("393331234567"), "no phone number in the error");
    }
    assert_eq!(fake.received().len(), 11, "one request per answer");
}

#[tokio::test]
async fn cloud_healthcheck_reads_the_phone_number_with_the_token() {
    let fake = FakeApi::start(Answer::json(200, json!({"id": "106540352242922"}))).await;
    let provider = cloud(&fake);
    provider.healthcheck().await.unwrap();
    let request = &fake.received()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str(), request.query.as_deref()),
        ("GET", "/v23.0/106540352242922", Some("fields=id"))
    );
    assert_eq!(request.header("authorization"), Some("Bearer EAAG-token"));
    fake.then([graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token", "")]);
    let error = provider.healthcheck().await.unwrap_err();
    assert!(!error.transient && error.reason.contains("access token is invalid"), "{error:?}");
}

#[tokio::test]
async fn dialog360_sends_the_cloud_api_body_with_its_key() {
    let fake = FakeApi::start(accepted()).await;
    let receipt = dialog360(&fake).send(&outgoing(template(&["Ada"], Some("pt_BR")))).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some(WAMID));
    let request = &fake.received()[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/messages"));
    assert_eq!(request.header("d360-api-key"), Some("d360-key"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "393331234567", "type": "template",
               "template": {"name": "appointment_reminder", "language": {"code": "pt_BR"},
                            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}]}})
    );
}

#[tokio::test]
async fn dialog360_errors_are_read_as_documented() {
    let fake = FakeApi::start(accepted()).await;
    let provider = dialog360(&fake);
    let meta = |status: u16, http_code: u16, message: &str| {
        Answer::json(status, json!({"meta": {"httpCode": http_code, "developerMessage": message, "success": false}}))
    };
    let cases = [
        (meta(401, 404, "Invalid api_key or token expired"), false, None, "API key is invalid"),
        (meta(400, 400, "You have exceeded the limit of 1 request every 5 seconds. Try again later."), true, None, "rate limit"),
        (meta(400, 400, "Your WhatsApp for Business API has been disabled."), false, None, "refused"),
        (meta(500, 500, "Internal server error"), true, None, "refused"),
        (Answer { status: 429, headers: vec![("retry-after".into(), "30".into())], body: String::new() }, true, Some(30), "answered 429"),
        (
            graph_error(400, 132001, "(#132001) Template name does not exist in the translation", "not in pt_BR"),
            false,
            None,
            "not approved",
        ),
        (graph_error(400, 131047, "(#131047) Re-engagement message", "more than 24 hours"), false, None, "24 hours"),
    ];
    for (answer, transient, retry_after, reason) in cases {
        fake.then([answer.clone()]);
        let error = failure(&provider).await;
        assert_eq!((error.transient, error.retry_after), (transient, retry_after.map(Duration::from_secs)), "{answer:?}: {error:?}");
        assert!(error.reason.starts_with("360dialog answered"), "{}", error.reason);
        assert!(error.reason.contains(reason), "{:?} should say {reason:?}", error.reason);
    }
    fake.then([Answer::json(200, json!({"url": "https://herald.example/webhooks/360dialog/default/token"}))]);
    provider.healthcheck().await.unwrap();
    let health = fake.received().pop().unwrap();
    assert_eq!((health.method.as_str(), health.path.as_str()), ("GET", "/v1/configs/webhook"));
    assert_eq!(health.header("d360-api-key"), Some("d360-key"));
}

#[tokio::test]
async fn unreachable_services_are_retried() {
    let config = WhatsappCloudConfig {
        base_url: "http://127.0.0.1:1".into(),
        api_version: "v23.0".into(),
        phone_number_id: "1".into(),
        access_token: Secret::new("t"),
        default_language: "en".into(),
        app_secret: None,
        verify_token: None,
        timeout_seconds: 5,
    };
    let error = WhatsappCloudProvider::new(&config).unwrap().send(&outgoing(template(&[], None))).await.unwrap_err();
    assert!(error.transient && error.response_code.is_none(), "{error:?}");
}
