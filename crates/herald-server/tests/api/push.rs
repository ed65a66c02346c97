//! Push end to end: an event reaches every device of the recipient — Android devices through a
//! local FCM fake (token exchange and send), a browser through a local push service — the
//! message ends `SUCCESS`, and a token FCM reports unregistered is removed from the user.

use crate::support::{TestApp, cases};
use herald_channels::{FcmConfig, PushConfig, PushProvider, WebPushConfig};
use herald_core::resources::channel::Channel;
use herald_core::secrets::Secret;
use herald_engine::delivery::DeliveryConfig;
use herald_testkit::fcm::{FcmFake, unregistered};
use herald_testkit::recorder::{Answer, Recorder};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

cases![an_event_reaches_every_device_and_unregistered_tokens_are_forgotten, a_user_whose_only_device_is_gone_fails_over_to_sms];

const CREATED: &str = "AM/AppointmentCreated/v1";
/// A browser's subscription keys (RFC 8291's example user agent).
const P256DH: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

fn provider(fcm: &FcmFake, push_service: Option<&Recorder>) -> Arc<PushProvider> {
    let config = PushConfig {
        fcm: Some(FcmConfig {
            service_account: Some(Secret::new(fcm.service_account("clinic-app"))),
            service_account_file: None,
            project_id: None,
            token_url: None,
            send_url: fcm.url.clone(),
            timeout_seconds: 5,
        }),
        apns: None,
        web_push: push_service.map(|_| WebPushConfig {
            vapid_private_key: Secret::new("IQ9Ur0ykXoHS9gzfYX0aBjy9lvdrjx_PFUXmie9YRcY"),
            subject: "mailto:ops@sanluca.example".into(),
            ttl_seconds: 3600,
            timeout_seconds: 5,
        }),
    };
    Arc::new(PushProvider::new(&config).unwrap())
}

/// Settings sending `CREATED` to patients on `channels`, and the push template.
async fn setup(app: &TestApp, channels: Value) {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "dr-rossi", "groups": ["doctors"]})).await;
    app.create("templates", key, json!({"name": "appointment", "pushTitle": "Appointment booked", "pushMessage": "See you on {{data.startDate}}", "smsMessage": "Appointment booked"}))
        .await;
    app.create(
        "notification-settings",
        key,
        json!({"eventName": CREATED, "group": "patients", "channels": channels, "templateName": "appointment", "fallbackChannels": ["sms"]}),
    )
    .await;
}

async fn appointment(app: &TestApp) {
    let start = herald_core::document::format_timestamp(app.now().checked_add(SignedDuration::from_hours(72)).unwrap());
    let (status, answer) = app
        .emit(json!({"name": CREATED, "key": "apt-1", "payload": {"startDate": start, "endDate": start, "resourceId": "dr-rossi", "participantIds": ["patient-1"]}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn notification(app: &TestApp) -> Value {
    let (status, list) = app.get("/notifications?recipient=patient-1", &app.admin_key).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let (status, notification) = app.get(&format!("/notifications/{}", list[0]["_id"].as_str().unwrap()), &app.admin_key).await;
    assert_eq!(status, StatusCode::OK, "{notification}");
    notification
}

async fn user(app: &TestApp) -> Value {
    let (status, users) = app.get("/users/?id=patient-1", &app.admin_key).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    users[0].clone()
}

async fn an_event_reaches_every_device_and_unregistered_tokens_are_forgotten(app: TestApp) {
    let fcm = FcmFake::start().await;
    let push_service = Recorder::start(Answer::new(201, &[("location", "https://push.example.net/m/1")], "")).await;
    let subscription =
        json!({"endpoint": format!("{}/push/browser-1", push_service.url), "keys": {"p256dh": P256DH, "auth": AUTH}}).to_string();
    setup(&app, json!(["push"])).await;
    let devices = json!([{"platform": "android", "token": "android-ok"}, {"platform": "web", "token": subscription}, {"platform": "android", "token": "android-gone"}]);
    app.create(
        "users",
        &app.admin_key,
        json!({"id": "patient-1", "groups": ["patients"], "deviceToken": "android-gone", "deviceTokens": devices}),
    )
    .await;
    fcm.answer("android-gone", unregistered(), None);
    let dispatcher = app.dispatcher_with(vec![(Channel::Push, provider(&fcm, Some(&push_service)))], DeliveryConfig::default());
    appointment(&app).await;
    assert_eq!(dispatcher.run_due().await.unwrap(), 1);

    let message = &notification(&app).await["messages"][0];
    assert_eq!((message["channel"].as_str(), message["status"].as_str()), (Some("push"), Some("SUCCESS")), "{message}");
    assert_eq!(message["service"], "push");
    let history: Vec<&str> = message["history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(history, ["queued", "sending", "SUCCESS"]);
    let outcomes: Value = serde_json::from_str(message["attempts"][0]["response"].as_str().unwrap()).unwrap();
    let statuses: Vec<(&str, u64)> =
        outcomes.as_array().unwrap().iter().map(|o| (o["platform"].as_str().unwrap(), o["status"].as_u64().unwrap())).collect();
    assert_eq!(statuses, [("android", 200), ("web", 201), ("android", 404)], "{outcomes}");

    let sends = fcm.sends();
    let mut tokens: Vec<&str> = sends.iter().map(|s| s.body["message"]["token"].as_str().unwrap()).collect();
    tokens.sort_unstable();
    assert_eq!(tokens, ["android-gone", "android-ok"], "the legacy token is the listed one, sent once");
    assert!(sends.iter().all(|s| s.path == "/v1/projects/clinic-app/messages:send"));
    assert_eq!(sends[0].body["message"]["notification"]["title"], "Appointment booked");
    assert_eq!(fcm.exchanges().len(), 1, "one access token for both devices");
    let pushed = push_service.received();
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0].path, "/push/browser-1");
    assert_eq!(pushed[0].headers["content-encoding"], "aes128gcm");

    let user = user(&app).await;
    assert_eq!(user["deviceTokens"], json!([{"platform": "android", "token": "android-ok"}, {"platform": "web", "token": subscription}]));
    assert!(user.get("deviceToken").is_none(), "the legacy token was the unregistered one: {user}");
    assert_eq!(user["updaterId"], "herald");
}

async fn a_user_whose_only_device_is_gone_fails_over_to_sms(app: TestApp) {
    let fcm = FcmFake::start().await;
    setup(&app, json!(["push"])).await;
    app.create(
        "users",
        &app.admin_key,
        json!({"id": "patient-1", "groups": ["patients"], "phoneNumber": "+393331234567", "deviceTokens": [{"platform": "android", "token": "android-gone"}]}),
    )
    .await;
    fcm.answer("android-gone", unregistered(), None);
    let sms = Arc::new(herald_channels::ConsoleProvider::default());
    let dispatcher = app.dispatcher_with(vec![(Channel::Push, provider(&fcm, None)), (Channel::Sms, sms)], DeliveryConfig::default());
    appointment(&app).await;
    assert_eq!(dispatcher.run_due().await.unwrap(), 2, "the push, then its stand-in");

    let notification = notification(&app).await;
    let push = &notification["messages"][0];
    assert_eq!(push["status"], "FAILURE", "{notification}");
    assert_eq!(push["error"], "FCM answered 404 UNREGISTERED");
    assert_eq!(push["service"], "fcm");
    let stand_in = &notification["messages"][1];
    assert_eq!((stand_in["channel"].as_str(), stand_in["status"].as_str()), (Some("sms"), Some("SUCCESS")), "{notification}");
    assert!(user(&app).await.get("deviceTokens").is_none(), "the gone device is removed");
}
