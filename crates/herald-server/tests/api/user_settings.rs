//! The end user's own settings (seed 03), with a JWT: what targets them, changing only their
//! own, the events visible to them and the channels they enable.

use crate::support::{JWT_SECRET, START_MS, TestApp, assert_error, cases};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

cases![
    users_see_the_settings_that_target_them,
    users_change_and_delete_only_their_own_settings,
    users_see_visible_events_with_supported_and_enabled_channels,
    users_choose_the_channels_of_an_event,
];

const CREATED: &str = "AM/AppointmentCreated/v1";

/// A token for `sub` in tenant `default` with `groups`.
fn token(sub: &str, groups: &[&str]) -> String {
    let claims = json!({"sub": sub, "tenant": "default", "groups": groups, "roles": ["patient"], "exp": START_MS / 1000 + 3600});
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes())).unwrap()
}

async fn setting(app: &TestApp, body: Value) -> String {
    app.create("notification-settings", &app.admin_key, body).await
}

fn base(event: &str, extra: Value) -> Value {
    let mut body = json!({"eventName": event, "channels": ["email"], "templateName": "t"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

async fn users_see_the_settings_that_target_them(app: TestApp) {
    let mine = setting(&app, base(CREATED, json!({"user": "patient-1"}))).await;
    let group = setting(&app, base(CREATED, json!({"group": "patients"}))).await;
    let role = setting(&app, base(CREATED, json!({"role": "patient"}))).await;
    setting(&app, base(CREATED, json!({"user": "patient-2"}))).await;
    setting(&app, base(CREATED, json!({"group": "doctors"}))).await;
    let user = token("patient-1", &["patients"]);
    let (status, list) = app.get("/user-notification-settings/", &user).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|s| s["_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [mine.as_str(), group.as_str(), role.as_str()]);
    let (_, filtered) = app.get("/user-notification-settings/?user=patient-1", &user).await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_error(&app.call(Method::GET, "/user-notification-settings/", None, None).await, StatusCode::UNAUTHORIZED, "token");
    assert_error(&app.get("/user-notification-settings/", &app.admin_key).await, StatusCode::UNAUTHORIZED, "token");
    let other_tenant = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "patient-1", "tenant": "elsewhere", "exp": START_MS / 1000 + 3600}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(app.get("/user-notification-settings/", &other_tenant).await.1, json!([]), "another tenant's user sees nothing here");
}

async fn users_change_and_delete_only_their_own_settings(app: TestApp) {
    let mine = setting(&app, base(CREATED, json!({"user": "patient-1"}))).await;
    let group = setting(&app, base(CREATED, json!({"group": "patients"}))).await;
    let theirs = setting(&app, base(CREATED, json!({"user": "patient-2"}))).await;
    let user = token("patient-1", &["patients"]);
    let (status, patched) = app.patch(&format!("/user-notification-settings/{mine}"), &user, json!({"$set": {"channels": ["sms"]}})).await;
    assert_eq!((status, patched["channels"].clone(), patched["updaterId"].clone()), (StatusCode::OK, json!(["sms"]), json!("patient-1")));
    assert_error(
        &app.patch(&format!("/user-notification-settings/{mine}"), &user, json!({"user": "patient-2"})).await,
        StatusCode::BAD_REQUEST,
        "user",
    );
    assert_error(
        &app.patch(&format!("/user-notification-settings/{group}"), &user, json!({"channels": ["sms"]})).await,
        StatusCode::NOT_FOUND,
        "not found",
    );
    assert_error(&app.delete(&format!("/user-notification-settings/{theirs}"), &user).await, StatusCode::NOT_FOUND, "not found");
    assert_eq!(app.delete(&format!("/user-notification-settings/{mine}"), &user).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.count("notification-settings", &app.admin_key).await, 2, "only their own setting was deleted");
    let (_, trail) = app.get("/api/v1/audit?actor=user:patient-1", &app.admin_key).await;
    let recorded: Vec<(&str, &str)> =
        trail["entries"].as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap())).collect();
    let target = format!("notification_settings/{mine}");
    assert_eq!(
        recorded,
        [("notification_settings.delete", target.as_str()), ("notification_settings.update", target.as_str())],
        "only what was done"
    );
}

async fn users_see_visible_events_with_supported_and_enabled_channels(app: TestApp) {
    app.create("event-settings", &app.admin_key, json!({"eventName": CREATED, "supportedChannels": ["email", "sms", "push"]})).await;
    app.create("event-settings", &app.admin_key, json!({"eventName": "STAFF/BillGenerated/v1", "userGroups": ["billing"]})).await;
    setting(&app, base(CREATED, json!({"group": "patients", "channels": ["email", "sms", "voice"]}))).await;
    let (status, events) = app.get("/user/events/", &token("patient-1", &["patients"])).await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let created = events.as_array().unwrap().iter().find(|e| e["eventName"] == CREATED).unwrap();
    assert_eq!(created["supportedChannels"], json!(["email", "sms", "push"]));
    assert_eq!(created["enabledChannels"], json!(["email", "sms"]), "voice is not supported by the event");
    assert!(events.as_array().unwrap().iter().all(|e| e["eventName"] != "STAFF/BillGenerated/v1"), "hidden from non-billing users");
    let deleted = events.as_array().unwrap().iter().find(|e| e["eventName"] == "AM/AppointmentDeleted/v1").unwrap();
    assert_eq!(deleted["supportedChannels"].as_array().unwrap().len(), 7, "a default event without settings supports every active channel");
    assert_eq!(deleted["enabledChannels"], json!([]));
    let (_, staff) = app.get("/user/events/", &token("clerk", &["billing"])).await;
    assert!(staff.as_array().unwrap().iter().any(|e| e["eventName"] == "STAFF/BillGenerated/v1"));
}

async fn users_choose_the_channels_of_an_event(app: TestApp) {
    app.create("event-settings", &app.admin_key, json!({"eventName": CREATED, "supportedChannels": ["email", "sms"]})).await;
    app.create("event-settings", &app.admin_key, json!({"eventName": "STAFF/BillGenerated/v1", "userGroups": ["billing"]})).await;
    setting(&app, base(CREATED, json!({"group": "patients", "templateName": "appointment-patient"}))).await;
    let user = token("patient-1", &["patients"]);
    let set = |event: &str, channels: Value| {
        app.call(Method::PATCH, "/user/notification-settings/", Some(&user), Some(json!({"eventName": event, "enabledChannels": channels})))
    };
    let (status, created) = set(CREATED, json!(["sms"])).await;
    assert_eq!((status, created), (StatusCode::OK, json!({"updated": 0, "created": true})));
    let (_, mine) = app.get("/user-notification-settings/?user=patient-1", &user).await;
    assert_eq!(
        (mine[0]["templateName"].clone(), mine[0]["channels"].clone()),
        (json!("appointment-patient"), json!(["sms"])),
        "the template is inherited"
    );
    let (status, updated) = set(CREATED, json!(["email", "sms"])).await;
    assert_eq!((status, updated), (StatusCode::OK, json!({"updated": 1, "created": false})));
    assert_error(&set(CREATED, json!(["voice"])).await, StatusCode::BAD_REQUEST, "enabledChannels[0]");
    assert_error(&set("STAFF/BillGenerated/v1", json!(["email"])).await, StatusCode::FORBIDDEN, "not visible");
    assert_error(&set("AM/AppointmentDeleted/v1", json!(["email"])).await, StatusCode::BAD_REQUEST, "inherit");
    assert_error(
        &app.call(Method::PATCH, "/user/notification-settings/", None, Some(json!({"eventName": CREATED, "enabledChannels": []}))).await,
        StatusCode::UNAUTHORIZED,
        "token",
    );
    assert_error(
        &app.call(
            Method::PATCH,
            "/user/notification-settings/",
            Some(&user),
            Some(json!({"eventName": CREATED, "enabledChannels": ["fax"]})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "enabledChannels[0]",
    );
}
