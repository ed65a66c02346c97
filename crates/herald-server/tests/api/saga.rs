//! `POST /saga/send` (seed 03): a Flow Manager command whose payload is a `POST /send` body
//! queues what `/send` queues and answers 200 with an empty body; refused commands answer in
//! the seeds' error shape and queue nothing. (The events sent back to the saga are tested over
//! a real broker in `tests/amqp.rs`.)

use crate::support::{TestApp, assert_error, cases};
use herald_core::job::JobKind;
use reqwest::StatusCode;
use serde_json::{Value, json};

cases![a_saga_send_queues_what_send_queues, refused_saga_commands_queue_nothing];

async fn directory(app: &TestApp) {
    for user in [
        json!({"id": "p-1", "emailAddress": "p1@example.org", "phoneNumber": "+390600000001", "clusters": ["north"]}),
        json!({"id": "p-2", "emailAddress": "p2@example.org", "clusters": ["north"]}),
    ] {
        app.create("users", &app.admin_key, user).await;
    }
}

fn command(payload: Value) -> Value {
    json!({"key": "SAGA_123456", "value": {"messageLabel": "sendNotification", "messagePayload": payload}})
}

async fn delivery_jobs(app: &TestApp) -> usize {
    app.store.list_jobs("default", JobKind::Delivery).await.unwrap().len()
}

/// The recipient and channels of each notification, in recipient order.
async fn sent(app: &TestApp) -> Vec<(String, Vec<String>)> {
    let (_, list) = app.get("/notifications/?_s=recipient", &app.admin_key).await;
    let list = list.as_array().unwrap().iter();
    list.map(|n| {
        let channels = n["messages"].as_array().unwrap().iter().map(|m| m["channel"].as_str().unwrap().to_string()).collect();
        (n["recipient"].as_str().unwrap().to_string(), channels)
    })
    .collect()
}

async fn a_saga_send_queues_what_send_queues(app: TestApp) {
    directory(&app).await;
    let send = json!({"channels": ["email", "sms"], "clusters": ["north"], "messageTitle": "Results", "messageContent": "Ready"});
    let (status, _) = app.post("/send", &app.admin_key, send.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let by_send = (sent(&app).await, delivery_jobs(&app).await);
    assert_eq!(by_send.1, 3, "p-1 email+sms, p-2 email");

    let response =
        app.client.post(format!("{}/saga/send", app.base)).bearer_auth(&app.admin_key).json(&command(send)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "", "the answer has an empty body");
    let mut notifications = sent(&app).await;
    let mut expected = [by_send.0.clone(), by_send.0].concat();
    notifications.sort();
    expected.sort();
    assert_eq!(notifications, expected, "the same recipients and channels again");
    assert_eq!(delivery_jobs(&app).await, 2 * by_send.1, "the same delivery jobs again");

    let (integration, _) = app.key("default", herald_core::access::Role::Integration).await;
    let (status, body) = app
        .post(
            "/saga/send",
            &integration,
            command(json!({"channels": ["sms"], "recipients": ["p-1"], "messageTitle": "a", "messageContent": "b"})),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null), "integrations may send, as on /send");
    let (viewer, _) = app.key("default", herald_core::access::Role::Viewer).await;
    let refused = app
        .post(
            "/saga/send",
            &viewer,
            command(json!({"channels": ["sms"], "recipients": ["p-1"], "messageTitle": "a", "messageContent": "b"})),
        )
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "notifications.send");
    assert_eq!(delivery_jobs(&app).await, 2 * by_send.1 + 1);
}

async fn refused_saga_commands_queue_nothing(app: TestApp) {
    directory(&app).await;
    let valid = json!({"channels": ["email"], "recipients": ["p-1"], "messageTitle": "t", "messageContent": "c"});
    let cases = [
        (json!({"key": "SAGA_1", "value": {"messageLabel": "sendNotification"}}), "value.messagePayload"),
        (json!({"key": "SAGA_1", "value": {"messageLabel": "sendNotification", "messagePayload": null}}), "value.messagePayload"),
        (json!({"key": "SAGA_1", "value": {"messagePayload": valid}}), "value.messageLabel"),
        (json!({"value": {"messageLabel": "sendNotification", "messagePayload": valid}}), "key"),
        (json!({"key": "SAGA_1"}), "value"),
        (valid.clone(), "channels"),
        (command(json!({"channels": ["webhook"], "recipients": ["p-1"], "templateId": "t"})), "value.messagePayload.channels[0]"),
        (command(json!({"channels": ["email"], "messageTitle": "t", "messageContent": "c"})), "value.messagePayload.recipients"),
        (command(json!({"channels": ["email"], "recipients": ["p-1"], "templateId": "nope"})), "value.messagePayload.templateId"),
        (command(json!("not a send body")), "value.messagePayload"),
    ];
    for (body, field) in cases {
        assert_error(&app.post("/saga/send", &app.admin_key, body).await, StatusCode::BAD_REQUEST, field);
    }
    let malformed = app.client.post(format!("{}/saga/send", app.base)).bearer_auth(&app.admin_key).body("{\"key\":").send().await.unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(malformed.json::<Value>().await.unwrap()["statusCode"], "400");
    assert_eq!(delivery_jobs(&app).await, 0, "refused commands queue nothing");
    assert_eq!(app.count("notifications", &app.admin_key).await, 0);
}
