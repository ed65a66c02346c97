//! Events over RabbitMQ, end to end: a real Herald consuming a real broker (named by
//! `HERALD_TEST_AMQP_URL`; without it these tests are listed as ignored). Each test uses its
//! own exchanges and queues. The broker-restart test stops and starts the whole broker, so it
//! runs only when `HERALD_TEST_AMQP_RESTART=1` as well (CI runs it alone). Every Herald here
//! also answers `POST /saga/send` with Flow Manager events on its own saga exchange.

use herald_broker::{BrokerConfig, REASON_HEADER, publish};
use herald_core::clock::ManualClock;
use herald_server::config::{AmqpConfig, SagaConfig, Secret};
use herald_server::{App, Config};
use herald_testkit::scratch::ScratchDatabase;
use jiff::{SignedDuration, Timestamp};
use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use libtest_mimic::{Arguments, Failed, Trial};
use rand::RngCore;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

type Case = fn(Harness) -> Pin<Box<dyn Future<Output = ()> + Send>>;

const CASES: &[(&str, Case, bool)] = &[
    ("events_over_rabbitmq_produce_the_same_notifications_as_over_http", |h| Box::pin(same_notifications(h)), false),
    ("refused_messages_are_dead_lettered_with_the_reason", |h| Box::pin(dead_letters(h)), false),
    ("an_amqp_timer_publishes_to_its_exchange", |h| Box::pin(amqp_timer(h)), false),
    ("a_broker_restart_loses_nothing", |h| Box::pin(broker_restart(h)), true),
    ("a_saga_send_answers_the_saga_with_its_outcome", |h| Box::pin(saga_events(h)), false),
];

fn main() {
    let args = Arguments::from_args();
    let url = std::env::var("HERALD_TEST_AMQP_URL").ok().filter(|u| !u.is_empty());
    let restart = std::env::var("HERALD_TEST_AMQP_RESTART").is_ok_and(|v| v == "1");
    if url.is_none() {
        eprintln!("note: HERALD_TEST_AMQP_URL is not set: the RabbitMQ ingest tests are skipped (ignored)");
    }
    let trials = CASES
        .iter()
        .map(|&(name, case, restarts)| {
            let skipped = url.is_none() || (restarts && !restart);
            let url = url.clone();
            Trial::test(name, move || run(url.ok_or("HERALD_TEST_AMQP_URL is not set")?, case)).with_ignored_flag(skipped)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// A running Herald consuming its own exchange and queues.
struct Harness {
    base: String,
    key: String,
    broker: BrokerConfig,
    url: String,
    client: reqwest::Client,
    start: Timestamp,
    /// The exchange `POST /saga/send` publishes its events to.
    saga_exchange: String,
}

/// The saga events' labels every Herald here is configured with.
const SUCCESS_LABEL: &str = "notificationSent";
const FAIL_LABEL: &str = "notificationFailed";

fn run(url: String, case: Case) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let database = ScratchDatabase::sqlite();
        let mut suffix = [0u8; 6];
        rand::rng().fill_bytes(&mut suffix);
        let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
        let amqp = AmqpConfig {
            exchange: format!("test.events.{suffix}"),
            queue: format!("test.notifications.{suffix}"),
            dead_letter_exchange: format!("test.dead.{suffix}"),
            dead_letter_queue: format!("test.dead.notifications.{suffix}"),
            ..AmqpConfig::default()
        };
        let config = Config {
            database_url: database.url().to_string(),
            bind: "127.0.0.1:0".parse().unwrap(),
            secret_key: Some(Secret::new("ab".repeat(32))),
            amqp_url: Some(Secret::new(url.clone())),
            amqp: amqp.clone(),
            saga: SagaConfig {
                success_event_label: Some(SUCCESS_LABEL.into()),
                fail_event_label: Some(FAIL_LABEL.into()),
                exchange: format!("test.saga.{suffix}"),
            },
            ..Config::default()
        };
        let start = Timestamp::from_second(1_800_000_000).unwrap();
        let app = App::build_with_clock(config, Arc::new(ManualClock::new(start))).await.expect("the app builds");
        let harness = Harness {
            base: format!("http://{}", app.local_addr()),
            key: app.bootstrap_key().unwrap().secret.clone(),
            broker: amqp.broker(&url),
            url: url.clone(),
            client: reqwest::Client::new(),
            start,
            saga_exchange: format!("test.saga.{suffix}"),
        };
        let stop = app.shutdown_token();
        let server = tokio::spawn(app.run_until_stopped());
        case(harness).await;
        stop.cancel();
        server.await.unwrap().unwrap();
        delete_topology(&url, &amqp, &format!("test.saga.{suffix}")).await;
    });
    Ok(())
}

async fn delete_topology(url: &str, amqp: &AmqpConfig, saga_exchange: &str) {
    let connection = Connection::connect(url, ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    for queue in [&amqp.queue, &amqp.dead_letter_queue] {
        let _ = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
    }
    for exchange in [amqp.exchange.as_str(), amqp.dead_letter_exchange.as_str(), saga_exchange] {
        let _ = channel.exchange_delete(exchange.into(), ExchangeDeleteOptions::default()).await;
    }
}

impl Harness {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    async fn setup(&self) {
        for user in [
            json!({"id": "patient-1", "emailAddress": "p1@example.org", "groups": ["patients"]}),
            json!({"id": "dr-rossi", "emailAddress": "d@example.org", "groups": ["doctors"]}),
        ] {
            self.call(reqwest::Method::POST, "/users/", Some(user)).await;
        }
        let setting =
            json!({"eventName": "AM/AppointmentCreated/v1", "channels": ["email"], "templateName": "appointment", "reminders": ["P1D"]});
        self.call(reqwest::Method::POST, "/notification-settings/", Some(setting)).await;
    }

    fn appointment(&self, key: &str) -> Value {
        let start = self.start.checked_add(SignedDuration::from_hours(72)).unwrap();
        json!({"key": key, "payload": {"startDate": herald_core::document::format_timestamp(start), "resourceId": "dr-rossi", "participantIds": ["patient-1"]}})
    }

    async fn publish(&self, routing_key: &str, body: &[u8], headers: &[(&str, &str)]) {
        let headers: BTreeMap<String, String> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        publish(&self.broker, routing_key, body, &headers).await.expect("published");
    }

    /// Waits until `GET path` answers `expected`.
    async fn until(&self, path: &str, expected: Value) {
        let waited = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if self.call(reqwest::Method::GET, path, None).await == expected {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "{path} never answered {expected}");
    }

    /// Each notification's recipient and messages, by recipient.
    /// Each recipient's messages: channel and template (statuses move on as the dispatcher
    /// delivers them).
    async fn notifications_of(&self, event_id: &str) -> Vec<(String, Vec<(Value, Value)>)> {
        let list = self.call(reqwest::Method::GET, &format!("/notifications/?event._id={event_id}&_s=recipient"), None).await;
        let messages =
            |n: &Value| n["messages"].as_array().unwrap().iter().map(|m| (m["channel"].clone(), m["templateName"].clone())).collect();
        list.as_array().unwrap().iter().map(|n| (n["recipient"].as_str().unwrap().to_string(), messages(n))).collect()
    }

    async fn dead_letters(&self, count: usize) -> Vec<(String, String)> {
        let connection = Connection::connect(&self.url, ConnectionProperties::default()).await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        let mut letters = Vec::new();
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            while letters.len() < count {
                match channel.basic_get(self.broker.dead_letter_queue.as_str().into(), BasicGetOptions { no_ack: true }).await.unwrap() {
                    Some(message) => {
                        let headers = message.delivery.properties.headers().clone().unwrap_or_default();
                        let reason = match headers.inner().get(REASON_HEADER) {
                            Some(AMQPValue::LongString(value)) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
                            other => format!("{other:?}"),
                        };
                        letters.push((message.delivery.routing_key.to_string(), reason));
                    }
                    None => tokio::time::sleep(Duration::from_millis(25)).await,
                }
            }
        })
        .await;
        assert!(found.is_ok(), "only {} dead letters arrived", letters.len());
        letters
    }
}

async fn same_notifications(h: Harness) {
    h.setup().await;
    let over_http = h
        .call(
            reqwest::Method::POST,
            "/notification-events/",
            Some({
                let mut event = h.appointment("appointment-http");
                event["name"] = json!("AM/AppointmentCreated/v1");
                event
            }),
        )
        .await;
    h.publish("AM/AppointmentCreated/v1", h.appointment("appointment-amqp").to_string().as_bytes(), &[]).await;
    h.until("/events/count?source=amqp&status=PROCESSED", json!(1)).await;
    let events = h.call(reqwest::Method::GET, "/events/?source=amqp", None).await;
    let amqp_id = events[0]["_id"].as_str().unwrap();
    assert_eq!(h.notifications_of(amqp_id).await, h.notifications_of(over_http["_id"].as_str().unwrap()).await);
    let reminders = h.call(reqwest::Method::GET, &format!("/notifications/?event._id={amqp_id}&recipient=patient-1"), None).await;
    assert_eq!(reminders[0]["reminders"][0]["schedule"], "P1D");
}

async fn dead_letters(h: Harness) {
    h.setup().await;
    h.publish("AM/AppointmentCreated/v1", b"{not json", &[]).await;
    h.publish("ACME/Unheard/v1", b"{}", &[]).await;
    h.publish("AM/AppointmentCreated/v1", br#"{"payload": {"participantIds": ["patient-1"]}}"#, &[]).await;
    h.publish("AM/AppointmentCreated/v1", h.appointment("a-1").to_string().as_bytes(), &[("x-herald-tenant", "nowhere")]).await;
    let mut letters = h.dead_letters(4).await;
    letters.sort();
    assert_eq!(letters[0], ("ACME/Unheard/v1".to_string(), "Unknown event".to_string()));
    let reasons: Vec<&str> = letters.iter().map(|(_, reason)| reason.as_str()).collect();
    assert!(reasons.iter().any(|r| r.starts_with("body: malformed JSON")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("startDate")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("no such tenant")), "{reasons:?}");
    h.until("/events/count?status=ERROR&source=amqp", json!(2)).await;
}

async fn broker_restart(h: Harness) {
    h.setup().await;
    for n in 0..20 {
        let mut event = h.appointment(&format!("before-{n}"));
        event["id"] = json!(format!("before-{n}"));
        h.publish("AM/AppointmentCreated/v1", event.to_string().as_bytes(), &[]).await;
    }
    for command in [["stop_app"], ["start_app"]] {
        let status = std::process::Command::new("rabbitmqctl").args(command).status().expect("rabbitmqctl runs");
        assert!(status.success(), "rabbitmqctl {command:?}");
    }
    for n in 0..20 {
        let mut event = h.appointment(&format!("after-{n}"));
        event["id"] = json!(format!("after-{n}"));
        let published = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let headers = BTreeMap::new();
                if publish(&h.broker, "AM/AppointmentCreated/v1", event.to_string().as_bytes(), &headers).await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(published.is_ok(), "the broker came back");
    }
    h.until("/events/count?source=amqp", json!(40)).await;
    h.until("/events/count?status=PROCESSED", json!(40)).await;
}

async fn amqp_timer(h: Harness) {
    h.setup().await;
    let mut event = h.appointment("appointment-timer");
    event["name"] = json!("AM/AppointmentCreated/v1");
    let timer = json!({"payload": event, "startDate": herald_core::document::format_timestamp(h.start), "expirationIntervalMs": 0, "applicantService": "tests",
        "outputMode": {"type": "amqp", "exchange": h.broker.exchange, "routingKey": "AM/AppointmentCreated/v1"}});
    let scheduled = h.call(reqwest::Method::POST, "/schedule", Some(timer)).await;
    let id = scheduled["expirationId"].as_str().unwrap().to_string();
    h.until("/events/count?source=amqp&status=PROCESSED", json!(1)).await;
    let expired = tokio::time::timeout(Duration::from_secs(30), async {
        while h.call(reqwest::Method::GET, &format!("/expirations/{id}"), None).await["expirationStatus"]["id"] != 1 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
    assert!(expired.is_ok(), "the timer is marked expired once published");
}

async fn saga_events(h: Harness) {
    h.setup().await;
    let connection = Connection::connect(&h.url, ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
    channel.exchange_declare(h.saga_exchange.as_str().into(), ExchangeKind::Topic, durable, FieldTable::default()).await.unwrap();
    let exclusive = QueueDeclareOptions { exclusive: true, ..Default::default() };
    let queue = channel.queue_declare("".into(), exclusive, FieldTable::default()).await.unwrap();
    let queue = queue.name().clone();
    channel
        .queue_bind(queue.clone(), h.saga_exchange.as_str().into(), "#".into(), QueueBindOptions::default(), FieldTable::default())
        .await
        .unwrap();

    let send = json!({"channels": ["email"], "recipients": ["patient-1"], "messageTitle": "Results", "messageContent": "Ready"});
    let ok = json!({"key": "SAGA_OK_1", "value": {"messageLabel": "sendNotification", "messagePayload": send}});
    h.call(reqwest::Method::POST, "/saga/send", Some(ok)).await;
    let refused = json!({"key": "SAGA_KO_1", "value": {"messageLabel": "sendNotification", "messagePayload": {"channels": []}}});
    let response = h.client.post(format!("{}/saga/send", h.base)).bearer_auth(&h.key).json(&refused).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);

    let mut events = Vec::new();
    let arrived = tokio::time::timeout(Duration::from_secs(30), async {
        while events.len() < 2 {
            match channel.basic_get(queue.clone(), BasicGetOptions { no_ack: true }).await.unwrap() {
                Some(message) => {
                    let headers = message.delivery.properties.headers().clone().unwrap_or_default();
                    let tenant = match headers.inner().get("x-herald-tenant") {
                        Some(AMQPValue::LongString(value)) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        other => format!("{other:?}"),
                    };
                    let body: Value = serde_json::from_slice(&message.delivery.data).unwrap();
                    events.push((message.delivery.routing_key.to_string(), tenant, body));
                }
                None => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
    })
    .await;
    assert!(arrived.is_ok(), "only {} saga events arrived: {events:?}", events.len());
    let event = |saga: &str, label: &str| {
        let body = json!({"key": saga, "value": {"messageLabel": label, "messagePayload": {}}});
        (label.to_string(), "default".to_string(), body)
    };
    assert_eq!(events, [event("SAGA_OK_1", SUCCESS_LABEL), event("SAGA_KO_1", FAIL_LABEL)]);
}
