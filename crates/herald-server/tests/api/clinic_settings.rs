//! Seed 05's clinic settings, manual sends and test email: per-type `enabled`, `auto_send`,
//! `hours_before` and `mandatory`, read and changed under seed 05's permissions and audited; a
//! type disabled at clinic level or needing a manual send is skipped with seed 05's reason,
//! and `POST /api/v1/notifications/send` then sends it; the test email reaches a real local
//! SMTP server through the configured email provider.

use crate::preferences::audited;
use crate::support::{TestApp, assert_error, cases, messages, triple};
use herald_channels::{ProviderConfig, SmtpConfig, SmtpSecurity};
use herald_core::access::Role;
use herald_core::resources::channel::Channel;
use herald_server::App;
use herald_testkit::smtp::SmtpSink;
use jiff::SignedDuration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

cases![
    settings_are_read_changed_and_audited_under_seed_05_permissions,
    bad_settings_are_refused_and_change_nothing,
    a_type_disabled_at_clinic_level_is_skipped,
    hours_before_sets_the_first_appointment_reminder,
    auto_send_off_needs_a_manual_send_which_then_sends_it,
    the_test_email_goes_through_the_email_provider,
];

const SETTINGS: &str = "/api/v1/notifications/settings";

async fn put(app: &TestApp, key: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, SETTINGS, Some(key), Some(body)).await
}

async fn settings_are_read_changed_and_audited_under_seed_05_permissions(app: TestApp) {
    let (viewer, _) = app.key("default", Role::Viewer).await;
    let (manager, _) = app.key("default", Role::Manager).await;
    let (integration, _) = app.key("default", Role::Integration).await;
    let (status, defaults) = app.get(SETTINGS, &viewer).await;
    assert_eq!(status, StatusCode::OK, "{defaults}");
    assert_eq!(
        defaults["settings"]["appointment_reminder"],
        json!({"enabled": true, "auto_send": true, "hours_before": 24, "mandatory": false})
    );
    assert_eq!(defaults["settings"]["budget_sent"], json!({"enabled": true, "auto_send": true, "mandatory": false}));
    assert_eq!(defaults["settings"].as_object().unwrap().len(), 16, "seed 05's six types and seed 02's other ten");

    assert_error(
        &put(&app, &viewer, json!({"settings": {"budget_sent": {"auto_send": false}}})).await,
        StatusCode::FORBIDDEN,
        "notifications.settings.write",
    );
    assert_error(&app.get(SETTINGS, &integration).await, StatusCode::FORBIDDEN, "notifications.settings.read");
    assert_eq!(app.get(SETTINGS, &viewer).await.1, defaults, "the refused change changed nothing");

    let change = json!({"settings": {"appointment_reminder": {"hours_before": 48}, "budget_sent": {"auto_send": false},
        "prescription_created": {"custom": true, "enabled": true}}});
    let (status, changed) = put(&app, &manager, change).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["settings"]["appointment_reminder"]["hours_before"], 48);
    assert_eq!(changed["settings"]["appointment_reminder"]["enabled"], true, "fields not given are kept");
    assert_eq!(changed["settings"]["budget_sent"]["auto_send"], false);
    assert_eq!(
        changed["settings"]["prescription_created"],
        json!({"enabled": true, "auto_send": true, "mandatory": false, "custom": true})
    );
    assert_eq!(app.get(SETTINGS, &viewer).await.1, changed);

    let records = audited(&app, "clinic_settings.update").await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["changes"]["after"]["budget_sent"]["auto_send"], false, "{records:?}");

    // A tenant's own type can now be chosen by patients.
    app.create("users", &app.admin_key, json!({"id": "p-1"})).await;
    let path = "/api/v1/notifications/preferences/p-1/prescription_created";
    let (status, preferences) = app.call(Method::PUT, path, Some(&manager), Some(json!({"enabled": false}))).await;
    assert_eq!((status, preferences["preferences"]["prescription_created"]["enabled"].clone()), (StatusCode::OK, json!(false)));
}

async fn bad_settings_are_refused_and_change_nothing(app: TestApp) {
    let key = &app.admin_key;
    let (_, before) = app.get(SETTINGS, key).await;
    let cases = [
        (json!({"settings": {"holiday_greetings": {"enabled": false}}}), "settings.holiday_greetings"),
        (json!({"settings": {"budget_sent": {"auto_send": "never"}}}), "settings.budget_sent.auto_send"),
        (json!({"settings": {"budget_sent": {"auto_sned": false}}}), "settings.budget_sent.auto_sned"),
        (json!({"settings": {"appointment_reminder": {"hours_before": 0}}}), "settings.appointment_reminder.hours_before"),
        (json!({"settings": {"appointment_reminder": {"hours_before": -3}}}), "settings.appointment_reminder.hours_before"),
        (json!({"settings": {"welcome": {"custom": true}}}), "settings.welcome.custom"),
        (json!({"settings": {"Mixed Case": {"custom": true}}}), "settings.Mixed Case"),
        (json!({"settings": []}), "settings"),
        (json!({"budget_sent": {"enabled": false}}), "budget_sent"),
    ];
    for (body, field) in cases {
        assert_error(&put(&app, key, body).await, StatusCode::BAD_REQUEST, field);
    }
    assert_eq!(app.get(SETTINGS, key).await.1, before, "nothing changed");
    assert!(audited(&app, "clinic_settings.update").await.is_empty());
}

async fn a_type_disabled_at_clinic_level_is_skipped(app: TestApp) {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "p-1", "emailAddress": "p1@example.org", "phoneNumber": "+34600000001"})).await;
    let (status, _) = put(&app, key, json!({"settings": {"report_ready": {"enabled": false}}})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, answer) = app.emit(json!({"name": "report.ready", "payload": {"patient_id": "p-1"}})).await;
    assert_eq!(
        messages(&answer["notifications"][0]),
        [triple("whatsapp", "report_ready", "skipped"), triple("email", "report_ready", "skipped")]
    );
    assert!(
        answer["notifications"][0]["messages"].as_array().unwrap().iter().all(|m| m["reason"] == "disabled_at_clinic_level"),
        "{answer}"
    );
    let (_, other) = app.emit(json!({"name": "prescription.ready", "payload": {"patient_id": "p-1"}})).await;
    assert_eq!(
        messages(&other["notifications"][0]),
        [triple("whatsapp", "prescription_ready", "queued"), triple("email", "prescription_ready", "queued")]
    );
    // A manual send does not bring back what the clinic turned off.
    let (_, manual) = app.post("/api/v1/notifications/send", key, json!({"notification_type": "report_ready", "patient_id": "p-1"})).await;
    assert_eq!(manual["notifications"][0]["messages"][1]["reason"], "disabled_at_clinic_level", "{manual}");
}

async fn hours_before_sets_the_first_appointment_reminder(app: TestApp) {
    let (status, _) = put(&app, &app.admin_key, json!({"settings": {"appointment_reminder": {"hours_before": 48}}})).await;
    assert_eq!(status, StatusCode::OK);
    let start = app.now().checked_add(SignedDuration::from_hours(72)).unwrap();
    let iso = herald_core::document::format_timestamp;
    let (status, answer) = app
        .emit(json!({"name": "appointment.scheduled", "payload": {"appointment_id": "a-1", "patient_email": "p1@example.org", "start_time": iso(start)}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let due: Vec<&str> =
        answer["notifications"][0]["reminders"].as_array().unwrap().iter().map(|r| r["expirationDate"].as_str().unwrap()).collect();
    let before = |minutes: i64| iso(start.checked_sub(SignedDuration::from_mins(minutes)).unwrap());
    assert_eq!(due, [before(48 * 60), before(120), before(30)], "48 hours, then seed 02's 2 hours and 30 minutes");
}

async fn auto_send_off_needs_a_manual_send_which_then_sends_it(app: TestApp) {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "p-1", "emailAddress": "p1@example.org"})).await;
    app.create(
        "templates",
        key,
        json!({"name": "budget_sent", "emailTitle": "Your quote {{data.budget_number}}", "emailMessage": "Total {{data.total}}"}),
    )
    .await;
    put(&app, key, json!({"settings": {"budget_sent": {"auto_send": false}}})).await;
    let budget = json!({"patient_id": "p-1", "budget_id": "b-1", "budget_number": "Q-17", "total": "120.00"});

    let (status, automatic) = app.emit(json!({"name": "budget.sent", "payload": budget})).await;
    assert_eq!(status, StatusCode::OK, "{automatic}");
    assert_eq!(messages(&automatic["notifications"][0]), [triple("email", "budget_sent", "skipped")]);
    assert_eq!(automatic["notifications"][0]["messages"][0]["reason"], "manual_send_required");

    let (viewer, _) = app.key("default", Role::Viewer).await;
    let mut manual = budget.clone();
    manual["notification_type"] = json!("budget_sent");
    assert_error(&app.post("/api/v1/notifications/send", &viewer, manual.clone()).await, StatusCode::FORBIDDEN, "notifications.send");
    let (manager, _) = app.key("default", Role::Manager).await;
    let (status, sent) = app.post("/api/v1/notifications/send", &manager, manual).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(messages(&sent["notifications"][0]), [triple("email", "budget_sent", "queued")]);
    let (_, record) = app.get(&format!("/events/{}", sent["_id"].as_str().unwrap()), key).await;
    assert_eq!((record["name"].as_str(), record["source"].as_str()), (Some("budget.sent"), Some("manual")), "{record}");

    let sink = SmtpSink::start();
    let dispatcher = app.dispatcher_with(vec![(Channel::Email, smtp(&sink))], Default::default());
    assert_eq!(dispatcher.run_due().await.unwrap(), 1);
    let mail = sink.received();
    assert_eq!(mail.len(), 1, "only the manual send goes out");
    assert_eq!(mail[0].to, ["p1@example.org"]);
    let parsed = mail_parser::MessageParser::default().parse(&mail[0].data).unwrap();
    assert_eq!(parsed.subject(), Some("Your quote Q-17"));

    for (body, status, field) in [
        (json!({"patient_id": "p-1"}), StatusCode::BAD_REQUEST, "notification_type"),
        (json!({"notification_type": "no_such_type", "patient_id": "p-1"}), StatusCode::BAD_REQUEST, "notification_type"),
        (json!({"notification_type": 7}), StatusCode::BAD_REQUEST, "notification_type"),
    ] {
        assert_error(&app.post("/api/v1/notifications/send", &manager, body).await, status, field);
    }
}

fn smtp_config(sink: &SmtpSink) -> SmtpConfig {
    SmtpConfig {
        security: SmtpSecurity::Plain,
        timeout_seconds: 5,
        max_connections: 2,
        ..SmtpConfig::new("127.0.0.1", sink.port, "Clinica San Luca <noreply@sanluca.example>")
    }
}

fn smtp(sink: &SmtpSink) -> std::sync::Arc<dyn herald_channels::Provider> {
    std::sync::Arc::new(herald_channels::SmtpProvider::new(&smtp_config(sink)).unwrap())
}

async fn the_test_email_goes_through_the_email_provider(app: TestApp) {
    let sink = SmtpSink::start();
    let mut config = app.config.clone();
    config.channels.insert(Channel::Email, ProviderConfig::Smtp(smtp_config(&sink)));
    let smtp_app = App::build_with_clock(config, app.clock.clone()).await.unwrap();
    let base = format!("http://{}", smtp_app.local_addr());
    let stop = smtp_app.shutdown_token();
    let server = tokio::spawn(smtp_app.run_until_stopped());
    let call = |key: &str, body: Value| {
        app.client.post(format!("{base}/api/v1/notifications/test")).bearer_auth(key.to_string()).json(&body).send()
    };

    let (viewer, _) = app.key("default", Role::Viewer).await;
    assert_eq!(call(&viewer, json!({"to_email": "admin@example.org"})).await.unwrap().status(), StatusCode::FORBIDDEN);
    for body in [json!({"to_email": "not-an-address"}), json!({}), json!({"to_email": "a@example.org", "cc": "b@example.org"})] {
        assert_eq!(call(&app.admin_key, body).await.unwrap().status(), StatusCode::BAD_REQUEST);
    }
    assert!(sink.received().is_empty());

    let answer = call(&app.admin_key, json!({"to_email": "admin@example.org"})).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!((body["success"].as_bool(), body["provider"].as_str()), (Some(true), Some("smtp")), "{body}");
    let mail = sink.received();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, ["admin@example.org"]);
    let parsed = mail_parser::MessageParser::default().parse(&mail[0].data).unwrap();
    assert_eq!(parsed.subject(), Some("Herald test email"));
    assert_eq!(body["message_id"], format!("<{}>", parsed.message_id().unwrap()));

    // The app under test runs the console provider: the test email is accepted there too.
    let (status, console) = app.post("/api/v1/notifications/test", &app.admin_key, json!({"to_email": "admin@example.org"})).await;
    assert_eq!((status, console["provider"].as_str()), (StatusCode::OK, Some("console")), "{console}");
    stop.cancel();
    server.await.unwrap().unwrap();
}
