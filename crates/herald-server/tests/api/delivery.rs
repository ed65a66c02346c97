//! Delivery end to end: events and sends become real emails at a local SMTP server, in-app
//! records and signed webhooks; retries follow the schedule under a controlled clock, final
//! failures fall back to the next channel, and rate limits hold messages back without
//! dropping them or letting one tenant starve another.

use crate::support::{TestApp, cases};
use base64::Engine;
use herald_channels::{ConsoleProvider, InAppProvider, Provider, SmtpConfig, SmtpProvider, SmtpSecurity, WebhookConfig, WebhookProvider};
use herald_core::resources::channel::Channel;
use herald_engine::delivery::DeliveryConfig;
use herald_engine::delivery::rate_limits::{Rate, RateLimitConfig};
use herald_engine::delivery::retry::RetryPolicy;
use herald_testkit::smtp::SmtpSink;
use herald_testkit::webhook::WebhookSink;
use hmac::Mac;
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

cases![
    an_event_becomes_a_real_email_and_an_in_app_record,
    retryable_failures_follow_the_schedule_then_fail_for_good,
    final_failures_and_missing_addresses_fall_back_to_the_next_channel,
    rate_limits_hold_messages_back_and_tenants_share_fairly,
    a_committed_message_goes_out_without_waiting_for_the_next_poll,
    a_slow_provider_call_shows_its_message_as_sending_until_it_answers,
];

const CREATED: &str = "AM/AppointmentCreated/v1";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn quick_retries(schedule_seconds: Vec<u64>) -> DeliveryConfig {
    DeliveryConfig { retry: RetryPolicy { schedule_seconds, jitter: 0.0 }, ..DeliveryConfig::default() }
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

fn webhook(sink: &WebhookSink) -> Arc<dyn Provider> {
    let config = WebhookConfig { url: sink.url.clone(), secret: herald_core::secrets::Secret::new(SECRET), timeout_seconds: 5 };
    Arc::new(WebhookProvider::new(&config).unwrap())
}

/// An appointment event for `participants`, starting in three days.
async fn appointment(app: &TestApp, participants: &[&str]) -> Value {
    let start = app.now().checked_add(SignedDuration::from_hours(72)).unwrap();
    let end = start.checked_add(SignedDuration::from_mins(30)).unwrap();
    let iso = herald_core::document::format_timestamp;
    let (status, answer) = app
        .emit(json!({"name": CREATED, "key": "apt-1", "payload": {"startDate": iso(start), "endDate": iso(end), "resourceId": "dr-rossi", "participantIds": participants}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// The stored notification of `recipient`.
async fn notification_of(app: &TestApp, recipient: &str) -> Value {
    let (status, list) = app.get(&format!("/notifications?recipient={recipient}"), &app.admin_key).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let id = list[0]["_id"].as_str().unwrap_or_else(|| panic!("no notification for {recipient}: {list}")).to_string();
    let (status, notification) = app.get(&format!("/notifications/{id}"), &app.admin_key).await;
    assert_eq!(status, StatusCode::OK, "{notification}");
    notification
}

fn statuses(message: &Value) -> Vec<String> {
    message["history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap().to_string()).collect()
}

async fn an_event_becomes_a_real_email_and_an_in_app_record(app: TestApp) {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "patient-1", "name": "Ada", "emailAddress": "ada@example.org", "groups": ["patients"]})).await;
    app.create("users", key, json!({"id": "dr-rossi", "groups": ["doctors"]})).await;
    app.create(
        "templates",
        key,
        json!({"name": "appointment-patient", "emailTitle": "Your appointment, {{user.name}}",
               "emailHtmlMessage": "<p>Dear {{user.name}},</p><p>see you on <b>{{data.startDate}}</b> &amp; bring your card.</p>",
               "smsMessage": "Appointment booked for {{data.startDate}}"}),
    )
    .await;
    app.create(
        "notification-settings",
        key,
        json!({"eventName": CREATED, "group": "patients", "channels": ["email", "in_app"], "templateName": "appointment-patient"}),
    )
    .await;
    let sink = SmtpSink::start();
    let dispatcher =
        app.dispatcher_with(vec![(Channel::Email, smtp(&sink)), (Channel::InApp, Arc::new(InAppProvider))], DeliveryConfig::default());
    let answer = appointment(&app, &["patient-1"]).await;
    let start = answer["notifications"][0]["event"]["payload"]["startDate"].as_str().unwrap().to_string();

    assert_eq!(dispatcher.run_due().await.unwrap(), 2, "the email and the in-app message");
    let mail = sink.received();
    assert_eq!(mail.len(), 1, "one email");
    assert_eq!(mail[0].to, ["ada@example.org"]);
    let parsed = mail_parser::MessageParser::default().parse(&mail[0].data).unwrap();
    assert_eq!(parsed.subject(), Some("Your appointment, Ada"));
    assert_eq!(parsed.from().unwrap().first().unwrap().address(), Some("noreply@sanluca.example"));
    assert_eq!(parsed.to().unwrap().first().unwrap().address(), Some("ada@example.org"));
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains(&format!("<b>{start}</b> &amp; bring your card")), "{html}");
    let text = parsed.body_text(0).unwrap();
    assert!(text.contains(&format!("see you on {start} & bring your card")), "a derived plain-text part: {text}");
    assert!(!text.contains('<'), "{text}");

    let notification = notification_of(&app, "patient-1").await;
    let email = &notification["messages"][0];
    assert_eq!(email["status"], "SUCCESS", "{notification}");
    assert_eq!(statuses(email), ["queued", "sending", "SUCCESS"]);
    assert_eq!(email["service"], "smtp");
    let attempt = &email["attempts"][0];
    assert_eq!(
        (attempt["number"].as_u64(), attempt["outcome"].as_str(), attempt["responseCode"].as_u64()),
        (Some(1), Some("sent"), Some(250))
    );
    let message_id = parsed.message_id().unwrap();
    assert_eq!(email["providerMessageId"], format!("<{message_id}>"), "the Message-ID is recorded");
    assert!(message_id.starts_with(&format!("{}.0@", notification["_id"].as_str().unwrap())), "stable per message: {message_id}");
    let in_app = &notification["messages"][1];
    assert_eq!((in_app["channel"].as_str(), in_app["status"].as_str()), (Some("in_app"), Some("SUCCESS")));
    assert_eq!(in_app["rendered"]["body"], format!("Appointment booked for {start}"), "the inbox entry's content");
    assert_eq!(dispatcher.run_due().await.unwrap(), 0, "nothing is sent twice");
    assert_eq!(sink.received().len(), 1);
}

async fn retryable_failures_follow_the_schedule_then_fail_for_good(app: TestApp) {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "patient-1", "groups": ["patients"]})).await;
    app.create("users", key, json!({"id": "dr-rossi", "groups": ["doctors"]})).await;
    app.create(
        "notification-settings",
        key,
        json!({"eventName": CREATED, "group": "patients", "channels": ["webhook"], "templateName": "unused"}),
    )
    .await;
    let sink = WebhookSink::start(vec![503, 429, 503], Some(120)).await;
    let dispatcher = app.dispatcher_with(vec![(Channel::Webhook, webhook(&sink))], quick_retries(vec![10, 60]));
    appointment(&app, &["patient-1"]).await;

    assert_eq!(dispatcher.run_due().await.unwrap(), 1);
    let message = notification_of(&app, "patient-1").await["messages"][0].clone();
    assert_eq!(message["status"], "queued", "back in the queue: {message}");
    let next: Timestamp = message["attempts"][0]["nextAttemptAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, app.now().checked_add(SignedDuration::from_secs(120)).unwrap(), "Retry-After (120 s) beats the schedule's 10 s");
    assert_eq!(dispatcher.run_due().await.unwrap(), 0, "not before its time");

    app.clock.advance(SignedDuration::from_secs(120));
    assert_eq!(dispatcher.run_due().await.unwrap(), 1, "the second attempt");
    app.clock.advance(SignedDuration::from_secs(119));
    assert_eq!(dispatcher.run_due().await.unwrap(), 0);
    app.clock.advance(SignedDuration::from_secs(1));
    assert_eq!(dispatcher.run_due().await.unwrap(), 1, "the third and last attempt");

    let notification = notification_of(&app, "patient-1").await;
    let message = &notification["messages"][0];
    assert_eq!(message["status"], "FAILURE", "{notification}");
    assert_eq!(statuses(message), ["queued", "sending", "queued", "sending", "queued", "sending", "FAILURE"]);
    let outcomes: Vec<_> =
        message["attempts"].as_array().unwrap().iter().map(|a| (a["outcome"].clone(), a["responseCode"].clone())).collect();
    assert_eq!(outcomes, [(json!("retry"), json!(503)), (json!("retry"), json!(429)), (json!("failed"), json!(503))]);
    assert_eq!(message["error"], "the webhook answered 503");
    assert!(notification["failures"][0]["message"].as_str().unwrap().contains("webhook message 0 failed"), "{notification}");

    let hooks = sink.received();
    assert_eq!(hooks.len(), 3);
    let ids: Vec<_> = hooks.iter().map(|h| h.headers["webhook-id"].to_str().unwrap().to_string()).collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "one idempotency key for every attempt: {ids:?}");
    for hook in &hooks {
        let (id, timestamp) = (hook.headers["webhook-id"].to_str().unwrap(), hook.headers["webhook-timestamp"].to_str().unwrap());
        let secret = base64::engine::general_purpose::STANDARD.decode(SECRET.trim_start_matches("whsec_")).unwrap();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
        mac.update(format!("{id}.{timestamp}.{}", hook.body).as_bytes());
        let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
        assert_eq!(hook.headers["webhook-signature"].to_str().unwrap(), expected, "the signature verifies");
        let body: Value = serde_json::from_str(&hook.body).unwrap();
        assert_eq!((body["event"]["name"].as_str(), body["recipient"].as_str()), (Some(CREATED), Some("patient-1")));
    }
}

async fn final_failures_and_missing_addresses_fall_back_to_the_next_channel(app: TestApp) {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "patient-1", "groups": ["patients"]})).await;
    app.create("users", key, json!({"id": "patient-2", "phoneNumber": "+390600000002", "groups": ["patients"]})).await;
    app.create("users", key, json!({"id": "dr-rossi", "groups": ["doctors"]})).await;
    app.create("templates", key, json!({"name": "reminder", "emailTitle": "Reminder", "emailMessage": "See you", "smsMessage": "See you"}))
        .await;
    app.create(
        "notification-settings",
        key,
        json!({"eventName": CREATED, "user": "patient-1", "channels": ["webhook"], "fallbackChannels": ["in_app"], "templateName": "reminder"}),
    )
    .await;
    app.create(
        "notification-settings",
        key,
        json!({"eventName": CREATED, "user": "patient-2", "channels": ["email"], "fallbackChannels": ["push", "sms"], "templateName": "reminder"}),
    )
    .await;
    let sink = WebhookSink::start(vec![400], None).await;
    let providers = vec![
        (Channel::Webhook, webhook(&sink)),
        (Channel::InApp, Arc::new(InAppProvider) as Arc<dyn Provider>),
        (Channel::Sms, Arc::new(ConsoleProvider::default())),
    ];
    let dispatcher = app.dispatcher_with(providers, quick_retries(vec![10, 60]));
    let answer = appointment(&app, &["patient-1", "patient-2"]).await;
    let accepted = answer["notifications"].as_array().unwrap().iter().find(|n| n["recipient"] == "patient-2").unwrap().clone();
    let summary: Vec<_> = accepted["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["channel"].clone(), m["status"].clone(), m["fallbackFor"].clone()))
        .collect();
    assert_eq!(
        summary,
        [(json!("email"), json!("skipped"), Value::Null), (json!("sms"), json!("queued"), json!(0))],
        "no email address and no device token: SMS stands in at once"
    );

    assert_eq!(dispatcher.run_due().await.unwrap(), 3, "webhook (fails for good at once), sms, then the in-app stand-in");
    let first = notification_of(&app, "patient-1").await;
    let channels: Vec<_> = first["messages"].as_array().unwrap().iter().map(|m| (m["channel"].clone(), m["status"].clone())).collect();
    assert_eq!(channels, [(json!("webhook"), json!("FAILURE")), (json!("in_app"), json!("SUCCESS"))], "{first}");
    assert_eq!(first["messages"][0]["attempts"].as_array().unwrap().len(), 1, "a 400 is not retried");
    assert_eq!(first["messages"][1]["fallbackFor"], 0);
    assert_eq!(first["failures"].as_array().unwrap().len(), 1);
    let second = notification_of(&app, "patient-2").await;
    assert_eq!(second["messages"][1]["status"], "SUCCESS", "{second}");
}

async fn rate_limits_hold_messages_back_and_tenants_share_fairly(app: TestApp) {
    let other = app.new_tenant("clinic-b").await;
    for (key, count) in [(&app.admin_key, 5), (&other, 1)] {
        let recipients: Vec<String> = (0..count).map(|i| format!("p-{i}")).collect();
        for (i, id) in recipients.iter().enumerate() {
            app.create("users", key, json!({"id": id, "phoneNumber": format!("+39060000010{i}")})).await;
        }
        let (status, answer) = app
            .post(
                "/send",
                key,
                json!({"channels": ["sms"], "recipients": recipients, "messageTitle": "Hi", "messageContent": "Your results are ready"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let limits = RateLimitConfig { channels: Default::default(), per_tenant: Some(Rate { per_second: 1.0, burst: 1 }) };
    let config = DeliveryConfig { concurrency: 4, rate_limits: limits, ..DeliveryConfig::default() };
    let dispatcher = app.dispatcher_with(vec![(Channel::Sms, Arc::new(ConsoleProvider::default()))], config);

    let sent = |app: &TestApp, tenant: &'static str| {
        let store = app.store.clone();
        async move {
            let jobs = store.list_jobs(tenant, herald_core::job::JobKind::Delivery).await.unwrap();
            jobs.iter().filter(|j| j.status == herald_core::job::JobStatus::Done).count()
        }
    };
    dispatcher.run_due().await.unwrap();
    assert_eq!(sent(&app, "default").await, 1, "one token per second for the busy tenant");
    assert_eq!(sent(&app, "clinic-b").await, 1, "the other tenant is not held back by the backlog");
    let waiting = app.store.list_jobs("default", herald_core::job::JobKind::Delivery).await.unwrap();
    assert!(
        waiting.iter().filter(|j| j.status == herald_core::job::JobStatus::Pending).all(|j| j.attempts == 0),
        "a deferral is not an attempt"
    );
    for second in 1..=4 {
        app.clock.advance(SignedDuration::from_secs(1));
        dispatcher.run_due().await.unwrap();
        assert_eq!(sent(&app, "default").await, 1 + second, "one more each second");
    }
    assert_eq!(dispatcher.run_due().await.unwrap(), 0, "all five sent, none dropped");
}

/// A patient, `patient-1`, whose appointments are sent by webhook.
async fn webhook_patient(app: &TestApp) {
    let key = &app.admin_key;
    app.create("users", key, json!({"id": "patient-1", "groups": ["patients"]})).await;
    let setting = json!({"eventName": CREATED, "group": "patients", "channels": ["webhook"], "templateName": "unused"});
    app.create("notification-settings", key, setting).await;
}

/// With the dispatcher running and a poll interval of an hour, an event's message still goes
/// out at once: its commit hands it to the dispatcher.
async fn a_committed_message_goes_out_without_waiting_for_the_next_poll(app: TestApp) {
    webhook_patient(&app).await;
    let sink = WebhookSink::start(Vec::new(), None).await;
    let dispatcher = app.dispatcher_with(vec![(Channel::Webhook, webhook(&sink))], DeliveryConfig::default());
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(dispatcher.run(std::time::Duration::from_secs(3_600), stop.clone()));
    appointment(&app, &["patient-1"]).await;
    tokio::time::timeout(std::time::Duration::from_secs(30), sink.wait_for(1)).await.expect("the message goes out before the next poll");
    stop.cancel();
    running.await.unwrap();
    assert_eq!(notification_of(&app, "patient-1").await["messages"][0]["status"], "SUCCESS");
}

/// A provider that answers only once released, and tells when it is called.
struct HeldProvider {
    called: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl Provider for HeldProvider {
    fn name(&self) -> &'static str {
        "held"
    }

    async fn send(&self, _outgoing: &herald_channels::Outgoing) -> Result<herald_channels::Receipt, herald_channels::SendError> {
        self.called.notify_one();
        self.release.notified().await;
        Ok(herald_channels::Receipt::default())
    }

    async fn healthcheck(&self) -> Result<(), herald_channels::SendError> {
        Ok(())
    }
}

/// A message whose provider call outlasts `slow_call_ms` is recorded as `sending` while the call
/// lasts; once it answers, the history holds both steps. (A quick call writes both with its
/// outcome.) At 0 ms the `sending` step is committed before the provider is called, so the test
/// reads it while the call is held, without waiting for time to pass.
async fn a_slow_provider_call_shows_its_message_as_sending_until_it_answers(app: TestApp) {
    webhook_patient(&app).await;
    let held = Arc::new(HeldProvider { called: tokio::sync::Notify::new(), release: tokio::sync::Notify::new() });
    let config = DeliveryConfig { slow_call_ms: 0, ..DeliveryConfig::default() };
    let dispatcher = app.dispatcher_with(vec![(Channel::Webhook, held.clone() as Arc<dyn Provider>)], config);
    appointment(&app, &["patient-1"]).await;
    let delivering = tokio::spawn(async move { dispatcher.run_due().await.unwrap() });
    held.called.notified().await;
    let message = &notification_of(&app, "patient-1").await["messages"][0];
    assert_eq!(message["status"], "sending", "the held call shows as sending: {message}");
    held.release.notify_one();
    assert_eq!(delivering.await.unwrap(), 1);
    let message = &notification_of(&app, "patient-1").await["messages"][0];
    assert_eq!(statuses(message), ["queued", "sending", "SUCCESS"]);
}
