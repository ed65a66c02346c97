//! Bad input: a 4xx in the seeds' shape naming the field, and nothing stored.

use crate::support::{COLLECTIONS, TestApp, assert_error, cases};
use reqwest::StatusCode;
use serde_json::{Value, json};

cases![each_bad_document_is_refused_by_field_and_stores_nothing, malformed_and_oversized_bodies, unknown_ids_and_routes];

async fn each_bad_document_is_refused_by_field_and_stores_nothing(app: TestApp) {
    let setting = |extra: Value| {
        let mut body = json!({"eventName": "E", "channels": ["email"], "templateName": "t"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("users", json!({"id": "u", "phoneNumber": "3331234567"}), "phoneNumber"),
        ("users", json!({"id": "u", "emailAddress": "not-an-address"}), "emailAddress"),
        ("users", json!({"id": "u", "timeZone": "Europe/Atlantis"}), "timeZone"),
        ("users", json!({"id": "u", "groups": "doctors"}), "groups"),
        ("users", json!({"id": 42}), "id"),
        ("users", json!({"name": "no id"}), "id"),
        ("users", json!({"id": "u", "deviceTokens": [{"platform": "symbian", "token": "t"}]}), "deviceTokens[0].platform"),
        ("templates", json!({"name": "t", "emailMessage": "a", "emailHtmlMessage": "b"}), "emailHtmlMessage"),
        ("templates", json!({"name": "t", "pushData": {"android": {}}, "pushMessage": "m"}), "pushData"),
        ("templates", json!({"name": "t", "smsMesage": "typo"}), "smsMesage"),
        ("templates", json!({"emailTitle": "no name"}), "name"),
        ("notification-settings", setting(json!({"rule": "SOMETIMES"})), "rule"),
        ("notification-settings", setting(json!({"channels": ["carrier-pigeon"]})), "channels[0]"),
        ("notification-settings", setting(json!({"reminders": ["P1D", "tomorrow"]})), "reminders[1]"),
        ("notification-settings", setting(json!({"hours": ["9-17"]})), "hours[0]"),
        ("notification-settings", setting(json!({"hours": ["09:00-09:00"]})), "hours[0]"),
        ("notification-settings", json!({"eventName": "E", "channels": ["email"]}), "templateName"),
        ("event-settings", json!({"eventName": "E", "eventSchema": {"type": "not-a-type"}}), "eventSchema"),
        ("event-settings", json!({"eventName": "E", "eventSchema": {"required": "payload"}}), "eventSchema"),
        ("event-settings", json!({"eventName": "E", "supportedChannels": ["fax"]}), "supportedChannels[0]"),
        ("event-settings", json!({"eventName": "has spaces"}), "eventName"),
        ("event-settings", json!(["not", "an", "object"]), "object"),
    ];
    for (collection, body, field) in cases {
        let response = app.post(&format!("/{collection}/"), &app.admin_key, body.clone()).await;
        assert_error(&response, StatusCode::BAD_REQUEST, field);
    }
    for collection in COLLECTIONS {
        assert_eq!(app.count(collection, &app.admin_key).await, 0, "{collection}: nothing was stored");
    }
}

async fn malformed_and_oversized_bodies(app: TestApp) {
    let raw = |body: Vec<u8>| {
        app.client
            .post(format!("{}/templates/", app.base))
            .bearer_auth(&app.admin_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let response = raw(b"{\"name\": ".to_vec()).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("malformed JSON"), "{body}");
    let big = serde_json::to_vec(&json!({"name": "big", "emailMessage": "x".repeat(70 * 1024)})).unwrap();
    let response = raw(big).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["statusCode"], "413");
    assert!(body["message"].as_str().unwrap().contains("body"), "{body}");
    assert_eq!(app.count("templates", &app.admin_key).await, 0);
}

async fn unknown_ids_and_routes(app: TestApp) {
    let key = &app.admin_key;
    assert_error(&app.get("/templates/not-an-id", key).await, StatusCode::NOT_FOUND, "template not found");
    assert_error(&app.get("/templates/000000000000000000000000", key).await, StatusCode::NOT_FOUND, "template not found");
    assert_error(&app.patch("/users/000000000000000000000000", key, json!({"name": "x"})).await, StatusCode::NOT_FOUND, "user not found");
    assert_error(&app.get("/no-such-thing", key).await, StatusCode::NOT_FOUND, "route");
    assert_error(
        &app.call(reqwest::Method::PUT, "/templates/", Some(key), Some(json!({}))).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method",
    );
}
