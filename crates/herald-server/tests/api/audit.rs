//! The audit trail and the tenant profile: configuration changes are recorded with who, when,
//! what and from where; only admins read the trail and nothing can change it; the profile
//! feeds templates and the choice of locale.

use crate::support::{TestApp, assert_error, cases};
use herald_core::access::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

cases![
    configuration_changes_are_in_the_audit_trail,
    only_admins_read_the_trail_and_nothing_changes_it,
    the_tenant_profile_is_validated_audited_and_used_by_templates,
];

fn actions(page: &Value) -> Vec<String> {
    page["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect()
}

async fn configuration_changes_are_in_the_audit_trail(app: TestApp) {
    let key = &app.admin_key;
    let template = app.create("templates", key, json!({"name": "t1", "smsMessage": "Hi"})).await;
    let (status, _) = app.patch(&format!("/templates/{template}"), key, json!({"smsMessage": "Hello"})).await;
    assert_eq!(status, StatusCode::OK);
    let setting = app
        .create(
            "notification-settings",
            key,
            json!({"eventName": "AM/AppointmentCreated/v1", "group": "patients", "channels": ["sms"], "templateName": "t1"}),
        )
        .await;
    let (status, _) = app.delete(&format!("/notification-settings/{setting}"), key).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.create("users", key, json!({"id": "patient-1", "phoneNumber": "+390612345678"})).await;

    let (status, page) = app.get("/api/v1/audit", key).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let expected =
        ["notification_settings.delete", "notification_settings.create", "templates.update", "templates.create", "api_keys.create"];
    assert_eq!(actions(&page), expected, "the bootstrap admin key's creation comes first");
    let update = &page["entries"][2];
    assert_eq!(update["target"], format!("templates/{template}"));
    assert_eq!(update["changes"], json!({"smsMessage": "Hello"}));
    assert!(update["actor"].as_str().unwrap().starts_with("apikey:"));
    assert_eq!(update["at"], herald_core::document::format_timestamp(app.now()));
    assert_eq!(update["source"], "peer=127.0.0.1", "where the change came from");
    assert!(!page.to_string().contains("+390612345678"), "the recipients directory is not in the trail");

    let (_, templates_only) = app.get("/api/v1/audit?action=templates.create", key).await;
    assert_eq!(actions(&templates_only), ["templates.create"]);
    let (_, first) = app.get("/api/v1/audit?limit=3", key).await;
    assert_eq!(first["entries"].as_array().unwrap().len(), 3);
    let (_, rest) = app.get(&format!("/api/v1/audit?limit=3&before={}", first["next"]), key).await;
    assert_eq!(actions(&rest), ["templates.create", "api_keys.create"]);
    assert_eq!(rest["next"], Value::Null);
}

async fn only_admins_read_the_trail_and_nothing_changes_it(app: TestApp) {
    app.create("templates", &app.admin_key, json!({"name": "t1", "smsMessage": "Hi"})).await;
    let (manager, _) = app.key("default", Role::Manager).await;
    let denied = app.get("/api/v1/audit", &manager).await;
    assert_eq!(denied.0, StatusCode::FORBIDDEN, "{}", denied.1);
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let (status, _) = app.call(method.clone(), "/api/v1/audit", Some(&app.admin_key), Some(json!({}))).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    let other = app.new_tenant("clinic-b").await;
    let (_, theirs) = app.get("/api/v1/audit", &other).await;
    assert!(actions(&theirs).iter().all(|a| a.starts_with("api_keys.")), "{theirs}");
    let (_, ours) = app.get("/api/v1/audit", &app.admin_key).await;
    assert!(actions(&ours).contains(&"api_keys.create".to_string()), "the manager key issued above is recorded");
    assert_error(&app.get("/api/v1/audit?since=yesterday", &app.admin_key).await, StatusCode::BAD_REQUEST, "since");
}

async fn the_tenant_profile_is_validated_audited_and_used_by_templates(app: TestApp) {
    let key = &app.admin_key;
    for (body, field) in [
        (json!({"phone": "0612345678"}), "phone"),
        (json!({"email": "not an address"}), "email"),
        (json!({"defaultLocale": "not a locale"}), "defaultLocale"),
        (json!({"timeZone": "Mars/Olympus"}), "timeZone"),
        (json!({"name": ""}), "name"),
        (json!({"slug": "other"}), "slug"),
    ] {
        assert_error(&app.patch("/api/v1/tenant", key, body).await, StatusCode::BAD_REQUEST, field);
    }
    let (manager, _) = app.key("default", Role::Manager).await;
    assert_eq!(app.patch("/api/v1/tenant", &manager, json!({"name": "X"})).await.0, StatusCode::FORBIDDEN);
    let (_, unchanged) = app.get("/api/v1/tenant", &manager).await;
    assert_eq!(unchanged["phone"], Value::Null, "refused changes change nothing");

    let change = json!({"name": "Clinica Rossi", "phone": "+390612345678", "email": "desk@rossi.example", "defaultLocale": "it"});
    let (status, profile) = app.patch("/api/v1/tenant", key, change).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(
        (profile["name"].as_str(), profile["phone"].as_str(), profile["defaultLocale"].as_str()),
        (Some("Clinica Rossi"), Some("+390612345678"), Some("it"))
    );
    let (_, page) = app.get("/api/v1/audit?action=tenant.update", key).await;
    assert_eq!(page["entries"][0]["changes"]["phone"], "+390612345678");

    let template = app
        .create("templates", key, json!({"name": "call-us", "smsMessage": "Call {{tenant.name}} on {{tenant.phone}}", "locales": {"it": {"smsMessage": "Chiama {{tenant.name}} al {{tenant.phone}}"}}}))
        .await;
    let (status, preview) = app.post(&format!("/templates/{template}/preview"), key, json!({"data": {}, "user": {}})).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["locale"], "it", "without a recipient locale the tenant's default wins");
    assert!(preview.to_string().contains("Chiama Clinica Rossi al +390612345678"), "{preview}");

    let (status, cleared) = app.patch("/api/v1/tenant", key, json!({"phone": null})).await;
    assert_eq!((status, cleared["phone"].clone()), (StatusCode::OK, Value::Null));
}
