//! herald-broker against the real RabbitMQ named by `HERALD_TEST_AMQP_URL`. Without that
//! variable every test is listed as ignored, never passed. Each test declares its own exchanges
//! and queues under a random suffix, so tests run in parallel, and deletes them at the end.

use herald_broker::{
    BrokerConfig, BrokerError, BrokerMessage, MessageSink, Outcome, REASON_HEADER, ROUTING_KEY_HEADER, publish, run_consumer,
};
use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, ConnectionProperties};
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// The environment variable naming the RabbitMQ server for these tests.
const URL_VAR: &str = "HERALD_TEST_AMQP_URL";
/// Longest wait for something that must happen.
const WAIT: Duration = Duration::from_secs(20);
/// How long to watch for something that must not happen.
const QUIET: Duration = Duration::from_millis(300);

type Case = fn(Scratch) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), (|scratch| Box::pin($name(scratch))) as Case)),*]
    };
}

const CASES: &[(&str, Case)] = cases![
    a_published_message_reaches_the_sink_and_is_acknowledged,
    a_rejected_message_goes_to_the_dead_letter_queue_with_its_reason,
    a_retried_message_is_redelivered_then_accepted,
    no_more_than_prefetch_messages_are_in_flight,
    the_consumer_reconnects_after_the_network_drops,
    the_consumer_reconnects_after_the_broker_closes_its_connection,
    shutdown_waits_for_messages_in_flight_then_returns_ok,
];

/// The cases that close connections from the broker's side with `rabbitmqctl`.
const NEED_RABBITMQCTL: &[&str] = &["the_consumer_reconnects_after_the_broker_closes_its_connection"];

fn main() {
    let args = Arguments::from_args();
    let url = std::env::var(URL_VAR).ok().filter(|url| !url.is_empty());
    if url.is_none() {
        eprintln!("note: {URL_VAR} is not set: the RabbitMQ tests are skipped (ignored)");
    }
    let rabbitmqctl = on_path("rabbitmqctl");
    if url.is_some() && !rabbitmqctl {
        eprintln!("note: rabbitmqctl is not on PATH: the tests that need it are skipped (ignored)");
    }
    let trials = CASES
        .iter()
        .map(|&(name, case)| {
            let skipped = url.is_none() || (!rabbitmqctl && NEED_RABBITMQCTL.contains(&name));
            let url = url.clone();
            Trial::test(name, move || run(url.ok_or(format!("{URL_VAR} is not set"))?, case)).with_ignored_flag(skipped)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// Runs one case on fresh names, then stops its consumers and deletes what it declared, even
/// when it failed.
fn run(url: String, case: Case) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let scratch = Scratch::new(&url);
        let (config, shutdown) = (scratch.config.clone(), scratch.shutdown.clone());
        let outcome = tokio::spawn(case(scratch)).await;
        shutdown.cancel();
        delete_topology(&url, &config).await;
        match outcome {
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => Err(error.to_string().into()),
            Ok(()) => Ok(()),
        }
    })
}

/// One test's names, a broker connection for inspecting queues, and a parent token that stops
/// every consumer the test started.
struct Scratch {
    url: String,
    config: BrokerConfig,
    shutdown: CancellationToken,
}

impl Scratch {
    fn new(url: &str) -> Self {
        let suffix = format!("{:016x}", rand::random::<u64>());
        let mut config = BrokerConfig::new(url);
        config.exchange = format!("herald.test.events.{suffix}");
        config.queue = format!("herald.test.notifications.{suffix}");
        config.dead_letter_exchange = format!("herald.test.events.dead-letter.{suffix}");
        config.dead_letter_queue = format!("herald.test.notifications.dead-letter.{suffix}");
        config.reconnect_initial_ms = 50;
        config.reconnect_max_ms = 1_000;
        Self { url: url.to_owned(), config, shutdown: CancellationToken::new() }
    }

    /// Starts `run_consumer` with this test's configuration (as changed by `adjust`).
    fn start(&self, sink: Arc<Recorder>, adjust: impl FnOnce(&mut BrokerConfig)) -> Running {
        let mut config = self.config.clone();
        adjust(&mut config);
        let shutdown = self.shutdown.child_token();
        let task = tokio::spawn(run_consumer(config, sink, shutdown.clone()));
        Running { shutdown, task }
    }

    async fn publish(&self, routing_key: &str, body: &str, headers: &[(&str, &str)]) {
        let headers = headers.iter().map(|&(key, value)| (key.to_owned(), value.to_owned())).collect();
        publish(&self.config, routing_key, body.as_bytes(), &headers).await.expect("the broker confirms the message");
    }

    /// A channel of a fresh connection for inspecting queues.
    async fn inspect(&self) -> (Connection, Channel) {
        let connection = Connection::connect(&self.url, ConnectionProperties::default()).await.expect("a connection");
        let channel = connection.create_channel().await.expect("a channel");
        (connection, channel)
    }

    /// Messages ready in `queue`: neither delivered nor waiting for an acknowledgement.
    async fn ready(&self, queue: &str) -> u32 {
        let (_connection, channel) = self.inspect().await;
        let passive = QueueDeclareOptions { passive: true, ..Default::default() };
        channel.queue_declare(queue.into(), passive, FieldTable::default()).await.expect("the queue exists").message_count()
    }
}

/// A consumer running in the background.
struct Running {
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), BrokerError>>,
}

impl Running {
    /// Cancels the consumer and checks it returns `Ok` in time.
    async fn stop(self) {
        self.shutdown.cancel();
        let returned = timeout(WAIT, self.task).await.expect("the consumer returns after shutdown").expect("the consumer did not panic");
        assert!(returned.is_ok(), "the consumer returned {returned:?}");
    }
}

/// A sink that reports each message, decides with `decide`, and when gated waits for a permit
/// before answering; it tracks how many messages it holds at once.
struct Recorder {
    seen: mpsc::UnboundedSender<BrokerMessage>,
    decide: fn(&BrokerMessage) -> Outcome,
    gate: Option<Arc<Semaphore>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl Recorder {
    fn new(decide: fn(&BrokerMessage) -> Outcome, gate: Option<Arc<Semaphore>>) -> (Arc<Self>, mpsc::UnboundedReceiver<BrokerMessage>) {
        let (seen, received) = mpsc::unbounded_channel();
        let recorder = Self { seen, decide, gate, in_flight: AtomicUsize::new(0), most_in_flight: AtomicUsize::new(0) };
        (Arc::new(recorder), received)
    }

    fn accepting() -> (Arc<Self>, mpsc::UnboundedReceiver<BrokerMessage>) {
        Self::new(|_| Outcome::Accepted, None)
    }
}

#[async_trait::async_trait]
impl MessageSink for Recorder {
    async fn handle(&self, message: BrokerMessage) -> Outcome {
        let holding = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(holding, Ordering::SeqCst);
        let outcome = (self.decide)(&message);
        self.seen.send(message).expect("the test is listening");
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("the gate stays open").forget();
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        outcome
    }
}

async fn next(received: &mut mpsc::UnboundedReceiver<BrokerMessage>) -> BrokerMessage {
    timeout(WAIT, received.recv()).await.expect("a message reaches the sink in time").expect("the sink is alive")
}

/// Waits until the message with `body` reaches the sink, passing over redeliveries of others.
async fn next_with_body(received: &mut mpsc::UnboundedReceiver<BrokerMessage>, body: &str) -> BrokerMessage {
    loop {
        let message = next(received).await;
        if message.body == body.as_bytes() {
            return message;
        }
    }
}

async fn a_published_message_reaches_the_sink_and_is_acknowledged(scratch: Scratch) {
    let (sink, mut received) = Recorder::accepting();
    let consumer = scratch.start(sink, |_| {});
    scratch.publish("patient.admitted", r#"{"patient":"p-1"}"#, &[("x-tenant", "clinic-a"), ("x-trace", "t-1")]).await;

    let message = next(&mut received).await;
    assert_eq!(message.routing_key, "patient.admitted");
    assert_eq!(message.body, br#"{"patient":"p-1"}"#);
    assert_eq!(message.headers, BTreeMap::from([("x-tenant".into(), "clinic-a".into()), ("x-trace".into(), "t-1".into())]));
    assert_eq!((message.message_id, message.redelivered), (None, false));

    consumer.stop().await;
    assert_eq!(scratch.ready(&scratch.config.queue).await, 0, "acknowledged, so not requeued when the consumer left");
    assert_eq!(scratch.ready(&scratch.config.dead_letter_queue).await, 0);
}

async fn a_rejected_message_goes_to_the_dead_letter_queue_with_its_reason(scratch: Scratch) {
    let (sink, mut received) = Recorder::new(|_| Outcome::Rejected { reason: "unknown event patient.teleported".into() }, None);
    let consumer = scratch.start(sink, |_| {});
    scratch.publish("patient.teleported", "{}", &[("x-tenant", "clinic-a")]).await;
    next(&mut received).await;
    consumer.stop().await;

    assert_eq!(scratch.ready(&scratch.config.queue).await, 0, "gone from the main queue");
    let (_connection, channel) = scratch.inspect().await;
    let get = BasicGetOptions { no_ack: true };
    let dead = channel.basic_get(scratch.config.dead_letter_queue.as_str().into(), get).await.unwrap().expect("a dead letter");
    assert_eq!((dead.delivery.routing_key.as_str(), dead.delivery.data.as_slice()), ("patient.teleported", &b"{}"[..]));
    let headers = dead.delivery.properties.headers().clone().expect("headers");
    let header = |key: &str| match headers.inner().get(key) {
        Some(AMQPValue::LongString(value)) => String::from_utf8(value.as_bytes().to_vec()).unwrap(),
        other => panic!("header {key}: {other:?}"),
    };
    assert_eq!(header(REASON_HEADER), "unknown event patient.teleported");
    assert_eq!(header(ROUTING_KEY_HEADER), "patient.teleported");
    assert_eq!(header("x-tenant"), "clinic-a", "the original headers are kept");
}

async fn a_retried_message_is_redelivered_then_accepted(scratch: Scratch) {
    let decide = |message: &BrokerMessage| match message.redelivered {
        false => Outcome::Retry { reason: "database unavailable".into() },
        true => Outcome::Accepted,
    };
    let (sink, mut received) = Recorder::new(decide, None);
    let consumer = scratch.start(sink, |_| {});
    scratch.publish("appointment.booked", "retry me", &[]).await;

    let first = next(&mut received).await;
    let second = next(&mut received).await;
    assert!(!first.redelivered);
    assert!(second.redelivered, "the broker redelivers a requeued message");
    assert_eq!(second.body, b"retry me");

    consumer.stop().await;
    assert_eq!(scratch.ready(&scratch.config.queue).await, 0);
    assert_eq!(scratch.ready(&scratch.config.dead_letter_queue).await, 0);
}

async fn no_more_than_prefetch_messages_are_in_flight(scratch: Scratch) {
    const PREFETCH: u16 = 3;
    const MESSAGES: usize = 7;
    for n in 0..MESSAGES {
        scratch.publish("reminder.due", &format!("reminder {n}"), &[]).await;
    }
    let gate = Arc::new(Semaphore::new(0));
    let (sink, mut received) = Recorder::new(|_| Outcome::Accepted, Some(gate.clone()));
    let consumer = scratch.start(sink.clone(), |config| config.prefetch = PREFETCH);

    for _ in 0..PREFETCH {
        next(&mut received).await;
    }
    assert!(timeout(QUIET, received.recv()).await.is_err(), "no message beyond the prefetch while none is settled");
    assert_eq!(scratch.ready(&scratch.config.queue).await, (MESSAGES - usize::from(PREFETCH)) as u32, "the rest wait in the queue");

    gate.add_permits(MESSAGES);
    for _ in usize::from(PREFETCH)..MESSAGES {
        next(&mut received).await;
    }
    consumer.stop().await;
    assert_eq!(sink.most_in_flight.load(Ordering::SeqCst), usize::from(PREFETCH), "the prefetch is used concurrently and not exceeded");
    assert_eq!(scratch.ready(&scratch.config.queue).await, 0);
}

async fn the_consumer_reconnects_after_the_network_drops(scratch: Scratch) {
    let proxy = Proxy::start(&scratch.url).await;
    let (sink, mut received) = Recorder::accepting();
    let consumer = scratch.start(sink, |config| config.url = proxy.url.clone());
    scratch.publish("lab.result.ready", "before", &[]).await;
    next_with_body(&mut received, "before").await;

    proxy.sever();
    scratch.publish("lab.result.ready", "after", &[]).await;
    next_with_body(&mut received, "after").await;
    assert!(proxy.accepted.load(Ordering::SeqCst) >= 2, "the consumer opened a new connection");

    consumer.stop().await;
    assert_eq!(scratch.ready(&scratch.config.queue).await, 0);
}

async fn the_consumer_reconnects_after_the_broker_closes_its_connection(scratch: Scratch) {
    let (sink, mut received) = Recorder::accepting();
    let consumer = scratch.start(sink, |_| {});
    scratch.publish("lab.result.ready", "before", &[]).await;
    next_with_body(&mut received, "before").await;

    let name = format!("herald consumer of {}", scratch.config.queue);
    let closed = tokio::task::spawn_blocking(move || close_connections_named(&name)).await.unwrap();
    assert_eq!(closed, 1, "rabbitmqctl closed the consumer's connection");
    scratch.publish("lab.result.ready", "after", &[]).await;
    next_with_body(&mut received, "after").await;

    consumer.stop().await;
    assert_eq!(scratch.ready(&scratch.config.queue).await, 0);
}

async fn shutdown_waits_for_messages_in_flight_then_returns_ok(scratch: Scratch) {
    let gate = Arc::new(Semaphore::new(0));
    let (sink, mut received) = Recorder::new(|_| Outcome::Accepted, Some(gate.clone()));
    let mut consumer = scratch.start(sink, |_| {});
    scratch.publish("patient.discharged", "in flight", &[]).await;
    next(&mut received).await;

    consumer.shutdown.cancel();
    assert!(timeout(QUIET, &mut consumer.task).await.is_err(), "the consumer waits for the message in flight");
    gate.add_permits(1);
    consumer.stop().await;
    assert_eq!(scratch.ready(&scratch.config.queue).await, 0, "the message in flight was acknowledged");
}

/// Closes, with `rabbitmqctl`, the connections whose client-provided name is `name`; returns
/// how many it closed.
fn close_connections_named(name: &str) -> usize {
    let listed = Command::new("rabbitmqctl").args(["list_connections", "-q", "--no-table-headers", "pid", "client_properties"]).output();
    let listed = listed.expect("rabbitmqctl runs (this test needs it, as root, beside the broker)");
    assert!(listed.status.success(), "rabbitmqctl list_connections: {}", String::from_utf8_lossy(&listed.stderr));
    let quoted = format!("\"{name}\"");
    let pids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|line| line.contains(&quoted))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect();
    for pid in &pids {
        let closed = Command::new("rabbitmqctl").args(["close_connection", pid, "closed by the herald-broker tests"]).output();
        let closed = closed.expect("rabbitmqctl runs");
        assert!(closed.status.success(), "rabbitmqctl close_connection {pid}: {}", String::from_utf8_lossy(&closed.stderr));
    }
    pids.len()
}

/// Whether an executable named `program` is in one of the `PATH` directories.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A TCP proxy to the broker whose connections can be cut at once, as a network failure would.
struct Proxy {
    url: String,
    accepted: Arc<AtomicUsize>,
    current: Arc<Mutex<CancellationToken>>,
}

impl Proxy {
    async fn start(broker_url: &str) -> Self {
        let mut uri: AMQPUri = broker_url.parse().expect("a valid AMQP URL");
        let broker = format!("{}:{}", uri.authority.host, uri.authority.port);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a local port");
        uri.authority.host = "127.0.0.1".into();
        uri.authority.port = listener.local_addr().unwrap().port();
        let proxy = Self { url: uri.to_string(), accepted: Arc::default(), current: Arc::default() };
        let (accepted, current) = (proxy.accepted.clone(), proxy.current.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let severed = current.lock().unwrap().clone();
                let broker = broker.clone();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(broker).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        () = severed.cancelled() => {}
                    }
                });
            }
        });
        proxy
    }

    /// Cuts every connection open now; later ones go through.
    fn sever(&self) {
        let mut current = self.current.lock().unwrap();
        current.cancel();
        *current = CancellationToken::new();
    }
}

/// Deletes the test's queues and exchanges.
async fn delete_topology(url: &str, config: &BrokerConfig) {
    let Ok(connection) = Connection::connect(url, ConnectionProperties::default()).await else { return };
    let Ok(channel) = connection.create_channel().await else { return };
    for queue in [&config.queue, &config.dead_letter_queue] {
        let _ = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
    }
    for exchange in [&config.exchange, &config.dead_letter_exchange] {
        let _ = channel.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default()).await;
    }
    let _ = connection.close(200, "done".into()).await;
}
