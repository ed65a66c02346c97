//! Email beyond plain SMTP: Amazon SES (against a fake that answers `SendEmail`), SES events
//! arriving through SNS with their signatures verified (a test key and certificate stand in
//! for SNS's) from listed topics only, the subscription confirmation, a globally disabled email
//! channel and an unconfigured SES webhook, and
//! `emailReplyTo` on `POST /send` reaching a real SMTP server while line breaks are refused.

use crate::support::{ConfiguredHerald, TestApp, assert_error, cases};
use herald_channels::{ProviderConfig, SesConfig, SmtpConfig, SmtpSecurity};
use herald_core::resources::channel::Channel;
use herald_core::secrets::Secret;
use herald_server::config::Config;
use herald_testkit::fake_api::{Answer, FakeApi};
use herald_testkit::smtp::SmtpSink;
use herald_testkit::sns::{FakeSns, TOPIC_ARN};
use reqwest::StatusCode;
use serde_json::{Value, json};

cases![
    email_ses_sends_and_sns_events_move_the_message_on,
    email_sns_deliveries_with_a_bad_signature_are_refused_and_change_nothing,
    email_sns_subscriptions_are_confirmed_only_when_signed,
    email_disabled_globally_fails_messages_with_the_reason,
    email_reply_to_reaches_the_server_and_line_breaks_are_refused,
];

const MESSAGE_ID: &str = "0102018f6d1c8a3b-1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6-000000";

/// A second Herald on the test's database and clock, with its own configuration.
struct EmailHerald(ConfiguredHerald);

impl std::ops::Deref for EmailHerald {
    type Target = ConfiguredHerald;

    fn deref(&self) -> &ConfiguredHerald {
        &self.0
    }
}

impl EmailHerald {
    async fn start(app: &TestApp, configure: impl FnOnce(&mut Config)) -> Self {
        Self(app.configured(configure).await)
    }

    /// Posts an SNS delivery as SNS does (JSON sent as `text/plain`).
    async fn sns(&self, app: &TestApp, body: &Value) -> (StatusCode, Value) {
        let response = app
            .client
            .post(format!("{}/webhooks/ses/default", self.base))
            .header("content-type", "text/plain; charset=UTF-8")
            .header("x-amz-sns-message-type", body["Type"].as_str().unwrap_or_default())
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

fn ses(fake: &FakeApi) -> ProviderConfig {
    ProviderConfig::Ses(SesConfig {
        region: "eu-west-1".into(),
        endpoint: Some(fake.url.clone()),
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: Secret::new("ses-secret"),
        session_token: None,
        from: "Clinica San Luca <noreply@sanluca.example>".into(),
        reply_to: None,
        configuration_set_name: Some("herald-events".into()),
        unsubscribe_url: None,
        unsubscribe_events: Vec::new(),
        timeout_seconds: 5,
    })
}

/// A Herald sending email through a fake SES and trusting `sns`'s certificate server.
async fn ses_herald(app: &TestApp, fake: &FakeApi, sns: &FakeSns) -> EmailHerald {
    let (provider, origin) = (ses(fake), sns.server.url.clone());
    EmailHerald::start(app, move |config| {
        config.channels.insert(Channel::Email, provider);
        config.email.sns_certificate_origins = vec![origin];
        config.email.sns_topic_arns = vec![TOPIC_ARN.to_string()];
    })
    .await
}

/// Sends one inline email to `patient-1` and runs its delivery.
async fn send_one(app: &TestApp, herald: &EmailHerald, extra: Value) -> (StatusCode, Value) {
    let mut body =
        json!({"channels": ["email"], "recipients": ["patient-1"], "messageTitle": "Your results", "messageContent": "They are ready"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let answer = app.post("/send", &app.admin_key, body).await;
    if answer.0 == StatusCode::OK {
        assert_eq!(herald.dispatcher.run_due().await.unwrap(), 1);
    }
    answer
}

async fn patient(app: &TestApp) {
    app.create("users", &app.admin_key, json!({"id": "patient-1", "name": "Ada", "emailAddress": "ada@example.org"})).await;
}

async fn message(app: &TestApp) -> Value {
    let (status, list) = app.get("/notifications?recipient=patient-1&_s=-createdAt", &app.admin_key).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list[0]["messages"][0].clone()
}

fn ses_event(kind: &str, extra: Value) -> Value {
    let mut event = json!({"eventType": kind, "mail": {"timestamp": "2027-01-15T08:00:00.000Z", "source": "noreply@sanluca.example",
        "messageId": MESSAGE_ID, "destination": ["ada@example.org"]}});
    event.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    event
}

async fn email_ses_sends_and_sns_events_move_the_message_on(app: TestApp) {
    patient(&app).await;
    let fake = FakeApi::start(Answer::json(200, json!({"MessageId": MESSAGE_ID}))).await;
    let sns = FakeSns::start().await;
    let herald = ses_herald(&app, &fake, &sns).await;
    let (status, answer) = send_one(&app, &herald, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let request = &fake.received()[0];
    assert_eq!(request.path, "/v2/email/outbound-emails");
    assert!(request.header("authorization").unwrap().starts_with("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/"));
    assert_eq!(request.json()["Content"]["Simple"]["Subject"]["Data"], "Your results");
    let sent = message(&app).await;
    assert_eq!((sent["status"].as_str(), sent["service"].as_str()), (Some("SUCCESS"), Some("ses")), "{sent}");
    assert_eq!(sent["providerMessageId"], MESSAGE_ID);

    let delivered = sns.notification(&ses_event("Delivery", json!({"delivery": {"recipients": ["ada@example.org"]}})), 1);
    let (status, answer) = herald.sns(&app, &delivered).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(message(&app).await["status"], "delivered");

    let complaint = sns.notification(&ses_event("Complaint", json!({"complaint": {"complaintFeedbackType": "abuse"}})), 2);
    let (status, answer) = herald.sns(&app, &complaint).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(message(&app).await["status"], "complained", "SignatureVersion 2 verifies too");

    let unknown = sns.notification(&json!({"eventType": "Delivery", "mail": {"messageId": "someone-else"}}), 1);
    assert_eq!(herald.sns(&app, &unknown).await.0, StatusCode::OK, "an unknown message is acknowledged so SNS stops");
    let certificate_fetches = sns.server.received().iter().filter(|r| r.path.ends_with(".pem")).count();
    assert_eq!(certificate_fetches, 1, "the certificate is cached");
}

async fn email_sns_deliveries_with_a_bad_signature_are_refused_and_change_nothing(app: TestApp) {
    patient(&app).await;
    let fake = FakeApi::start(Answer::json(200, json!({"MessageId": MESSAGE_ID}))).await;
    let sns = FakeSns::start().await;
    let herald = ses_herald(&app, &fake, &sns).await;
    send_one(&app, &herald, json!({})).await;
    let bounce = ses_event("Bounce", json!({"bounce": {"bounceType": "Permanent", "bounceSubType": "General"}}));

    let mut tampered = sns.notification(&bounce, 1);
    tampered["Message"] = json!(ses_event("Delivery", json!({})).to_string());
    assert_error(&herald.sns(&app, &tampered).await, StatusCode::FORBIDDEN, "Signature");

    let mut elsewhere = sns.notification(&bounce, 1);
    elsewhere["SigningCertURL"] = json!("https://evil.example/SimpleNotificationService-test.pem");
    sns.sign(&mut elsewhere);
    assert_error(&herald.sns(&app, &elsewhere).await, StatusCode::FORBIDDEN, "SigningCertURL");

    let mut unsigned = sns.notification(&bounce, 1);
    unsigned["Signature"] = json!("bm90IGEgc2lnbmF0dXJl");
    assert_error(&herald.sns(&app, &unsigned).await, StatusCode::FORBIDDEN, "Signature");
    assert_error(&herald.sns(&app, &json!({"hello": "world"})).await, StatusCode::BAD_REQUEST, "body");

    let mut other_topic = sns.notification(&bounce, 1);
    other_topic["TopicArn"] = json!("arn:aws:sns:eu-west-1:999999999999:someone-elses-topic");
    sns.sign(&mut other_topic);
    assert_error(&herald.sns(&app, &other_topic).await, StatusCode::FORBIDDEN, "TopicArn");

    assert_eq!(message(&app).await["status"], "SUCCESS", "nothing changed");
    let (status, _) = herald.sns(&app, &sns.notification(&bounce, 1)).await;
    assert_eq!(status, StatusCode::OK);
    let bounced = message(&app).await;
    assert_eq!(bounced["status"], "bounced", "{bounced}");
}

async fn email_sns_subscriptions_are_confirmed_only_when_signed(app: TestApp) {
    let fake = FakeApi::start(Answer::json(200, json!({"MessageId": MESSAGE_ID}))).await;
    let sns = FakeSns::start().await;
    let herald = ses_herald(&app, &fake, &sns).await;
    let confirmations =
        || sns.server.received().into_iter().filter(|r| r.query.as_deref().is_some_and(|q| q.contains("ConfirmSubscription"))).count();

    let mut forged = sns.subscription_confirmation();
    forged["Token"] = json!("another-token");
    assert_error(&herald.sns(&app, &forged).await, StatusCode::FORBIDDEN, "Signature");
    assert_eq!(confirmations(), 0, "nothing is fetched for a forged confirmation");

    let (status, answer) = herald.sns(&app, &sns.subscription_confirmation()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(confirmations(), 1);
    let request =
        sns.server.received().into_iter().find(|r| r.query.as_deref().is_some_and(|q| q.contains("ConfirmSubscription"))).unwrap();
    assert_eq!(request.method.as_str(), "GET");
    assert!(request.query.unwrap().contains("Token=2336412f37f"));
}

async fn email_disabled_globally_fails_messages_with_the_reason(app: TestApp) {
    patient(&app).await;
    let herald = EmailHerald::start(&app, |config| {
        config.channels.insert(Channel::Email, ProviderConfig::Disabled);
    })
    .await;
    let sns = FakeSns::start().await;
    let unconfigured = herald.sns(&app, &sns.subscription_confirmation()).await;
    assert_error(&unconfigured, StatusCode::NOT_FOUND, "email.sns_topic_arns");
    assert!(sns.server.received().is_empty(), "an unconfigured webhook fetches nothing");
    let (status, answer) = send_one(&app, &herald, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let failed = message(&app).await;
    assert_eq!(
        (failed["status"].as_str(), failed["error"].as_str()),
        (Some("FAILURE"), Some("email is disabled for this server")),
        "{failed}"
    );
}

async fn email_reply_to_reaches_the_server_and_line_breaks_are_refused(app: TestApp) {
    patient(&app).await;
    let sink = SmtpSink::start();
    let smtp = ProviderConfig::Smtp(SmtpConfig {
        security: SmtpSecurity::Plain,
        timeout_seconds: 5,
        max_connections: 1,
        reply_to: Some("front-desk@sanluca.example".into()),
        ..SmtpConfig::new("127.0.0.1", sink.port, "Clinica San Luca <noreply@sanluca.example>")
    });
    let herald = EmailHerald::start(&app, move |config| {
        config.channels.insert(Channel::Email, smtp);
    })
    .await;
    for (extra, field) in [
        (json!({"emailReplyTo": "dr.rossi@sanluca.example\r\nBcc: spy@evil.example"}), "emailReplyTo"),
        (json!({"emailSender": "noreply@sanluca.example\nBcc: spy@evil.example"}), "emailSender"),
        (json!({"emailCarbonCopies": ["a@example.org\r\nX: y"]}), "emailCarbonCopies[0]"),
        (json!({"messageTitle": "Results\r\nBcc: spy@evil.example"}), "messageTitle"),
    ] {
        assert_error(&send_one(&app, &herald, extra).await, StatusCode::BAD_REQUEST, field);
    }
    let (_, listed) = app.get("/notifications?recipient=patient-1", &app.admin_key).await;
    assert_eq!(listed, json!([]), "nothing was stored");

    let (status, answer) = send_one(&app, &herald, json!({"emailReplyTo": "dr.rossi@sanluca.example"})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let mail = String::from_utf8(sink.received().pop().expect("a mail").data).unwrap();
    assert!(mail.contains("Reply-To: dr.rossi@sanluca.example"), "{mail}");
    assert!(!mail.contains("front-desk"), "the send's reply address wins");
}
