//! Health, readiness, metrics, request ids and the OpenAPI document.

use crate::support::{TestApp, cases};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

cases![health_and_readiness, openapi_is_valid_and_lists_every_route, metrics_count_requests_by_route, request_ids_are_returned];

async fn health_and_readiness(app: TestApp) {
    assert_eq!(app.call(reqwest::Method::GET, "/healthz", None, None).await, (StatusCode::OK, json!({"status": "ok"})));
    let (status, ready) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!((status, ready["checks"]["database"].clone()), (StatusCode::OK, json!("ok")));
}

async fn openapi_is_valid_and_lists_every_route(app: TestApp) {
    let (status, document) = app.call(reqwest::Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let schema: Value = serde_json::from_str(include_str!("../fixtures/openapi-3.1-schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the OpenAPI 3.1 schema compiles");
    let errors: Vec<String> = validator.iter_errors(&document).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "not a valid OpenAPI 3.1 document: {errors:#?}");
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));

    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let mut expected: BTreeSet<String> = [
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /openapi.json",
        "POST /users/bulk",
        "POST /notification-events",
        "GET /user-notification-settings",
        "PATCH /user-notification-settings/{id}",
        "DELETE /user-notification-settings/{id}",
        "GET /user/events",
        "PATCH /user/notification-settings",
        "POST /templates/{id}/preview",
        "POST /schedule",
        "POST /send",
        "POST /saga/send",
        "POST /abort",
        "GET /expirations/{id}",
        "GET /files",
        "POST /files",
        "GET /files/{id}",
        "DELETE /files/{id}",
        "GET /files/{id}/download",
        "GET /webhooks/whatsapp/{tenant}",
        "POST /webhooks/whatsapp/{tenant}",
        "POST /webhooks/360dialog/{tenant}/{token}",
        "POST /webhooks/ses/{tenant}",
        "POST /webhooks/twilio/{tenant}/inbound",
        "POST /webhooks/twilio/{tenant}/status",
        "GET /patient-notifications/preferences",
        "PUT /patient-notifications/preferences",
        "PUT /patient-notifications/preferences/{type}",
        "GET /api/v1/notifications/preferences/{patient_id}",
        "PUT /api/v1/notifications/preferences/{patient_id}",
        "PUT /api/v1/notifications/preferences/{patient_id}/{type}",
        "GET /api/v1/notifications/settings",
        "PUT /api/v1/notifications/settings",
        "POST /api/v1/notifications/send",
        "POST /api/v1/notifications/test",
        "GET /api/v1/providers",
        "GET /api/v1/providers/{channel}",
        "POST /api/v1/providers/{channel}",
        "GET /api/v1/providers/{channel}/{id}",
        "PUT /api/v1/providers/{channel}/{id}",
        "DELETE /api/v1/providers/{channel}/{id}",
        "GET /api/v1/notifications/smtp-settings",
        "PUT /api/v1/notifications/smtp-settings",
        "POST /api/v1/notifications/smtp-settings/test",
        "GET /api/v1/audit",
        "GET /api/v1/notifications/logs",
        "GET /api/v1/tenant",
        "PATCH /api/v1/tenant",
        "POST /api/v1/delivery-reports",
        "GET /patient-notifications",
        "GET /patient-notifications/unread-count",
        "POST /patient-notifications/read-all",
        "POST /patient-notifications/{id}/read",
        "POST /patient-notifications/{id}/dismiss",
        "POST /patient-notifications/{id}/archive",
        "POST /patient-notifications/{id}/unarchive",
        "GET /patient-notifications/ws/{patient_id}",
        "GET /patient-notifications/stream",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for collection in ["users", "templates", "notification-settings", "event-settings"] {
        for route in ["GET /{c}", "POST /{c}", "GET /{c}/count", "GET /{c}/{id}", "PATCH /{c}/{id}", "DELETE /{c}/{id}"] {
            expected.insert(route.replace("{c}", collection));
        }
    }
    for collection in ["events", "notifications"] {
        for route in ["GET /{c}", "GET /{c}/count", "GET /{c}/{id}"] {
            expected.insert(route.replace("{c}", collection));
        }
    }
    assert_eq!(routes, expected);
    for route in &expected {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path.replace("{id}", "000000000000000000000000");
        let response = app.call(method.parse().unwrap(), &path, Some(&app.admin_key), Some(json!({}))).await;
        assert_ne!(response.0, StatusCode::METHOD_NOT_ALLOWED, "{route} is documented but not served");
        assert!(!(response.0 == StatusCode::NOT_FOUND && response.1["message"] == "no such route"), "{route} is documented but not served");
    }
}

async fn metrics_count_requests_by_route(app: TestApp) {
    app.get("/templates/", &app.admin_key).await;
    let text = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("herald_http_requests_total") && l.contains("route=\"/templates\"") && l.contains("status=\"200\""));
    assert!(line.is_some(), "{text}");
    assert!(!text.contains("hk_"), "no keys in metrics");
}

async fn request_ids_are_returned(app: TestApp) {
    let response = app.client.get(format!("{}/healthz", app.base)).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let response = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"].len(), 16);
}
