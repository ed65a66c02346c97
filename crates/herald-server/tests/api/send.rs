//! `POST /send` (seed 03): messages queued for users or clusters, with a template or inline
//! content, now or later; the failures known at acceptance; bad requests queue nothing.

use crate::support::{TestApp, assert_error, cases};
use herald_core::job::JobKind;
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::json;

cases![
    sends_queue_messages_and_report_known_failures,
    scheduled_sends_wait_and_bad_sends_queue_nothing,
    idempotency_keys_repeat_the_first_answer
];

async fn directory(app: &TestApp) {
    for user in [
        json!({"id": "p-1", "emailAddress": "p1@example.org", "phoneNumber": "+390600000001", "clusters": ["north"]}),
        json!({"id": "p-2", "emailAddress": "p2@example.org", "clusters": ["north"]}),
        json!({"id": "p-3", "phoneNumber": "+390600000003", "clusters": ["south"]}),
    ] {
        app.create("users", &app.admin_key, user).await;
    }
}

async fn sends_queue_messages_and_report_known_failures(app: TestApp) {
    directory(&app).await;
    let template = app
        .create(
            "templates",
            &app.admin_key,
            json!({"name": "results", "emailTitle": "Results", "emailMessage": "Ready", "smsMessage": "Ready"}),
        )
        .await;
    let (status, answer) = app.post("/send", &app.admin_key, json!({"channels": ["email", "sms", "whatsapp"], "recipients": ["p-3", "ghost"], "clusters": ["north"], "templateId": template})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let failures: Vec<(String, String, String)> = answer["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["userId"].as_str().unwrap().into(), f["channel"].as_str().unwrap().into(), f["error"].as_str().unwrap().into()))
        .collect();
    let expect = |user: &str, channel: &str, error: &str| (user.to_string(), channel.to_string(), error.to_string());
    let whatsapp = "Error: Missing required template name for WhatsApp message";
    for failure in [
        expect("ghost", "email", "the recipient is not in the users directory"),
        expect("p-3", "email", "the recipient has no email address"),
        expect("p-3", "whatsapp", whatsapp),
        expect("p-1", "whatsapp", whatsapp),
        expect("p-2", "sms", "the recipient has no phone number"),
    ] {
        assert!(failures.contains(&failure), "{failure:?} missing from {failures:?}");
    }
    let (_, sent) = app.get("/notifications/?_s=recipient", &app.admin_key).await;
    let recipients: Vec<&str> = sent.as_array().unwrap().iter().map(|n| n["recipient"].as_str().unwrap()).collect();
    assert_eq!(recipients, ["p-1", "p-2", "p-3"], "the listed user and the cluster's users");
    assert_eq!(app.store.list_jobs("default", JobKind::Delivery).await.unwrap().len(), 4, "p-1 email+sms, p-2 email, p-3 sms");

    let (status, answer) = app
        .post(
            "/send",
            &app.admin_key,
            json!({"channels": ["sms"], "recipients": ["p-1"], "messageTitle": "Hello", "messageContent": "Hi {{user.id}}"}),
        )
        .await;
    assert_eq!((status, answer), (StatusCode::OK, json!({"failures": []})));
    let (_, mine) = app.get("/notifications/?recipient=p-1", &app.admin_key).await;
    let inline = mine.as_array().unwrap().iter().find(|n| n["messages"][0]["templateName"] == "inline").expect("the inline send");
    assert_eq!(inline["messages"][0]["content"], json!({"title": "Hello", "body": "Hi {{user.id}}"}));
    let (viewer, _) = app.key("default", herald_core::access::Role::Viewer).await;
    assert_error(
        &app.post("/send", &viewer, json!({"channels": ["sms"], "recipients": ["p-1"], "messageTitle": "a", "messageContent": "b"})).await,
        StatusCode::FORBIDDEN,
        "notifications.send",
    );
}

async fn scheduled_sends_wait_and_bad_sends_queue_nothing(app: TestApp) {
    directory(&app).await;
    let later: Timestamp = app.now().checked_add(SignedDuration::from_hours(3)).unwrap();
    let (status, _) = app
        .post("/send", &app.admin_key, json!({"channels": ["email"], "recipients": ["p-1"], "messageTitle": "Later", "messageContent": "x", "scheduledAt": herald_core::document::format_timestamp(later)}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.store.list_jobs("default", JobKind::Delivery).await.unwrap()[0].due_at, later, "delivery waits for scheduledAt");
    let base = || json!({"channels": ["email"], "recipients": ["p-1"], "messageTitle": "t", "messageContent": "c"});
    let with = |key: &str, value: serde_json::Value| {
        let mut body = base();
        body[key] = value;
        body
    };
    let cases = [
        (with("channels", json!(["webhook"])), "channels[0]"),
        (with("priority", json!("critical")), "priority"),
        (with("recipients", json!([])), "recipients"),
        (with("templateId", json!("000000000000000000000000")), "templateId"),
        (json!({"channels": ["email"], "recipients": ["p-1"]}), "templateId"),
        (with("messageTitle", json!("a\r\nBcc: x@example.org")), "messageTitle"),
        (with("emailCarbonCopies", json!(["x@example.org\r\nBcc: y@example.org"])), "emailCarbonCopies[0]"),
        (with("emailAttachments", json!(["report.pdf"])), "emailAttachments[0]"),
        (with("scheduledAt", json!("tomorrow")), "scheduledAt"),
    ];
    for (body, field) in cases {
        assert_error(&app.post("/send", &app.admin_key, body.clone()).await, StatusCode::BAD_REQUEST, field);
    }
    assert_error(
        &app.post("/send", &app.admin_key, json!({"channels": ["email"], "recipients": ["p-1"], "templateId": "nope"})).await,
        StatusCode::BAD_REQUEST,
        "templateId",
    );
    assert_eq!(app.store.list_jobs("default", JobKind::Delivery).await.unwrap().len(), 1, "refused sends queue nothing");
}

async fn idempotency_keys_repeat_the_first_answer(app: TestApp) {
    directory(&app).await;
    let post = |path: &'static str, key: &'static str, body: serde_json::Value| {
        app.client.post(format!("{}{path}", app.base)).bearer_auth(&app.admin_key).header("idempotency-key", key).json(&body).send()
    };
    let send = json!({"channels": ["email"], "recipients": ["p-1"], "messageTitle": "t", "messageContent": "c"});
    let first = post("/send", "send-1", send.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let reordered = json!({"messageContent": "c", "messageTitle": "t", "recipients": ["p-1"], "channels": ["email"]});
    let again = post("/send", "send-1", reordered).await.unwrap();
    assert_eq!((again.status(), again.headers()["idempotent-replayed"].to_str().unwrap()), (StatusCode::OK, "true"));
    assert_eq!(app.store.list_jobs("default", JobKind::Delivery).await.unwrap().len(), 1, "the repeat did nothing");
    let different =
        post("/send", "send-1", json!({"channels": ["email"], "recipients": ["p-2"], "messageTitle": "t", "messageContent": "c"}))
            .await
            .unwrap();
    assert_eq!(different.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let event = json!({"name": "AM/AppointmentCreated/v1", "payload": {"startDate": "2030-01-01T09:00:00Z", "participantIds": ["p-1"]}});
    let (first, again) = (
        post("/notification-events/", "evt-1", event.clone()).await.unwrap(),
        post("/notification-events/", "evt-1", event.clone()).await.unwrap(),
    );
    assert_eq!(first.status(), StatusCode::OK);
    let (first, again): (serde_json::Value, serde_json::Value) = (first.json().await.unwrap(), again.json().await.unwrap());
    assert_eq!(first, again, "the same event answer, one event processed");
    assert_eq!(app.count("events", &app.admin_key).await, 2, "the send and one appointment");

    let refused = post("/send", "bad-1", json!({"channels": []})).await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let replayed = post("/send", "bad-1", json!({"channels": []})).await.unwrap();
    assert_eq!((replayed.status(), replayed.headers().contains_key("idempotent-replayed")), (StatusCode::BAD_REQUEST, true));

    app.clock.advance(SignedDuration::from_hours(25));
    let later = post("/send", "send-1", json!({"channels": ["email"], "recipients": ["p-2"], "messageTitle": "t", "messageContent": "c"}))
        .await
        .unwrap();
    assert_eq!(later.status(), StatusCode::OK, "after 24 hours the key is free again");
    let bad_key = app
        .client
        .post(format!("{}/send", app.base))
        .bearer_auth(&app.admin_key)
        .header("idempotency-key", "has space")
        .json(&send)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), StatusCode::BAD_REQUEST);
}
