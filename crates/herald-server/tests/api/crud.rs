//! The CRUD conventions on every collection.

use crate::support::{COLLECTIONS, TestApp, assert_error, cases, change, sample};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::json;

cases![
    every_collection_supports_the_whole_lifecycle,
    system_fields_follow_the_clock_and_the_caller,
    list_parameters_filter_sort_page_and_project,
    patch_operators_apply_and_the_result_is_validated,
    defaults_are_filled_in,
    duplicates_conflict,
    users_sync_in_bulk_all_or_nothing,
];

async fn every_collection_supports_the_whole_lifecycle(app: TestApp) {
    let key = &app.admin_key;
    for collection in COLLECTIONS {
        let id = app.create(collection, key, sample(collection, 1)).await;
        app.create(collection, key, sample(collection, 2)).await;
        let (status, doc) = app.get(&format!("/{collection}/{id}"), key).await;
        assert_eq!(status, StatusCode::OK, "{collection}: {doc}");
        assert_eq!(doc["_id"], id.as_str());
        let (status, list) = app.get(&format!("/{collection}/"), key).await;
        assert_eq!((status, list.as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "{collection}: {list}");
        assert_eq!(app.count(collection, key).await, 2);
        let (status, patched) = app.patch(&format!("/{collection}/{id}"), key, change(collection)).await;
        assert_eq!(status, StatusCode::OK, "{collection}: {patched}");
        let (_, again) = app.get(&format!("/{collection}/{id}"), key).await;
        assert_eq!(again, patched, "{collection}: PATCH answers with the stored document");
        let (status, _) = app.delete(&format!("/{collection}/{id}"), key).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{collection}");
        assert_error(&app.get(&format!("/{collection}/{id}"), key).await, StatusCode::NOT_FOUND, "not found");
        assert_error(&app.delete(&format!("/{collection}/{id}"), key).await, StatusCode::NOT_FOUND, "not found");
        assert_eq!(app.count(collection, key).await, 1);
    }
}

async fn system_fields_follow_the_clock_and_the_caller(app: TestApp) {
    let id = app.create("templates", &app.admin_key, sample("templates", 1)).await;
    let (_, created) = app.get(&format!("/templates/{id}"), &app.admin_key).await;
    assert_eq!(created["createdAt"], "2027-01-15T08:00:00.000Z");
    assert_eq!(created["updatedAt"], created["createdAt"]);
    assert!(created["creatorId"].as_str().unwrap().starts_with("apikey:"));
    assert_eq!(created["__STATE__"], "PUBLIC");
    app.clock.advance(SignedDuration::from_mins(90));
    let (editor, _) = app.key("default", herald_core::access::Role::Manager).await;
    let (_, patched) = app.patch(&format!("/templates/{id}"), &editor, json!({"smsMessage": "x"})).await;
    assert_eq!(patched["createdAt"], "2027-01-15T08:00:00.000Z");
    assert_eq!(patched["updatedAt"], "2027-01-15T09:30:00.000Z");
    assert_ne!(patched["updaterId"], created["creatorId"]);
    let (status, ignored) = app
        .post("/templates/", &app.admin_key, json!({"name": "t2", "_id": "000000000000000000000000", "createdAt": "1999-01-01T00:00:00Z"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(ignored["_id"], "000000000000000000000000", "system fields in input are ignored");
}

async fn list_parameters_filter_sort_page_and_project(app: TestApp) {
    let key = &app.admin_key;
    for (id, name, groups, age) in [
        ("u1", "Carla", json!(["doctors"]), 50),
        ("u2", "Anna", json!(["nurses", "doctors"]), 30),
        ("u3", "Bruno", json!(["patients"]), 40),
    ] {
        app.create("users", key, json!({"id": id, "name": name, "groups": groups, "age": age})).await;
    }
    let ids = |list: serde_json::Value| list.as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(ids(app.get("/users/?groups=doctors", key).await.1), ["u1", "u2"]);
    assert_eq!(ids(app.get("/users/?_s=name", key).await.1), ["u2", "u3", "u1"]);
    assert_eq!(ids(app.get("/users/?_s=-age&_l=2", key).await.1), ["u1", "u3"]);
    assert_eq!(ids(app.get("/users/?_s=age&_sk=1&_l=1", key).await.1), ["u3"]);
    let q = urlencode(r#"{"$or":[{"age":{"$gte":45}},{"name":{"$in":["Anna"]}}]}"#);
    assert_eq!(ids(app.get(&format!("/users/?_q={q}&_s=id"), key).await.1), ["u1", "u2"]);
    assert_eq!(app.get(&format!("/users/count?_q={q}"), key).await.1, json!(2));
    let (_, projected) = app.get("/users/?_p=name&_s=name&_l=1", key).await;
    let first = projected[0].as_object().unwrap();
    assert_eq!(first.keys().collect::<Vec<_>>(), ["_id", "name"]);
    assert_error(&app.get("/users/?_q=notjson", key).await, StatusCode::BAD_REQUEST, "_q");
    assert_error(
        &app.get(&format!("/users/?_q={}", urlencode(r#"{"name":{"$where":"1"}}"#)), key).await,
        StatusCode::BAD_REQUEST,
        "$where",
    );
    assert_error(&app.get("/users/?_l=0", key).await, StatusCode::BAD_REQUEST, "_l");
    for n in 0..60 {
        app.create("templates", key, json!({"name": format!("t{n}")})).await;
    }
    assert_eq!(app.get("/templates/?_l=1000", key).await.1.as_array().unwrap().len(), 50, "_l is capped");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn patch_operators_apply_and_the_result_is_validated(app: TestApp) {
    let key = &app.admin_key;
    let id = app.create("users", key, json!({"id": "u1", "groups": ["a"], "roles": ["r"], "nickname": "x"})).await;
    let (status, user) = app
        .patch(
            &format!("/users/{id}"),
            key,
            json!({"$addToSet": {"groups": "b"}, "$pull": {"roles": "r"}, "$unset": {"nickname": true}, "$set": {"locale": "it"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(
        (user["groups"].clone(), user["roles"].clone(), user.get("nickname"), user["locale"].clone()),
        (json!(["a", "b"]), json!([]), None, json!("it"))
    );
    let (_, user) = app.patch(&format!("/users/{id}"), key, json!({"$push": {"groups": "c"}})).await;
    assert_eq!(user["groups"], json!(["a", "b", "c"]));
    assert_error(
        &app.patch(&format!("/users/{id}"), key, json!({"$set": {"phoneNumber": "12345"}})).await,
        StatusCode::BAD_REQUEST,
        "phoneNumber",
    );
    assert_error(&app.patch(&format!("/users/{id}"), key, json!({"$unset": {"id": true}})).await, StatusCode::BAD_REQUEST, "id");
    assert_error(&app.patch(&format!("/users/{id}"), key, json!({"$set": {"_id": "x"}})).await, StatusCode::BAD_REQUEST, "_id");
    assert_error(&app.patch(&format!("/users/{id}"), key, json!({"$inc": {"age": 1}})).await, StatusCode::BAD_REQUEST, "$inc");
    let (_, unchanged) = app.get(&format!("/users/{id}"), key).await;
    assert_eq!(unchanged["groups"], json!(["a", "b", "c"]), "refused patches change nothing");
    assert!(unchanged.get("phoneNumber").is_none());
}

async fn defaults_are_filled_in(app: TestApp) {
    let id = app
        .create("notification-settings", &app.admin_key, json!({"eventName": "E", "channels": ["sms"], "templateName": "t", "user": "u1"}))
        .await;
    let (_, setting) = app.get(&format!("/notification-settings/{id}"), &app.admin_key).await;
    assert_eq!(setting["rule"], "SEND");
}

async fn duplicates_conflict(app: TestApp) {
    let key = &app.admin_key;
    app.create("templates", key, json!({"name": "welcome"})).await;
    assert_error(&app.post("/templates/", key, json!({"name": "welcome"})).await, StatusCode::CONFLICT, "name");
    app.create("event-settings", key, json!({"eventName": "AM/AppointmentCreated/v1"})).await;
    assert_error(
        &app.post("/event-settings", key, json!({"eventName": "AM/AppointmentCreated/v1", "userGroups": ["x"]})).await,
        StatusCode::CONFLICT,
        "eventName",
    );
    app.create("users", key, json!({"id": "u1"})).await;
    assert_error(&app.post("/users/", key, json!({"id": "u1"})).await, StatusCode::CONFLICT, "id");
    let other = app.create("templates", key, json!({"name": "other"})).await;
    assert_error(&app.patch(&format!("/templates/{other}"), key, json!({"name": "welcome"})).await, StatusCode::CONFLICT, "name");
    assert_eq!(app.count("templates", key).await, 2);
}

async fn users_sync_in_bulk_all_or_nothing(app: TestApp) {
    let key = &app.admin_key;
    let users: Vec<_> =
        (0..2000).map(|n| json!({"id": format!("ext-{n}"), "phoneNumber": format!("+3933300{n:05}"), "groups": ["patients"]})).collect();
    let (status, synced) = app.post("/users/bulk", key, json!(users)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(synced.as_array().unwrap().len(), 2000);
    assert!(synced.as_array().unwrap().iter().all(|s| s["created"] == true));
    let first_id = synced[0]["_id"].clone();
    let (status, synced) = app.post("/users/bulk", key, json!([{"id": "ext-0", "name": "Renamed"}, {"id": "new-1"}])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(synced, json!([{"_id": first_id, "created": false}, {"_id": synced[1]["_id"], "created": true}]));
    assert_eq!(app.count("users", key).await, 2001);
    assert_error(
        &app.post("/users/bulk", key, json!([{"id": "ok-1"}, {"id": "bad", "phoneNumber": "0612"}])).await,
        StatusCode::BAD_REQUEST,
        "[1].phoneNumber",
    );
    assert_error(&app.post("/users/bulk", key, json!([{"id": "dup"}, {"id": "dup"}])).await, StatusCode::BAD_REQUEST, "[1].id");
    assert_error(&app.post("/users/bulk", key, json!({"id": "x"})).await, StatusCode::BAD_REQUEST, "array");
    assert_eq!(app.count("users", key).await, 2001, "refused batches store nothing");
}
