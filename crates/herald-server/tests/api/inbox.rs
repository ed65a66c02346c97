//! The patient notification center (seed 04): in-app messages land in the patient's inbox the
//! moment they are delivered and reach every open WebSocket of that patient; read, dismiss,
//! archive and read-all change it for all their devices; SSE resumes from `Last-Event-ID`;
//! another patient can neither connect to nor touch someone else's notifications.

use crate::preferences::token;
use crate::support::{TestApp, assert_error, cases};
use futures_util::StreamExt;
use herald_channels::{ConsoleProvider, InAppProvider};
use herald_core::resources::channel::Channel;
use herald_engine::delivery::{DeliveryConfig, Dispatcher};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

cases![
    inbox_over_websocket_gets_a_reminder_as_it_is_delivered_and_every_device_sees_it_read,
    inbox_over_sse_resumes_from_last_event_id,
    inbox_list_pages_filters_and_refuses_unknown_values,
    inbox_dismiss_archive_and_read_all_change_the_lists,
    inbox_changes_reach_clients_of_another_instance_on_postgres,
    inbox_entries_can_be_sent_by_hand_with_a_priority,
];

/// How long a test waits for a message that must come (a guard, not a delay: messages come
/// at once).
const PATIENCE: Duration = Duration::from_secs(10);

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Patients `ids`, and templates and in-app settings for appointment reminders and reports.
async fn clinic(app: &TestApp, ids: &[&str]) {
    let key = &app.admin_key;
    for id in ids {
        app.create("users", key, json!({"id": id, "emailAddress": format!("{id}@example.org"), "groups": ["patients"]})).await;
    }
    app.create(
        "templates",
        key,
        json!({"name": "appointment_reminder", "pushTitle": "Appointment tomorrow", "emailTitle": "Reminder", "emailMessage": "See you soon",
               "smsMessage": "See you on {{data.start_time}}"}),
    )
    .await;
    app.create(
        "notification-settings",
        key,
        json!({"eventName": "appointment.reminder", "group": "patients", "channels": ["in_app"], "templateName": "appointment_reminder"}),
    )
    .await;
    app.create(
        "notification-settings",
        key,
        json!({"eventName": "report.ready", "group": "patients", "channels": ["in_app"], "templateName": "report"}),
    )
    .await;
    app.create("templates", key, json!({"name": "report", "emailTitle": "Your report", "emailMessage": "Your report is ready to view"}))
        .await;
}

fn dispatcher(app: &TestApp) -> Dispatcher {
    app.dispatcher_with(
        vec![(Channel::InApp, Arc::new(InAppProvider)), (Channel::Email, Arc::new(ConsoleProvider::default()))],
        DeliveryConfig::default(),
    )
}

/// Emits `report.ready` for `patient` (with event metadata `metadata`) and delivers it.
async fn report_ready(app: &TestApp, patient: &str, metadata: Value) {
    let (status, answer) = app.emit(json!({"name": "report.ready", "metadata": metadata, "payload": {"patient_id": patient}})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(dispatcher(app).run_due().await.unwrap(), 1, "one in-app message: {answer}");
}

fn ws_url(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.base.replacen("http", "ws", 1))
}

/// Opens the patient's WebSocket with the token in the Authorization header.
async fn connect(app: &TestApp, patient: &str, as_user: &str) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let mut request = ws_url(app, &format!("/patient-notifications/ws/{patient}")).into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", token(as_user)).parse().unwrap());
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

/// The next change a socket carries.
async fn next_change(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next()).await.expect("a change arrives").expect("the socket is open").unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

fn refused_with(result: Result<Socket, tokio_tungstenite::tungstenite::Error>) -> u16 {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        other => panic!("the upgrade should be refused: {:?}", other.map(|_| "connected")),
    }
}

async fn inbox_over_websocket_gets_a_reminder_as_it_is_delivered_and_every_device_sees_it_read(app: TestApp) {
    clinic(&app, &["p-1", "p-2"]).await;
    let mut phone = connect(&app, "p-1", "p-1").await.expect("the patient connects");
    let query = format!("/patient-notifications/ws/p-1?token={}", token("p-1"));
    let (mut browser, _) =
        tokio_tungstenite::connect_async(ws_url(&app, &query)).await.expect("a browser connects with the token in the query");
    assert_eq!(refused_with(connect(&app, "p-1", "p-2").await), 403, "another patient's token cannot follow p-1");
    let mut foreign = ws_url(&app, "/patient-notifications/ws/p-1").into_client_request().unwrap();
    foreign.headers_mut().insert("authorization", format!("Bearer {}", token("p-1")).parse().unwrap());
    foreign.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    assert_eq!(refused_with(tokio_tungstenite::connect_async(foreign).await.map(|(s, _)| s)), 403, "an origin not configured is refused");
    let anonymous = tokio_tungstenite::connect_async(ws_url(&app, "/patient-notifications/ws/p-1")).await;
    assert_eq!(refused_with(anonymous.map(|(s, _)| s)), 401);

    let start = app.now().checked_add(SignedDuration::from_hours(72)).unwrap();
    let scheduled = json!({"name": "appointment.scheduled", "payload": {"appointment_id": "a-1", "patient_id": "p-1",
        "start_time": herald_core::document::format_timestamp(start)}});
    assert_eq!(app.emit(scheduled).await.0, StatusCode::OK);
    assert_eq!(app.advance_and_run(SignedDuration::from_hours(48)).await, 1, "the 24-hour reminder fires");
    let delivered = dispatcher(&app).run_due().await.unwrap();
    assert!(delivered >= 1, "the reminder is delivered");

    let created = next_change(&mut phone).await;
    assert_eq!(
        (created["event"].as_str(), created["notification"]["type"].as_str()),
        (Some("created"), Some("appointment_reminder")),
        "{created}"
    );
    let notification = &created["notification"];
    assert_eq!(
        (notification["title"].as_str(), notification["priority"].as_str(), notification["read"].as_bool()),
        (Some("Appointment tomorrow"), Some("medium"), Some(false))
    );
    assert!(notification["message"].as_str().unwrap().starts_with("See you on "), "{notification}");
    let id = notification["id"].as_str().unwrap().to_string();
    assert_eq!(next_change(&mut browser).await["notification"]["id"], id, "every connection of the patient gets it");

    // Another patient can neither see nor change it.
    let (status, theirs) = app.get("/patient-notifications", &token("p-2")).await;
    assert_eq!((status, theirs["total"].as_u64()), (StatusCode::OK, Some(0)), "{theirs}");
    for action in ["read", "dismiss", "archive"] {
        assert_error(
            &app.post(&format!("/patient-notifications/{id}/{action}"), &token("p-2"), json!({})).await,
            StatusCode::NOT_FOUND,
            "notification",
        );
    }
    let (_, mine) = app.get("/patient-notifications", &token("p-1")).await;
    assert_eq!((mine["total"].as_u64(), mine["unreadCount"].as_u64()), (Some(1), Some(1)), "nothing changed: {mine}");
    assert_eq!(mine["notifications"][0]["id"], id);

    // The phone marks it read; the browser sees the change.
    let (status, read) = app.post(&format!("/patient-notifications/{id}/read"), &token("p-1"), json!({})).await;
    assert_eq!((status, read["read"].as_bool()), (StatusCode::OK, Some(true)), "{read}");
    let updated = next_change(&mut browser).await;
    assert_eq!((updated["event"].as_str(), updated["notification"]["read"].as_bool()), (Some("updated"), Some(true)), "{updated}");
    assert!(updated["seq"].as_i64() > created["seq"].as_i64());
    assert_eq!(next_change(&mut phone).await["notification"]["id"], id);
    let (_, count) = app.get("/patient-notifications/unread-count", &token("p-1")).await;
    assert_eq!(count, json!({"unreadCount": 0}));
    let (status, again) = app.post(&format!("/patient-notifications/{id}/read"), &token("p-1"), json!({})).await;
    assert_eq!((status, &again["readAt"]), (StatusCode::OK, &read["readAt"]), "reading twice changes nothing");
    let (_, log) = app.get("/api/v1/notifications/logs?channel=in_app&patient_id=p-1", &app.admin_key).await;
    assert_eq!(log["items"][0]["status"], "read", "the clinic sees the in-app message read: {log}");

    // A reconnecting device gets what it missed after the seq it saw.
    drop(browser);
    let since = created["seq"].as_i64().unwrap();
    let query = format!("/patient-notifications/ws/p-1?token={}&since={since}", token("p-1"));
    let (mut back, _) = tokio_tungstenite::connect_async(ws_url(&app, &query)).await.unwrap();
    let missed = next_change(&mut back).await;
    assert_eq!((missed["notification"]["id"].as_str(), missed["seq"].as_i64()), (Some(id.as_str()), updated["seq"].as_i64()));
}

/// Reads SSE events (`(event, id, data)`) from a response until `count` have come.
async fn sse_events(mut response: reqwest::Response, count: usize) -> Vec<(String, String, Value)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    while events.len() < count {
        let chunk = tokio::time::timeout(PATIENCE, response.chunk()).await.expect("an event arrives").unwrap().expect("the stream is open");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()));
            if let (Some(event), Some(id), Some(data)) = (field("event"), field("id"), field("data")) {
                events.push((event, id, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    events
}

fn stream(app: &TestApp, patient: &str) -> reqwest::RequestBuilder {
    stream_at(app, &app.base, patient)
}

fn stream_at(app: &TestApp, base: &str, patient: &str) -> reqwest::RequestBuilder {
    app.client.get(format!("{base}/patient-notifications/stream")).bearer_auth(token(patient))
}

async fn inbox_over_sse_resumes_from_last_event_id(app: TestApp) {
    clinic(&app, &["p-1"]).await;
    let live = stream(&app, "p-1").send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(live.headers()["content-type"], "text/event-stream");
    report_ready(&app, "p-1", json!({"priority": "high"})).await;
    report_ready(&app, "p-1", json!({"urgent": true})).await;
    let first = sse_events(live, 2).await;
    assert_eq!(
        first.iter().map(|(e, _, d)| (e.as_str(), d["priority"].as_str().unwrap())).collect::<Vec<_>>(),
        [("created", "high"), ("created", "urgent")]
    );
    assert_eq!(first[0].2["type"], "report_ready");

    // Offline: one more arrives and the first is read; the client comes back with the last id
    // it saw and gets exactly those two changes.
    let (last_seen, first_id) = (first[0].1.clone(), first[0].2["id"].as_str().unwrap().to_string());
    report_ready(&app, "p-1", json!({})).await;
    let (status, _) = app.post(&format!("/patient-notifications/{first_id}/read"), &token("p-1"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let resumed = stream(&app, "p-1").header("last-event-id", &last_seen).send().await.unwrap();
    let missed = sse_events(resumed, 3).await;
    let seen: Vec<(&str, &str, bool)> =
        missed.iter().map(|(e, _, d)| (e.as_str(), d["priority"].as_str().unwrap(), d["read"].as_bool().unwrap())).collect();
    assert_eq!(seen, [("created", "urgent", false), ("created", "medium", false), ("updated", "high", true)]);
    let ids: Vec<i64> = missed.iter().map(|(_, id, _)| id.parse().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]) && ids[0] > last_seen.parse::<i64>().unwrap(),
        "in order, after the last one seen: {ids:?}"
    );

    let bad = stream(&app, "p-1").header("last-event-id", "yesterday").send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let anonymous = app.client.get(format!("{}/patient-notifications/stream", app.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

async fn inbox_list_pages_filters_and_refuses_unknown_values(app: TestApp) {
    clinic(&app, &["p-1"]).await;
    for priority in ["low", "medium", "high", "urgent", "low"] {
        report_ready(&app, "p-1", json!({"priority": priority})).await;
    }
    let me = token("p-1");
    let (_, all) = app.get("/patient-notifications", &me).await;
    let priorities: Vec<&str> = all["notifications"].as_array().unwrap().iter().map(|n| n["priority"].as_str().unwrap()).collect();
    assert_eq!(priorities, ["low", "urgent", "high", "medium", "low"], "newest first");
    assert_eq!((all["total"].as_u64(), all["unreadCount"].as_u64()), (Some(5), Some(5)));

    let (_, first) = app.get("/patient-notifications?limit=2", &me).await;
    let cursor = first["nextCursor"].as_str().expect("a cursor while there is more");
    let (_, second) = app.get(&format!("/patient-notifications?limit=2&cursor={cursor}"), &me).await;
    assert_eq!(second["notifications"][0]["id"], all["notifications"][2]["id"], "the cursor continues where the page ended");
    let (_, paged) = app.get("/patient-notifications?limit=2&page=3", &me).await;
    assert_eq!((paged["notifications"].as_array().unwrap().len(), &paged["notifications"][0]["id"]), (1, &all["notifications"][4]["id"]));

    let (_, low) = app.get("/patient-notifications?priority=low,urgent", &me).await;
    assert_eq!(low["total"].as_u64(), Some(3));
    let (_, typed) = app.get("/patient-notifications?type=report_ready&unread=true", &me).await;
    assert_eq!(typed["total"].as_u64(), Some(5));
    let (_, other_type) = app.get("/patient-notifications?type=welcome", &me).await;
    assert_eq!(other_type["total"].as_u64(), Some(0));

    for (query, field) in [
        ("priority=critical", "priority"),
        ("type=made_up", "type"),
        ("unread=yes", "unread"),
        ("archived=1", "archived"),
        ("limit=0", "limit"),
        ("page=2&cursor=3", "page"),
        ("colour=red", "colour"),
    ] {
        assert_error(&app.get(&format!("/patient-notifications?{query}"), &me).await, StatusCode::BAD_REQUEST, field);
    }
    assert_error(&app.call(reqwest::Method::GET, "/patient-notifications", None, None).await, StatusCode::UNAUTHORIZED, "token");
}

async fn inbox_dismiss_archive_and_read_all_change_the_lists(app: TestApp) {
    clinic(&app, &["p-1", "p-2"]).await;
    for _ in 0..3 {
        report_ready(&app, "p-1", json!({})).await;
    }
    report_ready(&app, "p-2", json!({})).await;
    let me = token("p-1");
    let (_, all) = app.get("/patient-notifications", &me).await;
    let ids: Vec<String> = all["notifications"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()).collect();

    let (status, dismissed) = app.post(&format!("/patient-notifications/{}/dismiss", ids[0]), &me, json!({})).await;
    assert_eq!((status, dismissed["dismissed"].as_bool()), (StatusCode::OK, Some(true)));
    let (status, archived) = app.post(&format!("/patient-notifications/{}/archive", ids[1]), &me, json!({})).await;
    assert_eq!((status, archived["archived"].as_bool()), (StatusCode::OK, Some(true)));
    let (_, main) = app.get("/patient-notifications", &me).await;
    assert_eq!((main["total"].as_u64(), &main["notifications"][0]["id"]), (Some(1), &Value::from(ids[2].clone())), "{main}");
    let (_, archive) = app.get("/patient-notifications?archived=true", &me).await;
    assert_eq!((archive["total"].as_u64(), &archive["notifications"][0]["id"]), (Some(1), &Value::from(ids[1].clone())));
    let (_, count) = app.get("/patient-notifications/unread-count", &me).await;
    assert_eq!(count["unreadCount"], 1, "dismissed and archived ones are not counted");

    let (_, back) = app.post(&format!("/patient-notifications/{}/unarchive", ids[1]), &me, json!({})).await;
    assert_eq!(back["archived"], false);
    let (status, all_read) = app.post("/patient-notifications/read-all", &me, json!({})).await;
    assert_eq!((status, all_read), (StatusCode::OK, json!({"updated": 2})));
    let (_, log) = app.get("/api/v1/notifications/logs?channel=in_app&patient_id=p-1&status=read", &app.admin_key).await;
    assert_eq!(log["total"], 3, "read, dismissed and read-all entries are read in the message log: {log}");
    let (_, count) = app.get("/patient-notifications/unread-count", &me).await;
    assert_eq!(count["unreadCount"], 0);
    let (_, theirs) = app.get("/patient-notifications/unread-count", &token("p-2")).await;
    assert_eq!(theirs["unreadCount"], 1, "read-all touches only the caller's notifications");
    assert_error(&app.post("/patient-notifications/no-such-id/read", &me, json!({})).await, StatusCode::NOT_FOUND, "notification");
}

async fn inbox_changes_reach_clients_of_another_instance_on_postgres(app: TestApp) {
    if !app.config.database_url.starts_with("postgres") {
        return; // SQLite serves one instance: its signals stay in the process.
    }
    clinic(&app, &["p-1"]).await;
    let (other, stop) = app.second_instance().await;
    let live = stream_at(&app, &other, "p-1").send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    report_ready(&app, "p-1", json!({})).await;
    let (status, read_all) = app.post("/patient-notifications/read-all", &token("p-1"), json!({})).await;
    assert_eq!((status, read_all), (StatusCode::OK, json!({"updated": 1})));
    let seen = sse_events(live, 2).await;
    let kinds: Vec<(&str, bool)> = seen.iter().map(|(e, _, d)| (e.as_str(), d["read"].as_bool().unwrap())).collect();
    assert_eq!(kinds, [("created", false), ("updated", true)], "the other instance's client sees the delivery and the change");
    stop.cancel();
}

async fn inbox_entries_can_be_sent_by_hand_with_a_priority(app: TestApp) {
    clinic(&app, &["p-1", "p-2"]).await;
    let send = json!({"channels": ["in_app"], "recipients": ["p-1"], "messageTitle": "Clinic closed",
        "messageContent": "The clinic is closed on Friday.", "priority": "high"});
    let bad = json!({"channels": ["in_app"], "recipients": ["p-1"], "messageTitle": "x", "messageContent": "y", "priority": "critical"});
    assert_error(&app.post("/send", &app.admin_key, bad).await, StatusCode::BAD_REQUEST, "priority");
    let (status, answer) = app.post("/send", &app.admin_key, send).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(dispatcher(&app).run_due().await.unwrap(), 1);
    let (_, mine) = app.get("/patient-notifications", &token("p-1")).await;
    let entry = &mine["notifications"][0];
    assert_eq!(
        (entry["title"].as_str(), entry["message"].as_str(), entry["priority"].as_str(), mine["total"].as_u64()),
        (Some("Clinic closed"), Some("The clinic is closed on Friday."), Some("high"), Some(1)),
        "{mine}"
    );
    let (_, theirs) = app.get("/patient-notifications", &token("p-2")).await;
    assert_eq!(theirs["total"], 0, "only the recipient gets it");
}
