//! Seed 05's SMTP settings: the shapes and permissions of `GET`/`PUT
//! /api/v1/notifications/smtp-settings`, a tenant's settings routing its email to its own
//! server while another tenant uses the global provider, `console` and `disabled`, and the
//! test endpoint refusing internal hosts and verifying a good one.

use crate::providers::{call, closed_port, instance, keyring};
use crate::support::{TestApp, assert_error, cases};
use herald_channels::ProviderConfig;
use herald_core::access::Role;
use herald_core::document::format_timestamp;
use herald_core::resources::Collection;
use herald_core::resources::channel::Channel;
use herald_core::secrets::is_sealed;
use herald_testkit::smtp::SmtpSink;
use jiff::SignedDuration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

cases![
    settings_round_trip_with_a_write_only_password,
    bad_settings_and_missing_permissions_change_nothing,
    a_tenants_own_settings_route_its_email_while_others_use_the_global_provider,
    console_accepts_and_disabled_switches_the_tenants_email_off,
    the_test_endpoint_refuses_internal_hosts_and_verifies_a_good_one,
];

const PATH: &str = "/api/v1/notifications/smtp-settings";
const PASSWORD: &str = "app-password-7f3a";

/// Settings for a local server. The password is stored but not used: without a username there
/// is no login (the local sink offers none).
fn settings(port: u16) -> Value {
    json!({"provider": "smtp", "host": "127.0.0.1", "port": port, "password": PASSWORD,
           "use_tls": false, "use_ssl": false, "from_email": "noreply@clinic-b.example", "from_name": "Clinica \"San\" Luca"})
}

async fn settings_round_trip_with_a_write_only_password(app: TestApp) {
    let key = app.admin_key.clone();
    let node = instance(&app, vec![]).await;
    let (status, unset) = app.get(PATH, &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        unset,
        json!({"provider": "smtp", "host": null, "port": 587, "username": null, "has_password": false, "use_tls": true, "use_ssl": false,
               "from_email": null, "from_name": null, "is_active": false, "is_verified": false, "last_verified_at": null}),
        "without tenant settings the global ones apply"
    );

    let mut body = settings(2525);
    body["username"] = json!("clinic@clinic-b.example");
    let (status, saved) = call(&app, &node.base, Method::PUT, PATH, &key, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let expected = json!({"provider": "smtp", "host": "127.0.0.1", "port": 2525, "username": "clinic@clinic-b.example", "has_password": true,
                          "use_tls": false, "use_ssl": false, "from_email": "noreply@clinic-b.example", "from_name": "Clinica \"San\" Luca",
                          "is_active": true, "is_verified": false, "last_verified_at": null});
    assert_eq!(saved, expected);
    assert_eq!(app.get(PATH, &key).await, (StatusCode::OK, expected.clone()));

    // What a client read can be sent back: the password is kept, read-only fields ignored.
    let (status, again) = call(&app, &node.base, Method::PUT, PATH, &key, Some(expected.clone())).await;
    assert_eq!((status, again), (StatusCode::OK, expected.clone()));
    let rows = app
        .store
        .find_documents(Collection::Providers, "default", &herald_core::query::ListQuery::matching(herald_core::query::Filter::all(), 5))
        .await
        .unwrap();
    let row = Value::Object(rows[0].body.clone());
    assert!(!row.to_string().contains(PASSWORD), "never stored in the clear: {row}");
    let sealed = row["config"]["password"].as_str().unwrap();
    assert!(is_sealed(sealed));
    assert_eq!(keyring(&app).open(sealed).unwrap(), PASSWORD);
    assert_eq!(row["priority"], 0);

    let mut cleared = expected.clone();
    cleared["password"] = json!("");
    let (status, without) = call(&app, &node.base, Method::PUT, PATH, &key, Some(cleared)).await;
    assert_eq!((status, without["has_password"].as_bool()), (StatusCode::OK, Some(false)), "\"\" clears the password");
    let (status, console) = app.call(Method::PUT, PATH, Some(&key), Some(json!({"provider": "console"}))).await;
    assert_eq!((status, console["provider"].as_str(), console["is_active"].as_bool()), (StatusCode::OK, Some("console"), Some(true)));
    for body in [saved, console] {
        assert!(!body.to_string().contains(PASSWORD), "{body}");
    }
    let (_, trail) = app.get("/api/v1/audit?action=smtp_settings.update", &key).await;
    let entries = trail["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "every PUT is audited: {trail}");
    assert_eq!(
        (entries[0]["changes"]["after"]["provider"].as_str(), entries[0]["changes"]["before"]["has_password"].as_bool()),
        (Some("console"), Some(false))
    );
    assert_eq!(entries[3]["changes"]["before"], Value::Null, "the first PUT created the settings");
    assert!(!trail.to_string().contains(PASSWORD), "{trail}");
}

async fn bad_settings_and_missing_permissions_change_nothing(app: TestApp) {
    let key = app.admin_key.clone();
    let (status, _) = app.call(Method::PUT, PATH, Some(&key), Some(json!({"provider": "console"}))).await;
    assert_eq!(status, StatusCode::OK);
    let before = app.get(PATH, &key).await;
    let bad = [
        (json!({"provider": "sendgrid"}), "provider"),
        (json!({"provider": "smtp", "from_email": "noreply@clinic.example"}), "host"),
        (json!({"provider": "smtp", "host": "smtp.clinic.example", "port": 0, "from_email": "noreply@clinic.example"}), "port"),
        (json!({"provider": "smtp", "host": "127.0.0.1", "port": 70000, "from_email": "noreply@clinic.example"}), "port"),
        (json!({"provider": "smtp", "host": "127.0.0.1", "from_email": "not-an-address"}), "from_email"),
        (
            json!({"provider": "smtp", "host": "127.0.0.1", "from_email": "a@clinic.example", "from_name": "Evil\r\nBcc: x@y.z"}),
            "from_name",
        ),
        (json!({"provider": "smtp", "host": "smtp.clinic.example\r\nRCPT TO:<x@y.z>", "from_email": "a@clinic.example"}), "host"),
        (json!({"provider": "smtp", "host": "127.0.0.1", "username": "u\r\nX: y", "from_email": "a@clinic.example"}), "username"),
        (json!({"provider": "smtp", "host": "10.0.0.1", "from_email": "noreply@clinic.example"}), "host"),
        (json!({"provider": "smtp", "host": "localhost", "from_email": "noreply@clinic.example"}), "host"),
        (json!({"provider": "console", "colour": "blue"}), "colour"),
    ];
    for (body, field) in bad {
        let response = app.call(Method::PUT, PATH, Some(&key), Some(body.clone())).await;
        assert_error(&response, StatusCode::BAD_REQUEST, field);
    }
    assert_eq!(app.get(PATH, &key).await, before, "nothing changed");

    let (viewer, _) = app.key("default", Role::Viewer).await;
    assert_eq!(app.get(PATH, &viewer).await, before, "notifications.settings.read is enough to read");
    let refused = app.call(Method::PUT, PATH, Some(&viewer), Some(json!({"provider": "disabled"}))).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "notifications.settings.write");
    assert_error(
        &app.post(&format!("{PATH}/test"), &viewer, json!({"to_email": "a@b.example"})).await,
        StatusCode::FORBIDDEN,
        "notifications.settings.write",
    );
    let (integration, _) = app.key("default", Role::Integration).await;
    assert_error(&app.get(PATH, &integration).await, StatusCode::FORBIDDEN, "notifications.settings.read");
    let (manager, _) = app.key("default", Role::Manager).await;
    let (status, _) = app.call(Method::PUT, PATH, Some(&manager), Some(json!({"provider": "console"}))).await;
    assert_eq!(status, StatusCode::OK, "a manager may change the settings");
    assert_error(&app.call(Method::GET, PATH, None, None).await, StatusCode::UNAUTHORIZED, "API key");
    assert_eq!(app.get(PATH, &app.new_tenant("clinic-b").await).await.1["is_active"], false, "another tenant's settings are its own");
}

async fn a_tenants_own_settings_route_its_email_while_others_use_the_global_provider(app: TestApp) {
    let global = SmtpSink::start();
    let own = SmtpSink::start();
    let global_config: ProviderConfig = serde_json::from_value(
        json!({"type": "smtp", "host": "127.0.0.1", "port": global.port, "security": "plain", "from": "Herald <noreply@herald.example>"}),
    )
    .unwrap();
    let node = instance(&app, vec![(Channel::Email, global_config)]).await;
    let clinic = app.new_tenant("clinic-b").await;
    let (status, saved) = call(&app, &node.base, Method::PUT, PATH, &clinic, Some(settings(own.port))).await;
    assert_eq!(status, StatusCode::OK, "{saved}");

    for (key, user) in [(&app.admin_key, "patient-a"), (&clinic, "patient-b")] {
        app.create("users", key, json!({"id": user, "emailAddress": format!("{user}@example.org")})).await;
        let (status, answer) = app
            .post(
                "/send",
                key,
                json!({"channels": ["email"], "recipients": [user], "messageTitle": "Results", "messageContent": "are ready"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    assert_eq!(node.dispatcher.run_due().await.unwrap(), 2);

    let (global_mail, own_mail) = (global.received(), own.received());
    assert_eq!((global_mail.len(), own_mail.len()), (1, 1));
    assert_eq!(global_mail[0].to, ["patient-a@example.org"], "the default tenant uses the global provider");
    assert_eq!(own_mail[0].to, ["patient-b@example.org"], "clinic-b's email goes through its own server");
    let parsed = mail_parser::MessageParser::default().parse(&own_mail[0].data).unwrap();
    let from = parsed.from().unwrap().first().unwrap();
    assert_eq!((from.name(), from.address()), (Some("Clinica \"San\" Luca"), Some("noreply@clinic-b.example")));
    let (_, list) = app.get("/notifications/", &clinic).await;
    let attempt = &list[0]["messages"][0]["attempts"][0];
    assert_eq!((attempt["service"].as_str(), attempt["provider"].as_str()), (Some("smtp"), Some("smtp-settings")), "{list}");
    let (_, list) = app.get("/notifications/", &app.admin_key).await;
    let attempt = &list[0]["messages"][0]["attempts"][0];
    assert_eq!((attempt["service"].as_str(), attempt.get("provider")), (Some("smtp"), None), "the global provider has no entry: {list}");
}

async fn console_accepts_and_disabled_switches_the_tenants_email_off(app: TestApp) {
    let global = SmtpSink::start();
    let global_config: ProviderConfig = serde_json::from_value(
        json!({"type": "smtp", "host": "127.0.0.1", "port": global.port, "security": "plain", "from": "noreply@herald.example"}),
    )
    .unwrap();
    let node = instance(&app, vec![(Channel::Email, global_config), (Channel::Sms, ProviderConfig::Console(Default::default()))]).await;
    let key = app.admin_key.clone();
    app.create("users", &key, json!({"id": "patient-1", "emailAddress": "ada@example.org", "phoneNumber": "+390600000001"})).await;
    let send = json!({"channels": ["email"], "recipients": ["patient-1"], "messageTitle": "Results", "messageContent": "are ready", "fallbackChannels": ["sms"]});

    let (status, _) = app.call(Method::PUT, PATH, Some(&key), Some(json!({"provider": "disabled"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.post("/send", &key, send.clone()).await.0, StatusCode::OK);
    assert_eq!(node.dispatcher.run_due().await.unwrap(), 2, "the email, then its SMS stand-in");
    let (_, list) = app.get("/notifications/", &key).await;
    let messages = list[0]["messages"].as_array().unwrap();
    assert_eq!(
        (messages[0]["status"].as_str(), messages[0]["error"].as_str()),
        (Some("FAILURE"), Some("email is disabled for this tenant"))
    );
    assert_eq!(
        (messages[1]["channel"].as_str(), messages[1]["status"].as_str()),
        (Some("sms"), Some("SUCCESS")),
        "the fallback still goes out"
    );

    let (status, _) = app.call(Method::PUT, PATH, Some(&key), Some(json!({"provider": "console"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.post("/send", &key, send).await.0, StatusCode::OK);
    assert_eq!(node.dispatcher.run_due().await.unwrap(), 1);
    let (_, list) = app.get("/notifications/", &key).await;
    let email = &list[1]["messages"][0];
    assert_eq!((email["status"].as_str(), email["service"].as_str()), (Some("SUCCESS"), Some("console")), "{email}");
    assert!(global.received().is_empty(), "never through the global server while the tenant has settings");
}

async fn the_test_endpoint_refuses_internal_hosts_and_verifies_a_good_one(app: TestApp) {
    let key = app.admin_key.clone();
    let test_path = format!("{PATH}/test");
    for host in ["127.0.0.1", "10.0.0.1", "169.254.169.254", "localhost", "[::1]", "fd00:ec2::254"] {
        let body = json!({"host": host, "port": 587, "username": "u", "password": PASSWORD, "use_tls": true, "use_ssl": false,
                          "from_email": "clinic@example.com", "to_email": "test@example.com"});
        let response = app.post(&test_path, &key, body).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "host");
        assert!(!response.1.to_string().contains(PASSWORD));
    }
    assert_error(&app.post(&test_path, &key, json!({"to_email": "test@example.com"})).await, StatusCode::BAD_REQUEST, "host");
    assert_eq!(app.get(PATH, &key).await.1["is_verified"], false);

    let sink = SmtpSink::start();
    let node = instance(&app, vec![]).await;
    let (status, _) = call(&app, &node.base, Method::PUT, PATH, &key, Some(settings(sink.port))).await;
    assert_eq!(status, StatusCode::OK);
    app.clock.advance(SignedDuration::from_mins(5));
    let (status, outcome) = call(&app, &node.base, Method::POST, &test_path, &key, Some(json!({"to_email": "test@example.com"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(outcome, json!({"success": true, "message": "SMTP connection succeeded; a test email was sent", "provider": "smtp"}));
    let mail = sink.received();
    assert_eq!(mail.len(), 1);
    assert_eq!((mail[0].from.as_str(), mail[0].to.clone()), ("noreply@clinic-b.example", vec!["test@example.com".to_string()]));
    let (_, verified) = app.get(PATH, &key).await;
    assert_eq!(
        (verified["is_verified"].as_bool(), verified["last_verified_at"].as_str()),
        (Some(true), Some(format_timestamp(app.now()).as_str()))
    );
    let (_, trail) = app.get("/api/v1/audit?action=smtp_settings.verify", &key).await;
    assert_eq!(trail["entries"][0]["changes"], json!({"is_verified": true, "last_verified_at": format_timestamp(app.now())}), "{trail}");

    // Other settings are tested without touching the stored verification.
    let body = json!({"host": "127.0.0.1", "port": closed_port(), "use_tls": false, "from_email": "noreply@clinic-b.example", "to_email": "test@example.com"});
    let (status, failed) = call(&app, &node.base, Method::POST, &test_path, &key, Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (failed["success"].as_bool(), failed["message"].as_str()),
        (Some(false), Some("Error: the SMTP server could not be reached"))
    );
    assert_eq!(app.get(PATH, &key).await.1, verified);

    // Changing the connection settings clears the verification.
    let (status, changed) = call(&app, &node.base, Method::PUT, PATH, &key, Some(settings(closed_port()))).await;
    assert_eq!((status, changed["is_verified"].as_bool()), (StatusCode::OK, Some(false)));
}
