//! A tenant's own providers: the admin API (secrets write-only, sealed in the database),
//! delivery through them instead of the global provider, failover within one attempt, changes
//! picked up without a restart, and each provider's health in `/readyz`.

use crate::support::{TestApp, assert_error, cases};
use herald_channels::ProviderConfig;
use herald_core::access::Role;
use herald_core::resources::Collection;
use herald_core::resources::channel::Channel;
use herald_core::secrets::{Keyring, SecretKey, is_sealed};
use herald_engine::delivery::Dispatcher;
use herald_engine::provider_health::ProviderHealth;
use herald_server::App;
use herald_testkit::smtp::SmtpSink;
use herald_testkit::webhook::WebhookSink;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

cases![
    secrets_are_write_only_and_sealed_in_the_database,
    bad_entries_are_refused_and_change_nothing,
    transient_failures_fail_over_to_the_next_provider_in_the_same_attempt,
    changes_reach_every_instance_without_a_restart,
    readyz_shows_each_providers_health,
];

const SMTP_PASSWORD: &str = "correct-horse-battery-staple";
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Another Herald on the test's database and clock, with its own global providers and
/// private hosts allowed (the local sinks are on 127.0.0.1); stopped when dropped.
pub struct Instance {
    pub base: String,
    pub dispatcher: Dispatcher,
    pub health: ProviderHealth,
    stop: CancellationToken,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts an [`Instance`] whose global providers are `channels`.
pub async fn instance(app: &TestApp, channels: Vec<(Channel, ProviderConfig)>) -> Instance {
    let mut config = app.config.clone();
    config.channels = channels.into_iter().collect();
    config.email.allow_private_hosts = true;
    config.provider_health.interval_seconds = 0;
    let built = App::build_with_clock(config, app.clock.clone()).await.expect("another instance builds");
    let instance = Instance {
        base: format!("http://{}", built.local_addr()),
        dispatcher: built.dispatcher(),
        health: built.provider_health(),
        stop: built.shutdown_token(),
    };
    tokio::spawn(built.run_until_stopped());
    instance
}

/// Calls `base` (an instance) with `key`; returns status and JSON body.
pub async fn call(app: &TestApp, base: &str, method: Method, path: &str, key: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = app.client.request(method, format!("{base}{path}")).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
}

/// A plain SMTP provider's settings for a local server. The password is stored but not used:
/// without a username there is no login (the local sink offers none).
pub fn smtp_config(port: u16, from: &str) -> Value {
    json!({"type": "smtp", "host": "127.0.0.1", "port": port, "security": "plain", "password": SMTP_PASSWORD, "from": from, "timeout_seconds": 5})
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The keyring the test apps seal with.
pub fn keyring(app: &TestApp) -> Keyring {
    Keyring::new(SecretKey::parse(app.config.secret_key.as_ref().unwrap().expose()).unwrap(), vec![])
}

const CREATED: &str = "AM/AppointmentCreated/v1";

/// An appointment of `patient-1` with `dr-rossi`, in three days.
async fn appointment(app: &TestApp, key: &str) {
    let start = app.now().checked_add(jiff::SignedDuration::from_hours(72)).unwrap();
    let end = start.checked_add(jiff::SignedDuration::from_mins(30)).unwrap();
    let iso = herald_core::document::format_timestamp;
    let payload = json!({"startDate": iso(start), "endDate": iso(end), "resourceId": "dr-rossi", "participantIds": ["patient-1"]});
    let (status, answer) = app.emit(json!({"name": CREATED, "key": key, "payload": payload})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Creates a user with an email address and sends them an email through `POST /send`.
async fn send_email(app: &TestApp, key: &str, user: &str) {
    if app.get(&format!("/users/?id={user}"), key).await.1.as_array().is_none_or(|users| users.is_empty()) {
        app.create("users", key, json!({"id": user, "emailAddress": format!("{user}@example.org")})).await;
    }
    let body = json!({"channels": ["email"], "recipients": [user], "messageTitle": "Your results", "messageContent": "are ready"});
    let (status, answer) = app.post("/send", key, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// The messages of the key's tenant, oldest notification first.
async fn messages(app: &TestApp, key: &str) -> Vec<Value> {
    let (status, list) = app.get("/notifications/", key).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array().unwrap().iter().flat_map(|n| n["messages"].as_array().unwrap().clone()).collect()
}

async fn secrets_are_write_only_and_sealed_in_the_database(app: TestApp) {
    let node = instance(&app, vec![]).await;
    let key = app.admin_key.clone();
    let (status, created) = call(
        &app,
        &node.base,
        Method::POST,
        "/api/v1/providers/email",
        &key,
        Some(json!({"name": "clinic-relay", "priority": 1, "config": smtp_config(2525, "Clinic <noreply@clinic.example>")})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["config"]["password"], "set", "{created}");
    assert_eq!(
        (created["name"].as_str(), created["priority"].as_u64(), created["enabled"].as_bool()),
        (Some("clinic-relay"), Some(1), Some(true))
    );
    let id = created["id"].as_str().unwrap().to_string();
    let (status, hook) = call(
        &app,
        &node.base,
        Method::POST,
        "/api/v1/providers/webhook",
        &key,
        Some(json!({"name": "ehr", "config": {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": WEBHOOK_SECRET}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    assert_eq!(hook["config"]["secret"], "set");

    // A replacement without the password keeps it; the type's other settings change.
    let mut changed = smtp_config(2526, "Clinic <noreply@clinic.example>");
    changed.as_object_mut().unwrap().remove("password");
    let (status, replaced) = call(
        &app,
        &node.base,
        Method::PUT,
        &format!("/api/v1/providers/email/{id}"),
        &key,
        Some(json!({"name": "clinic-relay", "priority": 2, "enabled": false, "config": changed})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!((replaced["config"]["port"].as_u64(), replaced["config"]["password"].as_str()), (Some(2526), Some("set")));
    assert_eq!((replaced["priority"].as_u64(), replaced["enabled"].as_bool()), (Some(2), Some(false)));

    let mut bodies = vec![created, hook, replaced];
    for path in ["/api/v1/providers", "/api/v1/providers/email", &format!("/api/v1/providers/email/{id}")] {
        let (status, body) = call(&app, &node.base, Method::GET, path, &key, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        bodies.push(body);
    }
    assert_eq!(bodies[3].as_array().unwrap().len(), 2, "both entries: {}", bodies[3]);
    for body in &bodies {
        let text = body.to_string();
        assert!(!text.contains(SMTP_PASSWORD) && !text.contains(WEBHOOK_SECRET), "a secret in a response: {text}");
    }

    let ring = keyring(&app);
    let row = app.store.get_document(Collection::Providers, "default", &id).await.unwrap().expect("the row");
    let sealed = row.body["config"]["password"].as_str().unwrap();
    assert!(is_sealed(sealed) && sealed.starts_with(&format!("v1:{}:", ring.primary_id())), "sealed with the key's id: {sealed}");
    assert!(!Value::Object(row.body.clone()).to_string().contains(SMTP_PASSWORD));
    assert_eq!(ring.open(sealed).unwrap(), SMTP_PASSWORD, "the kept password is the one first given");
    let hook_row = app
        .store
        .find_documents(
            Collection::Providers,
            "default",
            &herald_core::query::ListQuery::matching(herald_core::query::Filter::equals("channel", "webhook"), 5),
        )
        .await
        .unwrap();
    assert_eq!(ring.open(hook_row[0].body["config"]["secret"].as_str().unwrap()).unwrap(), WEBHOOK_SECRET);

    let (status, _) = call(&app, &node.base, Method::DELETE, &format!("/api/v1/providers/email/{id}"), &key, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = call(&app, &node.base, Method::GET, &format!("/api/v1/providers/email/{id}"), &key, None).await;
    assert_error(&response, StatusCode::NOT_FOUND, "provider");

    let (status, trail) = app.get(&format!("/api/v1/audit?target=providers/{id}"), &key).await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    let entries = trail["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["providers.delete", "providers.update", "providers.create"], "every change is audited, newest first");
    assert_eq!((entries[1]["changes"]["config"]["password"].as_str(), entries[1]["changes"]["priority"].as_u64()), (Some("set"), Some(2)));
    assert!(entries.iter().all(|e| e["actor"].as_str().unwrap().starts_with("apikey:")), "{trail}");
    let (_, everything) = app.get("/api/v1/audit", &key).await;
    assert!(!everything.to_string().contains(SMTP_PASSWORD) && !everything.to_string().contains(WEBHOOK_SECRET), "{everything}");
}

async fn bad_entries_are_refused_and_change_nothing(app: TestApp) {
    let key = app.admin_key.clone();
    let good = json!({"name": "relay", "config": smtp_config(2525, "noreply@clinic.example")});
    let cases = [
        ("/api/v1/providers/email", json!({"name": "relay", "config": {"type": "carrier-pigeon"}}), "config"),
        ("/api/v1/providers/email", json!({"name": "Relay One", "config": {"type": "console"}}), "name"),
        ("/api/v1/providers/email", json!({"name": "smtp-settings", "config": {"type": "console"}}), "name"),
        ("/api/v1/providers/sms", good.clone(), "config.type"),
        ("/api/v1/providers/email", json!({"name": "relay", "config": {"type": "smtp", "host": "127.0.0.1"}}), "from"),
        ("/api/v1/providers/email", json!({"name": "relay", "config": {"type": "disabled", "reason": "x"}}), "config"),
        ("/api/v1/providers/email", json!({"name": "dev", "config": {"type": "console", "print": true}}), "config.print"),
        ("/api/v1/providers/fax", good.clone(), "channel"),
        ("/api/v1/providers/email", good.clone(), "config.host"),
        (
            "/api/v1/providers/webhook",
            json!({"name": "hook", "config": {"type": "webhook", "url": "http://169.254.169.254/latest", "secret": "s"}}),
            "config.url",
        ),
    ];
    for (path, body, field) in cases {
        let response = app.post(path, &key, body.clone()).await;
        assert_error(&response, StatusCode::BAD_REQUEST, field);
        assert!(!response.1.to_string().contains(SMTP_PASSWORD), "{}", response.1);
    }
    assert_eq!(app.get("/api/v1/providers", &key).await, (StatusCode::OK, json!([])), "nothing stored");

    let (manager, _) = app.key("default", Role::Manager).await;
    assert_error(&app.get("/api/v1/providers", &manager).await, StatusCode::FORBIDDEN, "admin");
    assert_error(
        &app.post("/api/v1/providers/email", &manager, json!({"name": "x", "config": {"type": "console"}})).await,
        StatusCode::FORBIDDEN,
        "admin",
    );

    let (status, created) = app.post("/api/v1/providers/email", &key, json!({"name": "dev", "config": {"type": "console"}})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    assert_error(
        &app.post("/api/v1/providers/sms", &key, json!({"name": "dev", "config": {"type": "console"}})).await,
        StatusCode::CONFLICT,
        "name",
    );
    assert_error(&app.get(&format!("/api/v1/providers/sms/{id}"), &key).await, StatusCode::NOT_FOUND, "provider");
    let other = app.new_tenant("clinic-b").await;
    assert_error(&app.get(&format!("/api/v1/providers/email/{id}"), &other).await, StatusCode::NOT_FOUND, "provider");
    assert_error(&app.delete(&format!("/api/v1/providers/email/{id}"), &other).await, StatusCode::NOT_FOUND, "provider");
    assert_eq!(app.get("/api/v1/providers", &other).await, (StatusCode::OK, json!([])), "tenants never see each other's providers");

    // The seed 05 entry is listed but changed only through its own API.
    let (status, _) = app.call(Method::PUT, "/api/v1/notifications/smtp-settings", Some(&key), Some(json!({"provider": "console"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = app.get("/api/v1/providers/email", &key).await;
    let managed = listed.as_array().unwrap().iter().find(|e| e["name"] == "smtp-settings").expect("listed").clone();
    assert_eq!((managed["priority"].as_u64(), managed["config"]["type"].as_str()), (Some(0), Some("console")));
    let response = app
        .call(
            Method::PUT,
            &format!("/api/v1/providers/email/{}", managed["id"].as_str().unwrap()),
            Some(&key),
            Some(json!({"name": "x", "config": {"type": "console"}})),
        )
        .await;
    assert_error(&response, StatusCode::UNPROCESSABLE_ENTITY, "smtp-settings");
}

async fn transient_failures_fail_over_to_the_next_provider_in_the_same_attempt(app: TestApp) {
    let key = app.admin_key.clone();
    let node = instance(&app, vec![]).await;
    let live = SmtpSink::start();
    let flaky = WebhookSink::start(vec![503, 503], None).await;
    let steady = WebhookSink::start(vec![], None).await;
    let entries = [
        ("email", json!({"name": "dead-relay", "priority": 0, "config": smtp_config(closed_port(), "noreply@clinic.example")})),
        ("email", json!({"name": "live-relay", "priority": 5, "config": smtp_config(live.port, "noreply@clinic.example")})),
        ("webhook", json!({"name": "flaky", "priority": 0, "config": {"type": "webhook", "url": flaky.url, "secret": WEBHOOK_SECRET}})),
        ("webhook", json!({"name": "steady", "priority": 1, "config": {"type": "webhook", "url": steady.url, "secret": WEBHOOK_SECRET}})),
    ];
    let mut ids = Vec::new();
    for (channel, body) in entries {
        let (status, created) = call(&app, &node.base, Method::POST, &format!("/api/v1/providers/{channel}"), &key, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    app.create("users", &key, json!({"id": "patient-1", "emailAddress": "ada@example.org", "groups": ["patients"]})).await;
    app.create("users", &key, json!({"id": "dr-rossi", "groups": ["doctors"]})).await;
    app.create("templates", &key, json!({"name": "booked", "emailTitle": "Booked", "emailMessage": "See you soon"})).await;
    app.create(
        "notification-settings",
        &key,
        json!({"eventName": CREATED, "group": "patients", "channels": ["email", "webhook"], "templateName": "booked"}),
    )
    .await;
    appointment(&app, "apt-1").await;

    assert_eq!(node.dispatcher.run_due().await.unwrap(), 2);
    let sent = messages(&app, &key).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    for (message, (failed_over, used, error)) in sent
        .iter()
        .zip([("dead-relay", "live-relay", "the SMTP server could not be reached"), ("flaky", "steady", "the webhook answered 503")])
    {
        assert_eq!(message["status"], "SUCCESS", "{message}");
        let attempts = message["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 2, "{message}");
        assert_eq!(
            (
                attempts[0]["number"].as_u64(),
                attempts[0]["outcome"].as_str(),
                attempts[0]["provider"].as_str(),
                attempts[0]["error"].as_str()
            ),
            (Some(1), Some("retry"), Some(failed_over), Some(error)),
            "{message}"
        );
        assert!(attempts[0].get("nextAttemptAt").is_none(), "failed over at once: {message}");
        assert_eq!(
            (attempts[1]["number"].as_u64(), attempts[1]["outcome"].as_str(), attempts[1]["provider"].as_str()),
            (Some(1), Some("sent"), Some(used))
        );
        assert_eq!(attempts[1]["service"], message["service"]);
    }
    assert_eq!(sent[0]["service"], "smtp");
    assert_eq!(sent[1]["service"], "webhook");
    assert_eq!(live.received().len(), 1);
    assert_eq!(live.received()[0].to, ["ada@example.org"]);
    assert_eq!((flaky.received().len(), steady.received().len()), (1, 1));

    // A permanent failure is the message's fault: the next provider is not tried.
    let refusing = WebhookSink::start(vec![400], None).await;
    let body = json!({"name": "flaky", "priority": 0, "config": {"type": "webhook", "url": refusing.url}});
    let (status, replaced) = call(&app, &node.base, Method::PUT, &format!("/api/v1/providers/webhook/{}", ids[2]), &key, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    appointment(&app, "apt-2").await;
    assert_eq!(node.dispatcher.run_due().await.unwrap(), 2);
    let sent = messages(&app, &key).await;
    let hook = sent.iter().filter(|m| m["channel"] == "webhook").nth(1).expect("the second webhook message");
    assert_eq!(hook["status"], "FAILURE", "{hook}");
    assert_eq!(hook["attempts"].as_array().unwrap().len(), 1);
    assert_eq!((refusing.received().len(), steady.received().len()), (1, 1), "the steady provider was not tried");
    let signed = &refusing.received()[0];
    assert!(signed.headers["webhook-signature"].to_str().unwrap().starts_with("v1,"), "the kept secret still signs");
}

async fn changes_reach_every_instance_without_a_restart(app: TestApp) {
    let key = app.admin_key.clone();
    let admin_node = instance(&app, vec![]).await;
    let delivery_node = instance(&app, vec![]).await;
    let (first, second) = (SmtpSink::start(), SmtpSink::start());
    let (status, created) = call(
        &app,
        &admin_node.base,
        Method::POST,
        "/api/v1/providers/email",
        &key,
        Some(json!({"name": "relay", "config": smtp_config(first.port, "noreply@clinic.example")})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    send_email(&app, &key, "patient-1").await;
    assert_eq!(delivery_node.dispatcher.run_due().await.unwrap(), 1);
    assert_eq!((first.received().len(), second.received().len()), (1, 0));

    let path = format!("/api/v1/providers/email/{}", created["id"].as_str().unwrap());
    let body = json!({"name": "relay", "config": smtp_config(second.port, "noreply@clinic.example")});
    let (status, _) = call(&app, &admin_node.base, Method::PUT, &path, &key, Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    send_email(&app, &key, "patient-1").await;
    assert_eq!(delivery_node.dispatcher.run_due().await.unwrap(), 1);
    assert_eq!((first.received().len(), second.received().len()), (1, 1), "the other instance used the new settings");

    let (status, _) = call(&app, &admin_node.base, Method::DELETE, &path, &key, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    send_email(&app, &key, "patient-1").await;
    assert_eq!(delivery_node.dispatcher.run_due().await.unwrap(), 1);
    let last = messages(&app, &key).await.pop().unwrap();
    assert_eq!(
        (last["status"].as_str(), last["service"].as_str()),
        (Some("SUCCESS"), Some("console")),
        "back to the global provider: {last}"
    );
    assert!(last["attempts"][0].get("provider").is_none(), "{last}");
    assert_eq!((first.received().len(), second.received().len()), (1, 1));
}

async fn readyz_shows_each_providers_health(app: TestApp) {
    let key = app.admin_key.clone();
    let global = SmtpSink::start();
    let global_config = serde_json::from_value(smtp_config(global.port, "noreply@herald.example")).unwrap();
    let node = instance(&app, vec![(Channel::Email, global_config), (Channel::Sms, ProviderConfig::Console(Default::default()))]).await;
    let (status, before) = call(&app, &node.base, Method::GET, "/readyz", &key, None).await;
    assert_eq!((status, before["checks"]["providers"].as_str()), (StatusCode::OK, Some("unchecked")), "{before}");
    let hook = WebhookSink::start(vec![], None).await;
    let mut ids = Vec::new();
    for (channel, body) in [
        ("email", json!({"name": "down", "config": smtp_config(closed_port(), "noreply@clinic.example")})),
        ("webhook", json!({"name": "ehr", "config": {"type": "webhook", "url": hook.url, "secret": WEBHOOK_SECRET}})),
        ("sms", json!({"name": "off", "config": {"type": "disabled"}})),
    ] {
        let (status, created) = call(&app, &node.base, Method::POST, &format!("/api/v1/providers/{channel}"), &key, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    node.health.check_all().await.unwrap();

    let (status, ready) = call(&app, &node.base, Method::GET, "/readyz", &key, None).await;
    assert_eq!(status, StatusCode::OK, "a provider being down leaves Herald ready: {ready}");
    assert_eq!(
        (ready["status"].as_str(), ready["checks"]["database"].as_str(), ready["checks"]["providers"].as_str()),
        (Some("ready"), Some("ok"), Some("degraded"))
    );
    let listed = ready["providers"].as_array().unwrap();
    let find = |scope: &str, channel: &str| {
        listed.iter().find(|p| p["scope"] == scope && p["channel"] == channel).unwrap_or_else(|| panic!("{scope} {channel}: {ready}"))
    };
    assert_eq!((find("global", "email")["type"].as_str(), find("global", "email")["status"].as_str()), (Some("smtp"), Some("ok")));
    assert_eq!(find("global", "sms")["status"], "ok");
    let down = find("tenant", "email");
    assert_eq!(
        (down["tenant"].as_str(), down["id"].as_str(), down["type"].as_str(), down["status"].as_str()),
        (Some("default"), Some(ids[0].as_str()), Some("smtp"), Some("failing"))
    );
    assert_eq!(down["reason"], "the SMTP server could not be reached");
    assert_eq!((find("tenant", "webhook")["status"].as_str(), find("tenant", "sms")["status"].as_str()), (Some("ok"), Some("disabled")));
    for entry in listed {
        let keys: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(
            keys.iter().all(|k| ["scope", "tenant", "channel", "id", "type", "status", "reason", "checkedAt"].contains(k)),
            "only ids and types: {entry}"
        );
    }
    let text = ready.to_string();
    assert!(!text.contains(SMTP_PASSWORD) && !text.contains(WEBHOOK_SECRET) && !text.contains("127.0.0.1"), "{text}");
}
