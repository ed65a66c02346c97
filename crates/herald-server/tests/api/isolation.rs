//! Tenant isolation and access control: every resource and operation, for the own tenant,
//! another tenant, no credentials, a revoked key and a role without the permission.

use crate::support::{COLLECTIONS, TestApp, assert_error, cases, change, sample};
use herald_core::access::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

cases![the_isolation_matrix, user_tokens_are_not_service_keys];

/// One HTTP operation on a collection, on one document (`with_id`) or on the collection.
struct Operation {
    method: Method,
    suffix: &'static str,
    with_id: bool,
    body: fn(&str) -> Option<Value>,
    writes: bool,
}

const OPERATIONS: [Operation; 6] = [
    Operation { method: Method::GET, suffix: "/", with_id: false, body: |_| None, writes: false },
    Operation { method: Method::GET, suffix: "/count", with_id: false, body: |_| None, writes: false },
    Operation { method: Method::GET, suffix: "", with_id: true, body: |_| None, writes: false },
    Operation { method: Method::POST, suffix: "/", with_id: false, body: |c| Some(sample(c, 99)), writes: true },
    Operation { method: Method::PATCH, suffix: "", with_id: true, body: |c| Some(change(c)), writes: true },
    Operation { method: Method::DELETE, suffix: "", with_id: true, body: |_| None, writes: true },
];

/// A role that can read but not write each collection, and one that cannot even read it.
fn limited_roles(collection: &str) -> (Role, Role) {
    match collection {
        "users" => (Role::Viewer, Role::Viewer),
        _ => (Role::Viewer, Role::Integration),
    }
}

async fn the_isolation_matrix(app: TestApp) {
    let own = app.admin_key.clone();
    let other = app.new_tenant("other-clinic").await;
    let (revoked, revoked_id) = app.key("default", Role::Admin).await;
    app.revoke("default", &revoked_id).await;
    let (viewer, _) = app.key("default", Role::Viewer).await;
    let (integration, _) = app.key("default", Role::Integration).await;

    for collection in COLLECTIONS {
        let (read_only, no_read) = limited_roles(collection);
        let read_only = if read_only == Role::Viewer { &viewer } else { &integration };
        let no_read = if no_read == Role::Integration { Some(&integration) } else { None };
        for op in &OPERATIONS {
            let id = app.create(collection, &own, sample(collection, 1)).await;
            let path = if op.with_id { format!("/{collection}/{id}") } else { format!("/{collection}{}", op.suffix) };
            let body = (op.body)(collection);
            let call = async |key: Option<&str>| app.call(op.method.clone(), &path, key, body.clone()).await;
            let label = format!("{} {path}", op.method);

            assert_error(&call(None).await, StatusCode::UNAUTHORIZED, "API key");
            assert_error(&call(Some(&revoked)).await, StatusCode::UNAUTHORIZED, "revoked");
            assert_error(&call(Some("hk_not-a-real-key")).await, StatusCode::UNAUTHORIZED, "unknown");

            let (status, response) = call(Some(&other)).await;
            match (op.with_id, op.method.clone()) {
                (true, _) => assert_eq!(status, StatusCode::NOT_FOUND, "{label} from another tenant: {response}"),
                (false, Method::GET) if op.suffix == "/count" => {
                    assert_eq!(response, json!(0), "{label} from another tenant")
                }
                (false, Method::GET) => {
                    assert_eq!(response, json!([]), "{label} from another tenant")
                }
                _ => assert_eq!(status, StatusCode::OK, "{label}: another tenant writes only its own data: {response}"),
            }

            if op.writes {
                assert_error(&call(Some(read_only)).await, StatusCode::FORBIDDEN, "does not grant");
            } else if let Some(no_read) = no_read {
                assert_error(&call(Some(no_read)).await, StatusCode::FORBIDDEN, "does not grant");
            }

            let (_, untouched) = app.get(&format!("/{collection}/{id}"), &own).await;
            assert_eq!(untouched["_id"], id.as_str(), "{label}: refused calls changed nothing");
            for (field, value) in sample(collection, 1).as_object().unwrap() {
                assert_eq!(&untouched[field], value, "{label}: {field} unchanged");
            }

            let (status, response) = call(Some(&own)).await;
            assert!(status.is_success(), "{label} in its own tenant: {status} {response}");
            assert_eq!(
                app.count(collection, &other).await,
                u64::from(op.method == Method::POST),
                "{label}: only a create by the other tenant added to it"
            );
            clear(&app, collection, &own).await;
            clear(&app, collection, &other).await;
        }
    }
}

async fn clear(app: &TestApp, collection: &str, key: &str) {
    let (_, documents) = app.get(&format!("/{collection}/"), key).await;
    for document in documents.as_array().unwrap() {
        app.delete(&format!("/{collection}/{}", document["_id"].as_str().unwrap()), key).await;
    }
}

async fn user_tokens_are_not_service_keys(app: TestApp) {
    let claims = json!({"sub": "patient-1", "tenant": "default", "exp": 4_000_000_000_i64});
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(crate::support::JWT_SECRET.as_bytes()),
    )
    .unwrap();
    assert_error(&app.get("/templates/", &token).await, StatusCode::UNAUTHORIZED, "API key");
}
