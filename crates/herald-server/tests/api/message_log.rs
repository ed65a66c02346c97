//! The message log: every message of every path with its status, provider and provider id,
//! filtered and paged; addresses masked for roles without `admin`; provider reports move
//! messages forward in the notification and the log alike.

use crate::support::{TestApp, assert_error, cases};
use herald_channels::{ConsoleProvider, Provider};
use herald_core::access::Role;
use herald_core::notification::MessageStatus;
use herald_core::resources::channel::Channel;
use herald_engine::delivery::DeliveryConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

cases![
    the_message_log_answers_its_filters_and_masks_contacts,
    provider_reports_move_messages_forward,
    tenants_report_deliveries_of_services_without_webhooks
];

const CREATED: &str = "AM/AppointmentCreated/v1";

/// Two patients, one without a phone, notified by email and SMS of an appointment; every
/// message goes out through the console provider.
async fn notify(app: &TestApp) {
    let key = &app.admin_key;
    app.create(
        "users",
        key,
        json!({"id": "p1", "emailAddress": "ada.rossi@example.org", "phoneNumber": "+390612345678", "groups": ["patients"]}),
    )
    .await;
    app.create("users", key, json!({"id": "p2", "emailAddress": "bruno@example.org", "groups": ["patients"]})).await;
    app.create("templates", key, json!({"name": "booked", "emailTitle": "Booked", "emailMessage": "See you", "smsMessage": "See you"}))
        .await;
    app.create(
        "notification-settings",
        key,
        json!({"eventName": CREATED, "group": "patients", "channels": ["email", "sms"], "templateName": "booked"}),
    )
    .await;
    let start = herald_core::document::format_timestamp(app.now().checked_add(jiff::SignedDuration::from_hours(48)).unwrap());
    let (status, answer) = app
        .emit(json!({"name": CREATED, "key": "apt-1", "payload": {"startDate": start, "endDate": start, "resourceId": "dr", "participantIds": ["p1", "p2"]}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let console: Arc<dyn Provider> = Arc::new(ConsoleProvider::default());
    let dispatcher = app.dispatcher_with(vec![(Channel::Email, console.clone()), (Channel::Sms, console)], DeliveryConfig::default());
    assert_eq!(dispatcher.run_due().await.unwrap(), 3, "two emails and one SMS; p2's SMS is skipped");
}

fn items(page: &Value) -> Vec<&Value> {
    page["items"].as_array().unwrap_or_else(|| panic!("no items: {page}")).iter().collect()
}

async fn the_message_log_answers_its_filters_and_masks_contacts(app: TestApp) {
    notify(&app).await;
    let key = &app.admin_key;
    let (status, page) = app.get("/api/v1/notifications/logs", key).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!((page["total"].as_u64(), page["page"].as_u64(), page["page_size"].as_u64()), (Some(4), Some(1), Some(20)));
    let email = items(&page).into_iter().find(|e| e["patient_id"] == "p1" && e["channel"] == "email").unwrap().clone();
    assert_eq!(email["status"], "sent");
    assert_eq!(email["recipient"], "ada.rossi@example.org", "admins see contacts");
    assert_eq!(
        (email["template_key"].as_str(), email["subject"].as_str(), email["provider"].as_str()),
        (Some("booked"), Some("Booked"), Some("console"))
    );
    assert_eq!(email["triggered_by_event"], CREATED);
    assert!(email["provider_message_id"].as_str().unwrap().starts_with("console-"));
    assert_eq!(email["sent_at"], herald_core::document::format_timestamp(app.now()));

    let (_, skipped) = app.get("/api/v1/notifications/logs?status=skipped", key).await;
    let skipped = items(&skipped);
    assert_eq!(skipped.len(), 1);
    assert_eq!((skipped[0]["patient_id"].as_str(), skipped[0]["channel"].as_str()), (Some("p2"), Some("sms")));
    assert!(skipped[0]["reason"].as_str().is_some(), "{}", skipped[0]);
    let (_, p1_sms) = app.get("/api/v1/notifications/logs?patient_id=p1&channel=sms", key).await;
    assert_eq!(items(&p1_sms).len(), 1);
    let (_, none) = app
        .get(
            &format!(
                "/api/v1/notifications/logs?from={}",
                herald_core::document::format_timestamp(app.now().checked_add(jiff::SignedDuration::from_secs(1)).unwrap())
            ),
            key,
        )
        .await;
    assert_eq!(none["total"], 0);
    let (_, second) = app.get("/api/v1/notifications/logs?page=2&page_size=3", key).await;
    assert_eq!((items(&second).len(), second["total"].as_u64()), (1, Some(4)));

    let (manager, _) = app.key("default", Role::Manager).await;
    let (status, masked) = app.get("/api/v1/notifications/logs?patient_id=p1", &manager).await;
    assert_eq!(status, StatusCode::OK);
    let text = masked.to_string();
    assert!(text.contains("a***@example.org") && text.contains("+********5678"), "{text}");
    assert!(!text.contains("ada.rossi@") && !text.contains("12345678"), "{text}");
    let (integration, _) = app.key("default", Role::Integration).await;
    assert_eq!(app.get("/api/v1/notifications/logs", &integration).await.0, StatusCode::FORBIDDEN, "notifications.logs.read is required");
    for bad in ["status=lost", "channel=fax", "from=yesterday", "page=0", "colour=red"] {
        assert_eq!(app.get(&format!("/api/v1/notifications/logs?{bad}"), key).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
    let other = app.new_tenant("clinic-b").await;
    assert_eq!(app.get("/api/v1/notifications/logs", &other).await.1["total"], 0, "tenants see their own log only");
}

async fn provider_reports_move_messages_forward(app: TestApp) {
    notify(&app).await;
    let key = &app.admin_key;
    let (_, page) = app.get("/api/v1/notifications/logs?patient_id=p1&channel=email", key).await;
    let email = items(&page)[0].clone();
    let provider_id = email["provider_message_id"].as_str().unwrap();
    let report = |status| herald_engine::callbacks::apply(&app.store, "console", provider_id, status, None, app.now());
    let applied = report(MessageStatus::Delivered).await.unwrap().expect("the message is found");
    assert!(applied.applied);
    assert!(!report(MessageStatus::Delivered).await.unwrap().unwrap().applied, "a repeat changes nothing");
    let (_, notification) = app.get(&format!("/notifications/{}", email["notification_id"].as_str().unwrap()), key).await;
    let message = &notification["messages"][applied.message_index];
    assert_eq!(message["status"], "delivered", "{notification}");
    let history: Vec<&str> = message["history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(history, ["queued", "sending", "SUCCESS", "delivered"]);
    let (_, delivered) = app.get("/api/v1/notifications/logs?status=delivered", key).await;
    assert_eq!(items(&delivered).len(), 1);
    assert!(
        herald_engine::callbacks::apply(&app.store, "console", "nobody", MessageStatus::Read, None, app.now()).await.unwrap().is_none()
    );
}

async fn tenants_report_deliveries_of_services_without_webhooks(app: TestApp) {
    notify(&app).await;
    let (_, page) = app.get("/api/v1/notifications/logs?patient_id=p1", &app.admin_key).await;
    let ids: Vec<String> = items(&page).iter().map(|e| e["provider_message_id"].as_str().unwrap().to_string()).collect();
    let (integration, _) = app.key("default", Role::Integration).await;
    let report = |id: &str, status: &str| json!({"service": "console", "providerMessageId": id, "status": status});

    let other = app.new_tenant("clinic-b").await;
    let (status, answer) = app.post("/api/v1/delivery-reports", &other, report(&ids[0], "delivered")).await;
    assert_eq!(
        (status, &answer["results"][0]["outcome"]),
        (StatusCode::OK, &json!("unknown")),
        "another tenant's messages are out of reach"
    );
    let (viewer, _) = app.key("default", Role::Viewer).await;
    assert_error(&app.post("/api/v1/delivery-reports", &viewer, report(&ids[0], "delivered")).await, StatusCode::FORBIDDEN, "");
    let half_bad = json!([report(&ids[0], "delivered"), report(&ids[1], "lost")]);
    assert_error(&app.post("/api/v1/delivery-reports", &integration, half_bad).await, StatusCode::BAD_REQUEST, "[1].status");
    assert_eq!(app.get("/api/v1/notifications/logs?status=delivered", &app.admin_key).await.1["total"], 0, "a bad list applies nothing");

    let batch = json!([report(&ids[0], "delivered"), report(&ids[1], "read"), report("nobody", "delivered")]);
    let (status, answer) = app.post("/api/v1/delivery-reports", &integration, batch).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let outcomes: Vec<&str> = answer["results"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["applied", "applied", "unknown"]);
    let (_, again) = app.post("/api/v1/delivery-reports", &integration, report(&ids[0], "delivered")).await;
    assert_eq!(again["results"][0]["outcome"], "unchanged", "a repeat changes nothing");
    let (_, delivered) = app.get("/api/v1/notifications/logs?status=delivered", &app.admin_key).await;
    let (_, read) = app.get("/api/v1/notifications/logs?status=read", &app.admin_key).await;
    assert_eq!((delivered["total"].as_u64(), read["total"].as_u64()), (Some(1), Some(1)));
}
