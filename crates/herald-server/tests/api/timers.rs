//! The timer service: timers call an allowed host (or publish) when they expire, once, and
//! never when aborted; failures are retried, then reported.

use crate::support::{TestApp, assert_error, cases};
use herald_testkit::webhook::{ReceivedHook, WebhookSink};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{Value, json};

cases![
    an_expired_timer_calls_its_endpoint_once,
    an_aborted_timer_never_fires,
    failing_endpoints_are_retried_then_reported,
    timers_only_reach_allowed_hosts_and_refuse_bad_requests,
];

/// A local endpoint answering `statuses` in turn (200 once they run out).
async fn receiver(statuses: Vec<u16>) -> WebhookSink {
    WebhookSink::start(statuses, None).await
}

/// What the endpoint received: path, JSON body and the `x-order` header.
fn received(endpoint: &WebhookSink) -> Vec<(String, Value, Option<String>)> {
    let header = |hook: &ReceivedHook| hook.headers.get("x-order").and_then(|v| v.to_str().ok()).map(str::to_string);
    endpoint
        .received()
        .iter()
        .map(|hook| (hook.path.clone(), serde_json::from_str(&hook.body).unwrap_or(Value::Null), header(hook)))
        .collect()
}

fn timer(app: &TestApp, port: u16, minutes: u64) -> Value {
    json!({"payload": {"orderId": "o-1"}, "startDate": herald_core::document::format_timestamp(app.now()), "expirationIntervalMs": minutes * 60_000,
        "applicantService": "orders", "outputMode": {"type": "rest", "method": "post", "protocol": "http", "hostname": "127.0.0.1", "port": port,
        "path": "/order-expired", "headers": {"x-order": "o-1"}}})
}

async fn schedule(app: &TestApp, body: Value) -> String {
    let (status, answer) = app.post("/schedule", &app.admin_key, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["expirationId"].as_str().unwrap().to_string()
}

async fn status_of(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/expirations/{id}"), &app.admin_key).await.1["expirationStatus"].clone()
}

async fn an_expired_timer_calls_its_endpoint_once(app: TestApp) {
    let endpoint = receiver(vec![]).await;
    let id = schedule(&app, timer(&app, endpoint.port, 10)).await;
    assert_eq!(status_of(&app, &id).await, json!({"id": 0, "description": "pending"}));
    assert_eq!(app.advance_and_run(SignedDuration::from_mins(9)).await, 0);
    assert_eq!(app.advance_and_run(SignedDuration::from_mins(1)).await, 1, "it expires at startDate + expirationIntervalMs");
    assert_eq!(app.advance_and_run(SignedDuration::from_mins(10)).await, 0, "once");
    let received = received(&endpoint);
    assert_eq!(received, [("/order-expired".to_string(), json!({"orderId": "o-1"}), Some("o-1".to_string()))]);
    assert_eq!(status_of(&app, &id).await, json!({"id": 1, "description": "expired"}));
}

async fn an_aborted_timer_never_fires(app: TestApp) {
    let endpoint = receiver(vec![]).await;
    let id = schedule(&app, timer(&app, endpoint.port, 10)).await;
    let (status, _) = app.post("/abort", &app.admin_key, json!({"expirationId": id})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.advance_and_run(SignedDuration::from_mins(30)).await, 0);
    assert!(endpoint.received().is_empty());
    assert_eq!(status_of(&app, &id).await, json!({"id": 2, "description": "aborted"}));
    assert_error(&app.post("/abort", &app.admin_key, json!({"expirationId": id})).await, StatusCode::CONFLICT, "expirationStatus");
    assert_error(
        &app.post("/abort", &app.admin_key, json!({"expirationId": "000000000000000000000000"})).await,
        StatusCode::NOT_FOUND,
        "timer",
    );
    let other = app.new_tenant("elsewhere").await;
    assert_error(&app.get(&format!("/expirations/{id}"), &other).await, StatusCode::NOT_FOUND, "timer");
}

async fn failing_endpoints_are_retried_then_reported(app: TestApp) {
    let flaky = receiver(vec![503]).await;
    let id = schedule(&app, timer(&app, flaky.port, 1)).await;
    assert_eq!(app.advance_and_run(SignedDuration::from_mins(1)).await, 1);
    assert_eq!(status_of(&app, &id).await["id"], 0, "a 503 is retried later");
    assert_eq!(app.advance_and_run(SignedDuration::from_secs(9)).await, 0, "it waits its back-off (10 s after the first attempt)");
    assert_eq!(app.advance_and_run(SignedDuration::from_secs(1)).await, 1);
    assert_eq!(status_of(&app, &id).await["id"], 1, "and expires when the endpoint answers");
    assert_eq!(flaky.received().len(), 2);

    let refusing = receiver(vec![400]).await;
    let id = schedule(&app, timer(&app, refusing.port, 1)).await;
    app.advance_and_run(SignedDuration::from_mins(1)).await;
    assert_eq!(status_of(&app, &id).await["id"], 3, "a 400 is an error at once");

    let mut amqp = timer(&app, flaky.port, 1);
    amqp["outputMode"] = json!({"type": "amqp", "exchange": "orders", "routingKey": "order.expired"});
    let id = schedule(&app, amqp).await;
    app.advance_and_run(SignedDuration::from_mins(1)).await;
    assert_eq!(status_of(&app, &id).await["id"], 3, "AMQP output needs a broker configured");
}

async fn timers_only_reach_allowed_hosts_and_refuse_bad_requests(app: TestApp) {
    let endpoint = receiver(vec![]).await;
    let mut internal = timer(&app, endpoint.port, 1);
    internal["outputMode"]["hostname"] = json!("169.254.169.254");
    assert_error(&app.post("/schedule", &app.admin_key, internal).await, StatusCode::BAD_REQUEST, "outputMode.hostname");
    let mut bad = timer(&app, endpoint.port, 1);
    bad["startDate"] = json!("soon");
    assert_error(&app.post("/schedule", &app.admin_key, bad).await, StatusCode::BAD_REQUEST, "startDate");
    let mut kafka = timer(&app, endpoint.port, 1);
    kafka["outputMode"] = json!({"type": "kafka", "topics": ["t"]});
    assert_error(&app.post("/schedule", &app.admin_key, kafka).await, StatusCode::BAD_REQUEST, "outputMode");
    assert!(app.store.list_jobs("default", herald_core::job::JobKind::Timer).await.unwrap().is_empty(), "nothing was scheduled");
    let (viewer, _) = app.key("default", herald_core::access::Role::Viewer).await;
    assert_error(&app.post("/schedule", &viewer, timer(&app, endpoint.port, 1)).await, StatusCode::FORBIDDEN, "events.emit");
}
