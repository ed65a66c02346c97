//! WhatsApp end to end, against a local fake of the Cloud API and of 360dialog: an event's
//! template message reaches the fake exactly as Meta documents it and ends SUCCESS, then
//! `delivered` after a signed webhook; a callback with a bad signature or token is refused and
//! changes nothing; Meta's verification challenge; free-form text goes out only inside the
//! customer-service window that inbound messages open.

use crate::support::{ConfiguredHerald, TestApp, cases};
use herald_channels::{Dialog360Config, ProviderConfig, WhatsappCloudConfig};
use herald_core::resources::channel::Channel;
use herald_core::secrets::Secret;
use herald_testkit::fake_api::{Answer, FakeApi};
use hmac::Mac;
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{Value, json};

cases![
    whatsapp_events_go_out_as_templates_and_are_delivered_after_the_signed_callback,
    whatsapp_callbacks_with_a_bad_signature_are_refused_and_change_nothing,
    whatsapp_verification_challenge_is_echoed_only_for_the_verify_token,
    whatsapp_free_form_text_goes_out_only_inside_the_customer_service_window,
    whatsapp_360dialog_sends_and_takes_callbacks_at_the_tenants_secret_url,
];

const CREATED: &str = "AM/AppointmentCreated/v1";
const APP_SECRET: &str = "meta-app-secret";
const VERIFY_TOKEN: &str = "verify-me-please";
const HOOK_SECRET: &str = "d360-webhook-secret";
const PHONE: &str = "+393331234567";
const WAMID: &str = "wamid.HBgMMzkzMzMxMjM0NTY3FQIAERgSQjM4QjQ1QzQ5RDVBMzc5MTk2AA==";
const MISSING_TEMPLATE: &str = "Error: Missing required template name for WhatsApp message";

/// Meta's documented answer to a sent message.
fn accepted() -> Answer {
    Answer::json(
        200,
        json!({"messaging_product": "whatsapp", "contacts": [{"input": PHONE, "wa_id": "393331234567"}],
               "messages": [{"id": WAMID, "message_status": "accepted"}]}),
    )
}

/// A second Herald on the test's database and clock, with `provider` on the WhatsApp channel.
struct WhatsappHerald(ConfiguredHerald);

impl std::ops::Deref for WhatsappHerald {
    type Target = ConfiguredHerald;

    fn deref(&self) -> &ConfiguredHerald {
        &self.0
    }
}

impl WhatsappHerald {
    async fn start(app: &TestApp, provider: ProviderConfig) -> Self {
        Self(app.configured(|config| _ = config.channels.insert(Channel::Whatsapp, provider)).await)
    }

    /// Posts a webhook body with the given headers; returns status and JSON body.
    async fn post(&self, app: &TestApp, path: &str, body: &str, headers: &[(&str, String)]) -> (StatusCode, Value) {
        let mut request = app.client.post(format!("{}{path}", self.base)).header("content-type", "application/json").body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

fn cloud(fake: &FakeApi, app_secret: Option<&str>) -> ProviderConfig {
    ProviderConfig::WhatsappCloud(WhatsappCloudConfig {
        base_url: fake.url.clone(),
        api_version: "v23.0".into(),
        phone_number_id: "106540352242922".into(),
        access_token: Secret::new("EAAG-token"),
        default_language: "en".into(),
        app_secret: app_secret.map(Secret::new),
        verify_token: Some(Secret::new(VERIFY_TOKEN)),
        timeout_seconds: 5,
    })
}

/// `sha256=<hex HMAC-SHA256 of body under secret>`, as Meta signs webhooks.
fn signature(secret: &str, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A webhook body as Meta documents it, with `value`'s `statuses` and `messages`.
fn webhook(value: Value) -> String {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({"display_phone_number": "15550783881", "phone_number_id": "106540352242922"});
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]})
        .to_string()
}

fn status_update(app: &TestApp, id: &str, status: &str) -> String {
    let at = app.now().as_second().to_string();
    webhook(json!({"statuses": [{"id": id, "status": status, "timestamp": at, "recipient_id": "393331234567",
        "pricing": {"billable": true, "pricing_model": "PMP", "category": "utility"}}]}))
}

fn inbound_message(app: &TestApp) -> String {
    let at = app.now().as_second().to_string();
    webhook(json!({"contacts": [{"profile": {"name": "Ada"}, "wa_id": "393331234567"}],
        "messages": [{"from": "393331234567", "id": "wamid.inbound", "timestamp": at, "type": "text", "text": {"body": "Hello"}}]}))
}

/// A patient, a template with a WhatsApp template name and a setting that sends it on WhatsApp.
async fn appointment_setup(app: &TestApp, locale: Option<&str>) {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "patient-1", "name": "Ada", "phoneNumber": PHONE, "locale": locale, "groups": ["patients"]}))
        .await;
    app.create(
        "templates",
        key,
        json!({"name": "appointment-patient", "whatsappTemplateName": "appointment_created",
               "whatsappTemplateParameters": "{{user.name}}, {{data.resourceId}}"}),
    )
    .await;
    app.create(
        "notification-settings",
        key,
        json!({"eventName": CREATED, "group": "patients", "channels": ["whatsapp"], "templateName": "appointment-patient"}),
    )
    .await;
}

async fn emit_appointment(app: &TestApp) {
    let start = app.now().checked_add(SignedDuration::from_hours(72)).unwrap();
    let iso = herald_core::document::format_timestamp;
    let (status, answer) = app
        .emit(json!({"name": CREATED, "key": "apt-1", "payload": {"startDate": iso(start), "resourceId": "dr-rossi", "participantIds": ["patient-1"]}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// The messages of the latest notification of `patient-1`.
async fn messages(app: &TestApp) -> Vec<Value> {
    let (status, list) = app.get("/notifications?recipient=patient-1&_s=-createdAt", &app.admin_key).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list[0]["messages"].as_array().unwrap_or_else(|| panic!("no notification: {list}")).clone()
}

fn history(message: &Value) -> Vec<String> {
    message["history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap().to_string()).collect()
}

async fn window_of(app: &TestApp) -> Option<jiff::Timestamp> {
    app.store.last_whatsapp_inbound("default", PHONE).await.unwrap()
}

async fn whatsapp_events_go_out_as_templates_and_are_delivered_after_the_signed_callback(app: TestApp) {
    appointment_setup(&app, Some("it-IT")).await;
    let fake = FakeApi::start(accepted()).await;
    let herald = WhatsappHerald::start(&app, cloud(&fake, Some(APP_SECRET))).await;
    emit_appointment(&app).await;
    assert_eq!(herald.dispatcher.run_due().await.unwrap(), 1);

    let received = fake.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/v23.0/106540352242922/messages"));
    assert_eq!(request.header("authorization"), Some("Bearer EAAG-token"));
    assert_eq!(
        request.json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "393331234567", "type": "template",
               "template": {"name": "appointment_created", "language": {"code": "it"},
                            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "dr-rossi"}]}]}})
    );
    let message = &messages(&app).await[0];
    assert_eq!(message["status"], "SUCCESS", "{message}");
    assert_eq!((message["service"].as_str(), message["providerMessageId"].as_str()), (Some("whatsapp_cloud"), Some(WAMID)));

    let body = status_update(&app, WAMID, "delivered");
    let (status, answer) =
        herald.post(&app, "/webhooks/whatsapp/default", &body, &[("x-hub-signature-256", signature(APP_SECRET, &body))]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let message = &messages(&app).await[0];
    assert_eq!(message["status"], "delivered", "{message}");
    assert_eq!(history(message), ["queued", "sending", "SUCCESS", "delivered"]);

    let late = status_update(&app, WAMID, "sent");
    let (status, _) =
        herald.post(&app, "/webhooks/whatsapp/default", &late, &[("x-hub-signature-256", signature(APP_SECRET, &late))]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(messages(&app).await[0]["status"], "delivered", "a late `sent` does not move it back");

    let unknown = status_update(&app, "wamid.sent-by-other-software", "failed");
    let (status, _) =
        herald.post(&app, "/webhooks/whatsapp/default", &unknown, &[("x-hub-signature-256", signature(APP_SECRET, &unknown))]).await;
    assert_eq!(status, StatusCode::OK, "acknowledged, so WhatsApp does not retry it");
    assert_eq!(messages(&app).await[0]["status"], "delivered");
}

async fn whatsapp_callbacks_with_a_bad_signature_are_refused_and_change_nothing(app: TestApp) {
    appointment_setup(&app, Some("it-IT")).await;
    let fake = FakeApi::start(accepted()).await;
    let herald = WhatsappHerald::start(&app, cloud(&fake, Some(APP_SECRET))).await;
    emit_appointment(&app).await;
    herald.dispatcher.run_due().await.unwrap();
    let before = messages(&app).await;

    let delivered = status_update(&app, WAMID, "delivered");
    let inbound = inbound_message(&app);
    for body in [&delivered, &inbound] {
        let path = "/webhooks/whatsapp/default";
        let (status, answer) = herald.post(&app, path, body, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert_eq!((answer["statusCode"].as_str(), answer["error"].as_str()), (Some("401"), Some("Unauthorized")), "{answer}");
        for wrong in [signature("another-secret", body), signature(APP_SECRET, &format!("{body} ")), "sha256=00".into(), "md5=abc".into()] {
            let (status, answer) = herald.post(&app, path, body, &[("x-hub-signature-256", wrong)]).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
            assert_eq!(answer["statusCode"], "403", "{answer}");
            assert!(answer["message"].as_str().unwrap().contains("X-Hub-Signature-256"), "{answer}");
        }
    }
    assert_eq!(messages(&app).await, before, "no status moved");
    assert_eq!(window_of(&app).await, None, "no window opened");

    let (status, answer) =
        herald.post(&app, "/webhooks/whatsapp/nowhere", &inbound, &[("x-hub-signature-256", signature(APP_SECRET, &inbound))]).await;
    assert_eq!((status, answer["message"].as_str()), (StatusCode::NOT_FOUND, Some("tenant not found")), "{answer}");
    let (status, answer) =
        herald.post(&app, "/webhooks/whatsapp/default", "{not json", &[("x-hub-signature-256", signature(APP_SECRET, "{not json"))]).await;
    assert_eq!((status, answer["statusCode"].as_str()), (StatusCode::BAD_REQUEST, Some("400")), "{answer}");

    let unsigned = WhatsappHerald::start(&app, cloud(&fake, None)).await;
    let (status, answer) =
        unsigned.post(&app, "/webhooks/whatsapp/default", &inbound, &[("x-hub-signature-256", signature(APP_SECRET, &inbound))]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "without an app secret no callback is taken: {answer}");
    let (status, _) = app.call(reqwest::Method::POST, "/webhooks/whatsapp/default", None, Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nor without the provider");
    assert_eq!(window_of(&app).await, None);
}

async fn whatsapp_verification_challenge_is_echoed_only_for_the_verify_token(app: TestApp) {
    let fake = FakeApi::start(accepted()).await;
    let herald = WhatsappHerald::start(&app, cloud(&fake, Some(APP_SECRET))).await;
    let verify = |tenant: &str, mode: &str, token: &str| {
        let url = format!("{}/webhooks/whatsapp/{tenant}", herald.base);
        let query = [("hub.mode", mode.to_string()), ("hub.challenge", "1158201444".to_string()), ("hub.verify_token", token.to_string())];
        app.client.get(url).query(&query).send()
    };
    let response = verify("default", "subscribe", VERIFY_TOKEN).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "1158201444");
    for (tenant, mode, token, expected) in [
        ("default", "subscribe", "wrong-token", StatusCode::FORBIDDEN),
        ("default", "subscribe", "", StatusCode::FORBIDDEN),
        ("default", "unsubscribe", VERIFY_TOKEN, StatusCode::FORBIDDEN),
        ("nowhere", "subscribe", VERIFY_TOKEN, StatusCode::NOT_FOUND),
    ] {
        let response = verify(tenant, mode, token).await.unwrap();
        assert_eq!(response.status(), expected, "{tenant} {mode} {token}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["statusCode"], expected.as_str(), "{body}");
        assert!(!body.to_string().contains("1158201444"), "the challenge is not echoed: {body}");
    }
    let (status, _) = app.call(reqwest::Method::GET, "/webhooks/whatsapp/default?hub.mode=subscribe&hub.verify_token=x", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not configured on the app without the provider");
}

async fn whatsapp_free_form_text_goes_out_only_inside_the_customer_service_window(app: TestApp) {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "patient-1", "name": "Ada", "phoneNumber": PHONE})).await;
    let template =
        app.create("templates", key, json!({"name": "results-ready", "smsMessage": "Your results are ready, {{data.clinic}}"})).await;
    let fake = FakeApi::start(accepted()).await;
    let herald = WhatsappHerald::start(&app, cloud(&fake, Some(APP_SECRET))).await;
    let send = json!({"channels": ["whatsapp"], "recipients": ["patient-1"], "templateId": template, "data": {"clinic": "San Luca"}});

    let (status, answer) = app.post("/send", key, send.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["failures"],
        json!([{"userId": "patient-1", "channel": "whatsapp", "error": MISSING_TEMPLATE}]),
        "outside the window"
    );
    assert_eq!(herald.dispatcher.run_due().await.unwrap(), 0);
    assert!(fake.received().is_empty());

    let inbound = inbound_message(&app);
    let (status, answer) =
        herald.post(&app, "/webhooks/whatsapp/default", &inbound, &[("x-hub-signature-256", signature(APP_SECRET, &inbound))]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(window_of(&app).await, Some(app.now()));

    app.clock.advance(SignedDuration::from_hours(23));
    let (status, answer) = app.post("/send", key, send.clone()).await;
    assert_eq!((status, &answer["failures"]), (StatusCode::OK, &json!([])), "{answer}");
    assert_eq!(herald.dispatcher.run_due().await.unwrap(), 1);
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "393331234567", "type": "text",
               "text": {"preview_url": false, "body": "Your results are ready, San Luca"}})
    );
    assert_eq!(messages(&app).await[0]["status"], "SUCCESS");
    let failed = webhook(json!({"statuses": [{"id": WAMID, "status": "failed", "timestamp": app.now().as_second().to_string(),
        "recipient_id": "393331234567", "errors": [{"code": 131047, "title": "Re-engagement message",
        "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}]}]}));
    let (status, _) =
        herald.post(&app, "/webhooks/whatsapp/default", &failed, &[("x-hub-signature-256", signature(APP_SECRET, &failed))]).await;
    assert_eq!(status, StatusCode::OK);
    let message = &messages(&app).await[0];
    assert_eq!(
        (message["status"].as_str(), message["error"].as_str()),
        (Some("FAILURE"), Some("WhatsApp error 131047: Re-engagement message")),
        "a failure WhatsApp reports later: {message}"
    );

    app.clock.advance(SignedDuration::from_mins(1));
    let (status, answer) = app.post("/send", key, send).await;
    assert_eq!((status, &answer["failures"]), (StatusCode::OK, &json!([])), "accepted inside the window");
    app.clock.advance(SignedDuration::from_hours(2));
    assert_eq!(herald.dispatcher.run_due().await.unwrap(), 1);
    let message = &messages(&app).await[0];
    assert_eq!(
        (message["status"].as_str(), message["error"].as_str()),
        (Some("FAILURE"), Some(MISSING_TEMPLATE)),
        "closed by delivery: {message}"
    );
    assert_eq!(fake.received().len(), 1, "nothing more went out");
}

async fn whatsapp_360dialog_sends_and_takes_callbacks_at_the_tenants_secret_url(app: TestApp) {
    appointment_setup(&app, None).await;
    let (status, profile) = app.patch("/api/v1/tenant", &app.admin_key, json!({"defaultLocale": "pt-BR"})).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    let fake = FakeApi::start(accepted()).await;
    let provider = ProviderConfig::Dialog360(Dialog360Config {
        base_url: fake.url.clone(),
        api_key: Secret::new("d360-key"),
        default_language: "en".into(),
        webhook_secret: Some(Secret::new(HOOK_SECRET)),
        timeout_seconds: 5,
    });
    let herald = WhatsappHerald::start(&app, provider).await;
    emit_appointment(&app).await;
    assert_eq!(herald.dispatcher.run_due().await.unwrap(), 1);
    let request = &fake.received()[0];
    assert_eq!((request.path.as_str(), request.header("d360-api-key")), ("/messages", Some("d360-key")));
    assert_eq!(
        request.json()["template"],
        json!({"name": "appointment_created", "language": {"code": "pt_BR"}, "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "dr-rossi"}]}]}),
        "a recipient without a locale gets the tenant's default"
    );
    let message = &messages(&app).await[0];
    assert_eq!((message["status"].as_str(), message["service"].as_str()), (Some("SUCCESS"), Some("360dialog")), "{message}");

    let token = herald_channels::whatsapp::tenant_token(&Secret::new(HOOK_SECRET), "default");
    app.new_tenant("clinic-b").await;
    let wrong = herald_channels::whatsapp::tenant_token(&Secret::new(HOOK_SECRET), "clinic-b");
    let delivered = status_update(&app, WAMID, "read");
    let inbound = inbound_message(&app);
    for body in [&delivered, &inbound] {
        for path in [format!("/webhooks/360dialog/default/{wrong}"), "/webhooks/360dialog/default/not-a-token".into()] {
            let (status, answer) = herald.post(&app, &path, body, &[]).await;
            assert_eq!((status, answer["statusCode"].as_str()), (StatusCode::FORBIDDEN, Some("403")), "{answer}");
        }
    }
    assert_eq!(messages(&app).await[0]["status"], "SUCCESS", "nothing changed");
    assert_eq!(window_of(&app).await, None);

    let path = format!("/webhooks/360dialog/default/{token}");
    for body in [&delivered, &inbound] {
        let (status, answer) = herald.post(&app, &path, body, &[]).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    assert_eq!(messages(&app).await[0]["status"], "read");
    assert_eq!(window_of(&app).await, Some(app.now()));
    assert_eq!(app.store.last_whatsapp_inbound("clinic-b", PHONE).await.unwrap(), None, "the window is the path's tenant's");
}
