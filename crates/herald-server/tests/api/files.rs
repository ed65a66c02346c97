//! The files service end to end: uploads (real multipart bodies) listed, read, downloaded and
//! deleted per tenant; bad types, mismatched content and oversized files refused with nothing
//! stored; emails carrying two stored files arriving intact at a real SMTP server; attachment
//! sets over 15 MiB or naming unknown files refused at `/send` with nothing queued; and a file
//! deleted after acceptance failing its message.

use crate::support::{TestApp, assert_error, cases};
use herald_channels::{Provider, SmtpConfig, SmtpProvider, SmtpSecurity};
use herald_core::access::Role;
use herald_core::job::JobKind;
use herald_core::resources::channel::Channel;
use herald_engine::delivery::DeliveryConfig;
use herald_testkit::smtp::SmtpSink;
use mail_parser::{MessageParser, MimeHeaders};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;

cases![
    files_round_trip_through_upload_list_download_and_delete,
    files_are_seen_only_by_their_tenant_and_permitted_roles,
    files_refused_at_upload_store_nothing,
    files_attached_to_an_email_arrive_intact,
    files_over_15_mib_or_unknown_queue_nothing,
    files_deleted_after_acceptance_fail_their_message,
    files_go_to_an_s3_compatible_store_by_configuration,
];

const BOUNDARY: &str = "herald-test-boundary-7d1f";

/// A small PDF, with the binary comment and bytes real ones have.
fn pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    pdf.extend((0..=255u8).rev());
    pdf.extend(b"\ntrailer << /Root 1 0 R >>\n%%EOF\n");
    pdf
}

/// A PNG signature and header chunk, with bytes of every value after it.
fn png() -> Vec<u8> {
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];
    png.extend((0..=255u8).cycle().take(4096));
    png
}

/// A `multipart/form-data` body: a text field, then one file part (`Content-Type` only when
/// given).
fn form(name: &str, content_type: Option<&str>, content: &[u8]) -> Vec<u8> {
    let mut body = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n").into_bytes();
    body.extend(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n").bytes());
    if let Some(content_type) = content_type {
        body.extend(format!("Content-Type: {content_type}\r\n").bytes());
    }
    body.extend(b"\r\n");
    body.extend(content);
    body.extend(format!("\r\n--{BOUNDARY}--\r\n").bytes());
    body
}

/// Posts a multipart body to `/files`.
async fn post_form(app: &TestApp, key: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}/files", app.base))
        .bearer_auth(key)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.expect("a JSON answer"))
}

/// Uploads a file and returns its metadata.
async fn upload(app: &TestApp, key: &str, name: &str, content_type: &str, content: &[u8]) -> Value {
    let (status, body) = post_form(app, key, form(name, Some(content_type), content)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Downloads a file: status, content type, content disposition and bytes.
async fn download(app: &TestApp, key: &str, id: &str) -> (StatusCode, String, String, Vec<u8>) {
    let response = app.client.get(format!("{}/files/{id}/download", app.base)).bearer_auth(key).send().await.expect("an answer");
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (status, content_type, disposition) = (response.status(), header("content-type"), header("content-disposition"));
    (status, content_type, disposition, response.bytes().await.unwrap().to_vec())
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect()
}

/// Every file under the app's files folder.
fn stored_objects(app: &TestApp) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                walk(&entry.path(), found);
            } else {
                found.push(entry.path());
            }
        }
    }
    let mut found = Vec::new();
    walk(app.config.files.root.as_deref().expect("tests keep files in their own folder"), &mut found);
    found
}

async fn files_round_trip_through_upload_list_download_and_delete(app: TestApp) {
    let key = &app.admin_key;
    let report = pdf();
    let stored = upload(&app, key, "referto esami.pdf", "application/pdf", &report).await;
    let id = stored["_id"].as_str().unwrap().to_string();
    assert_eq!(stored["file"], id, "the files service's `file` is the reference");
    assert_eq!(stored["name"], "referto esami.pdf");
    assert_eq!(stored["size"], report.len());
    assert_eq!(stored["contentType"], "application/pdf");
    assert_eq!(stored["sha256"], format!("{:x}", Sha256::digest(&report)));
    assert_eq!(stored["location"], format!("/files/{id}/download"));
    assert!(stored["creatorId"].as_str().unwrap().starts_with("apikey:"), "{stored}");

    let (status, metadata) = app.get(&format!("/files/{id}"), key).await;
    assert_eq!((status, &metadata), (StatusCode::OK, &stored));
    let (status, content_type, disposition, bytes) = download(&app, key, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/pdf");
    assert_eq!(disposition, "attachment; filename=\"referto esami.pdf\"; filename*=UTF-8''referto%20esami.pdf");
    assert_eq!(bytes, report, "the bytes come back intact");

    let taken = post_form(&app, key, form("referto esami.pdf", Some("application/pdf"), &report)).await;
    assert_error(&taken, StatusCode::CONFLICT, "name");
    app.clock.advance(jiff::SignedDuration::from_hours(24));
    let notes = upload(&app, key, "note.txt", "text/plain", "Portare la tessera sanitaria.\n".as_bytes()).await;
    assert_eq!(notes["contentType"], "text/plain; charset=utf-8");
    app.clock.advance(jiff::SignedDuration::from_secs(1));
    upload(&app, key, "map.png", "image/png", &png()).await;

    let (status, list) = app.get("/files", key).await;
    assert_eq!((status, names(&list)), (StatusCode::OK, vec!["referto esami.pdf", "note.txt", "map.png"]), "oldest first");
    let (_, page) = app.get("/files?limit=2&page=2", key).await;
    assert_eq!(names(&page), ["map.png"]);
    let since = herald_core::document::format_timestamp(app.now().checked_sub(jiff::SignedDuration::from_secs(1)).unwrap());
    let (_, recent) = app.get(&format!("/files?dateFrom={since}"), key).await;
    assert_eq!(names(&recent), ["note.txt", "map.png"], "dateFrom leaves older files out");
    assert_error(&app.get("/files?limit=0", key).await, StatusCode::BAD_REQUEST, "limit");
    assert_error(&app.get("/files?page=0", key).await, StatusCode::BAD_REQUEST, "page");
    assert_error(&app.get("/files?dateFrom=yesterday", key).await, StatusCode::BAD_REQUEST, "dateFrom");
    assert_error(&app.get("/files?name=x", key).await, StatusCode::BAD_REQUEST, "name");

    let (status, _) = app.delete(&format!("/files/{id}"), key).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&app.get(&format!("/files/{id}"), key).await, StatusCode::NOT_FOUND, "file");
    assert_eq!(download(&app, key, &id).await.0, StatusCode::NOT_FOUND);
    assert_error(&app.delete(&format!("/files/{id}"), key).await, StatusCode::NOT_FOUND, "file");
    let (_, list) = app.get("/files", key).await;
    assert_eq!(names(&list), ["note.txt", "map.png"]);
    assert_eq!(stored_objects(&app).len(), 2, "the deleted file's bytes are gone too");
    let (_, trail) = app.get(&format!("/api/v1/audit?target=files/{id}"), key).await;
    let actions: Vec<&str> = trail["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["files.delete", "files.upload"], "uploads and deletes are audited, newest first: {trail}");
    assert_eq!(
        trail["entries"][1]["changes"],
        json!({"name": "referto esami.pdf", "contentType": "application/pdf", "size": report.len()})
    );
    upload(&app, key, "referto esami.pdf", "application/pdf", &report).await;
}

async fn files_are_seen_only_by_their_tenant_and_permitted_roles(app: TestApp) {
    let key = &app.admin_key;
    let stored = upload(&app, key, "leaflet.pdf", "application/pdf", &pdf()).await;
    let id = stored["_id"].as_str().unwrap();
    let other = app.new_tenant("clinic-b").await;
    assert_error(&app.get(&format!("/files/{id}"), &other).await, StatusCode::NOT_FOUND, "file");
    assert_eq!(download(&app, &other, id).await.0, StatusCode::NOT_FOUND);
    assert_error(&app.delete(&format!("/files/{id}"), &other).await, StatusCode::NOT_FOUND, "file");
    let (_, list) = app.get("/files", &other).await;
    assert_eq!(list, json!([]), "another tenant lists nothing");
    upload(&app, &other, "leaflet.pdf", "application/pdf", &pdf()).await;
    let (_, list) = app.get("/files", key).await;
    assert_eq!(names(&list), ["leaflet.pdf"]);
    assert_eq!(download(&app, key, id).await.3, pdf(), "the first tenant's file is untouched");

    let (viewer, _) = app.key("default", Role::Viewer).await;
    assert_eq!(app.get(&format!("/files/{id}"), &viewer).await.0, StatusCode::OK, "templates.read reads files");
    assert_eq!(download(&app, &viewer, id).await.0, StatusCode::OK);
    assert_error(&post_form(&app, &viewer, form("x.pdf", Some("application/pdf"), &pdf())).await, StatusCode::FORBIDDEN, "");
    assert_error(&app.delete(&format!("/files/{id}"), &viewer).await, StatusCode::FORBIDDEN, "");
    let (integration, _) = app.key("default", Role::Integration).await;
    assert_error(&app.get("/files", &integration).await, StatusCode::FORBIDDEN, "");
    let anonymous = app.client.get(format!("{}/files", app.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

async fn files_refused_at_upload_store_nothing(app: TestApp) {
    let key = &app.admin_key;
    let refused = |status, field: &'static str, body: Vec<u8>| {
        let app = &app;
        async move { assert_error(&post_form(app, key, body).await, status, field) }
    };
    refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "text/html", form("page.html", Some("text/html"), b"<html><script>x</script></html>"))
        .await;
    refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "contentType", form("image.svg", Some("image/svg+xml"), b"<svg/>")).await;
    refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "image/png", form("report.pdf", Some("application/pdf"), &png())).await;
    refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "contentType", form("notes.txt", Some("text/plain"), &pdf())).await;
    refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "contentType", form("blob", None, b"no signature here")).await;
    refused(StatusCode::BAD_REQUEST, "name", form("../../etc/passwd.pdf", Some("application/pdf"), &pdf())).await;
    refused(StatusCode::BAD_REQUEST, "file", form("empty.pdf", Some("application/pdf"), b"")).await;
    let no_file = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nx\r\n--{BOUNDARY}--\r\n");
    refused(StatusCode::BAD_REQUEST, "file part", no_file.into_bytes()).await;
    refused(StatusCode::BAD_REQUEST, "multipart", format!("--{BOUNDARY}\r\ngarbage").into_bytes()).await;
    let (status, body) = app.post("/files", key, json!({"name": "x.pdf"})).await;
    assert_error(&(status, body), StatusCode::BAD_REQUEST, "multipart/form-data");
    let limit = app.config.files.max_file_bytes as usize;
    let mut huge = pdf();
    huge.resize(limit + 1, b' ');
    refused(StatusCode::PAYLOAD_TOO_LARGE, "file", form("huge.pdf", Some("application/pdf"), &huge)).await;
    huge.truncate(limit);
    let at_limit = upload(&app, key, "at-limit.pdf", "application/pdf", &huge).await;
    assert_eq!(at_limit["size"], limit, "a file of exactly max_file_bytes is accepted");

    let (_, list) = app.get("/files", key).await;
    assert_eq!(names(&list), ["at-limit.pdf"], "no refused upload was stored");
    assert_eq!(stored_objects(&app).len(), 1, "and none left bytes behind");
}

fn smtp(sink: &SmtpSink) -> Arc<dyn Provider> {
    let config = SmtpConfig {
        security: SmtpSecurity::Plain,
        timeout_seconds: 5,
        max_connections: 2,
        ..SmtpConfig::new("127.0.0.1", sink.port, "Clinica San Luca <noreply@sanluca.example>")
    };
    Arc::new(SmtpProvider::new(&config).unwrap())
}

/// A patient with an email address and a template whose own attachment is `leaflet.pdf`.
async fn patient_and_template(app: &TestApp) -> String {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "patient-1", "name": "Ada", "emailAddress": "ada@example.org"})).await;
    app.create(
        "templates",
        key,
        json!({"name": "lab-results", "emailTitle": "Your results, {{user.name}}", "emailHtmlMessage": "<p>Dear {{user.name}}, your results are attached.</p>",
               "emailAttachments": [{"file": "leaflet.pdf"}]}),
    )
    .await
}

/// The stored notification of `patient-1`.
async fn notification(app: &TestApp) -> Value {
    let (_, list) = app.get("/notifications?recipient=patient-1", &app.admin_key).await;
    let id = list[0]["_id"].as_str().expect("a notification").to_string();
    app.get(&format!("/notifications/{id}"), &app.admin_key).await.1
}

async fn files_attached_to_an_email_arrive_intact(app: TestApp) {
    let key = &app.admin_key;
    let template = patient_and_template(&app).await;
    let leaflet = pdf();
    let map = png();
    upload(&app, key, "leaflet.pdf", "application/pdf", &leaflet).await;
    let map_id = upload(&app, key, "map.png", "image/png", &map).await["_id"].as_str().unwrap().to_string();

    let (status, answer) = app
        .post(
            "/send",
            key,
            json!({"channels": ["email"], "recipients": ["patient-1"], "templateId": template, "emailAttachments": [map_id]}),
        )
        .await;
    assert_eq!((status, &answer), (StatusCode::OK, &json!({"failures": []})));
    let queued = notification(&app).await;
    assert_eq!(queued["messages"][0]["attachments"], json!([{"file": map_id, "name": "map.png"}]), "the send's own file, by id");

    let sink = SmtpSink::start();
    let dispatcher = app.dispatcher_with(vec![(Channel::Email, smtp(&sink))], DeliveryConfig::default());
    assert_eq!(dispatcher.run_due().await.unwrap(), 1);
    let mail = sink.received();
    assert_eq!(mail.len(), 1);
    let parsed = MessageParser::default().parse(&mail[0].data).unwrap();
    assert_eq!(parsed.subject(), Some("Your results, Ada"));
    let root = parsed.root_part();
    let kind = |part: &mail_parser::MessagePart| {
        let t = part.content_type().unwrap();
        format!("{}/{}", t.ctype(), t.subtype().unwrap_or_default())
    };
    assert_eq!(kind(root), "multipart/mixed", "the body and the files are mixed");
    let children: Vec<&mail_parser::MessagePart> = root.sub_parts().unwrap().iter().map(|id| parsed.part(*id).unwrap()).collect();
    let kinds: Vec<String> = children.iter().map(|part| kind(part)).collect();
    assert_eq!(kinds, ["multipart/alternative", "application/pdf", "image/png"], "the alternative body first, then each file");
    let alternatives: Vec<String> = children[0].sub_parts().unwrap().iter().map(|id| kind(parsed.part(*id).unwrap())).collect();
    assert_eq!(alternatives, ["text/plain", "text/html"]);
    assert!(parsed.body_html(0).unwrap().contains("your results are attached"));
    for (part, (name, bytes)) in children[1..].iter().zip([("leaflet.pdf", &leaflet), ("map.png", &map)]) {
        assert_eq!(part.attachment_name(), Some(name));
        assert_eq!(part.content_disposition().map(|d| d.ctype()), Some("attachment"));
        assert_eq!(part.contents(), bytes.as_slice(), "{name} arrives byte for byte");
    }
    let sent = notification(&app).await;
    assert_eq!(sent["messages"][0]["status"], "SUCCESS", "{sent}");
}

async fn files_over_15_mib_or_unknown_queue_nothing(app: TestApp) {
    let key = &app.admin_key;
    let template = patient_and_template(&app).await;
    upload(&app, key, "leaflet.pdf", "application/pdf", &pdf()).await;
    let eight_mib = vec![b'a'; 8 * 1024 * 1024];
    upload(&app, key, "scan-1.txt", "text/plain", &eight_mib).await;
    upload(&app, key, "scan-2.txt", "text/plain", &eight_mib).await;
    let send = |attachments: Value, template: Option<&str>| {
        let mut body = json!({"channels": ["email"], "recipients": ["patient-1"], "emailAttachments": attachments});
        match template {
            Some(id) => body["templateId"] = json!(id),
            None => {
                body["messageTitle"] = json!("Results");
                body["messageContent"] = json!("Attached.");
            }
        }
        let app = &app;
        async move { app.post("/send", key, body).await }
    };
    assert_error(&send(json!(["scan-1.txt", "scan-2.txt"]), None).await, StatusCode::BAD_REQUEST, "emailAttachments");
    assert_error(&send(json!(["scan-1.txt", "missing.pdf"]), None).await, StatusCode::BAD_REQUEST, "emailAttachments[1]");
    let patched = app.patch(&format!("/templates/{template}"), key, json!({"$set": {"emailAttachments": [{"file": "scan-1.txt"}]}})).await;
    assert_eq!(patched.0, StatusCode::OK, "{}", patched.1);
    let over = send(json!(["scan-2.txt"]), Some(&template)).await;
    assert_error(&over, StatusCode::BAD_REQUEST, "emailAttachments");
    assert!(over.1["message"].as_str().unwrap().contains("16777216 bytes"), "the template's and the send's files add up: {}", over.1);
    app.patch(&format!("/templates/{template}"), key, json!({"$set": {"emailAttachments": [{"file": "gone.pdf"}]}})).await;
    assert_error(&send(json!([]), Some(&template)).await, StatusCode::BAD_REQUEST, "templateId");
    assert_eq!(app.count("notifications", key).await, 0, "nothing was queued");
    assert!(app.store.list_jobs("default", JobKind::Delivery).await.unwrap().is_empty(), "no delivery job either");
}

async fn files_deleted_after_acceptance_fail_their_message(app: TestApp) {
    let key = &app.admin_key;
    patient_and_template(&app).await;
    let id = upload(&app, key, "consent.pdf", "application/pdf", &pdf()).await["_id"].as_str().unwrap().to_string();
    let (status, answer) = app
        .post(
            "/send",
            key,
            json!({"channels": ["email"], "recipients": ["patient-1"], "messageTitle": "Consent", "messageContent": "Please sign.", "emailAttachments": ["consent.pdf"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    app.delete(&format!("/files/{id}"), key).await;
    upload(&app, key, "consent.pdf", "application/pdf", b"%PDF-1.4\nanother document\n%%EOF\n").await;

    let sink = SmtpSink::start();
    let dispatcher = app.dispatcher_with(vec![(Channel::Email, smtp(&sink))], DeliveryConfig::default());
    assert_eq!(dispatcher.run_due().await.unwrap(), 1);
    assert!(sink.received().is_empty(), "no email went out, not even with the new file of the same name");
    let failed = notification(&app).await;
    let message = &failed["messages"][0];
    assert_eq!(message["status"], "FAILURE", "{failed}");
    assert_eq!(message["error"], format!("the attachment {id} was deleted after the message was accepted"));
}

/// A local stand-in for an S3-compatible service: path-style `PUT`, `GET`, `HEAD` and
/// `DELETE` of objects, as S3 documents them, and every request's method, path and whether it
/// carried a SigV4 `Authorization`.
#[derive(Clone, Default)]
struct FakeS3 {
    objects: Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    requests: Arc<std::sync::Mutex<Vec<(String, String, bool)>>>,
}

impl FakeS3 {
    async fn start() -> (Self, String) {
        use axum::http::{HeaderMap, Method, StatusCode as Status, Uri};
        let fake = Self::default();
        let state = fake.clone();
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let path = uri.path().to_string();
                let signed = headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256 "));
                state.requests.lock().unwrap().push((method.to_string(), path.clone(), signed));
                let mut objects = state.objects.lock().unwrap();
                let found = |bytes: &Vec<u8>, with_body: bool| {
                    let headers = [
                        ("etag", "\"0123456789abcdef\"".to_string()),
                        ("last-modified", "Sat, 21 Nov 2026 12:00:00 GMT".to_string()),
                        ("content-length", bytes.len().to_string()),
                    ];
                    let mut response =
                        axum::response::Response::new(axum::body::Body::from(if with_body { bytes.clone() } else { Vec::new() }));
                    for (name, value) in headers {
                        response.headers_mut().insert(name, value.parse().unwrap());
                    }
                    response
                };
                let missing = || {
                    let xml = "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
                    axum::response::IntoResponse::into_response((Status::NOT_FOUND, xml))
                };
                match method {
                    Method::PUT => {
                        objects.insert(path, body.to_vec());
                        axum::response::IntoResponse::into_response((Status::OK, [("etag", "\"0123456789abcdef\"")]))
                    }
                    Method::GET | Method::HEAD => match objects.get(&path) {
                        Some(bytes) => found(bytes, method == Method::GET),
                        None => missing(),
                    },
                    Method::DELETE => {
                        objects.remove(&path);
                        axum::response::IntoResponse::into_response(Status::NO_CONTENT)
                    }
                    _ => axum::response::IntoResponse::into_response(Status::METHOD_NOT_ALLOWED),
                }
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(handler)).await });
        (fake, url)
    }
}

async fn files_go_to_an_s3_compatible_store_by_configuration(app: TestApp) {
    let (s3, endpoint) = FakeS3::start().await;
    let herald = app
        .configured(|config| {
            config.files = herald_engine::files::FilesConfig {
                store: herald_engine::files::StoreKind::S3,
                bucket: Some("clinic-files".into()),
                endpoint: Some(endpoint),
                region: Some("eu-south-1".into()),
                access_key_id: Some("AKIDEXAMPLE".into()),
                secret_access_key: Some(herald_core::secrets::Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")),
                ..config.files.clone()
            };
        })
        .await;
    let key = &app.admin_key;
    let report = pdf();
    let response = app
        .client
        .post(format!("{}/files", herald.base))
        .bearer_auth(key)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(form("referto.pdf", Some("application/pdf"), &report))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let stored: Value = response.json().await.unwrap();
    let id = stored["_id"].as_str().unwrap().to_string();
    let objects: Vec<Vec<u8>> = s3.objects.lock().unwrap().values().cloned().collect();
    assert_eq!(objects, std::slice::from_ref(&report), "the bytes are in the bucket");

    let download = app.client.get(format!("{}/files/{id}/download", herald.base)).bearer_auth(key).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.unwrap().to_vec(), report, "and come back from it intact");
    let deleted = app.client.delete(format!("{}/files/{id}", herald.base)).bearer_auth(key).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(s3.objects.lock().unwrap().is_empty(), "a delete removes the object");

    let requests = s3.requests.lock().unwrap().clone();
    let methods: Vec<&str> = requests.iter().map(|(method, _, _)| method.as_str()).collect();
    assert!(methods.contains(&"PUT") && methods.contains(&"GET") && methods.contains(&"DELETE"), "{requests:?}");
    assert!(
        requests.iter().all(|(_, path, signed)| path.starts_with("/clinic-files/") && *signed),
        "path-style and SigV4-signed: {requests:?}"
    );
}
