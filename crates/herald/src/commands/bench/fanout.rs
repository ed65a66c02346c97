//! `herald bench fanout`: real-time fan-out of the notification center. Herald runs on SQLite
//! as `herald serve` does (dispatcher polling every 5 ms); `--clients` patients each hold an
//! SSE connection (`GET /patient-notifications/stream`, a user token each); notifications are
//! created through the API (`POST /notification-events/`, `report.ready` for one patient,
//! round robin, delivered in-app) on an open-loop schedule of `--rate` per second for
//! `--seconds`. It reports deliveries per second (notifications received by their client) and
//! each one's create-to-receive latency, counted from its request's scheduled send time so
//! stalls are not hidden. The clients run in a child process (this binary again, with the
//! hidden `--clients-of`), so each side of 10,000 connections fits the usual limit of 20,000
//! open files per process; the child reports each arrival with its wall-clock time, which both
//! processes share on one machine.

use super::{Target, percentile, scratch, scratch_config};
use crate::cli::FanoutBench;
use herald_server::config::{AuthConfig, JwtConfig, Secret};
use serde_json::{Value, json};
use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// The secret the bench's user tokens are signed with.
const JWT_SECRET: &str = "bench-jwt-secret-of-at-least-32-characters";

/// Users synced per bulk request.
const USERS_PER_REQUEST: usize = 500;

/// A user token for `patient`, valid for a day.
fn token(patient: &str) -> anyhow::Result<String> {
    let expires = jiff::Timestamp::now().as_second() + 24 * 3600;
    let claims = json!({"sub": patient, "tenant": "default", "exp": expires});
    Ok(jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()))?)
}

pub async fn fanout(args: FanoutBench) -> anyhow::Result<()> {
    if let Some(base) = &args.clients_of {
        return clients(base, args.clients).await;
    }
    let (database, backend) = scratch(&None).await?;
    let mut config = scratch_config(&database)?;
    config.job_poll_interval_ms = 5;
    config.delivery.concurrency = args.workers;
    config.auth = AuthConfig { jwt: Some(JwtConfig::hs256(Secret::new(JWT_SECRET))), gateway: None };
    let running = super::Running::start(config).await?;
    let (herald, base) = (running.herald.clone(), running.base.clone());
    seed(&herald, &base, args.clients).await?;

    eprintln!("{backend}: connecting {} SSE clients from a child process…", args.clients);
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["bench", "fanout", "--clients", &args.clients.to_string(), "--clients-of", &base])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("a piped stdout")).lines();
    match lines.next_line().await? {
        Some(line) if line == "ready" => {}
        other => anyhow::bail!("the client process did not connect its clients: {other:?}"),
    }
    let (arrivals, mut arrived) = mpsc::unbounded_channel::<(usize, u128)>();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let mut parts = line.split(' ').map(str::parse::<u128>);
            if let (Some(Ok(probe)), Some(Ok(at))) = (parts.next(), parts.next()) {
                let _ = arrivals.send((probe as usize, at));
            }
        }
    });

    let total = (u64::from(args.rate) * u64::from(args.seconds)) as usize;
    eprintln!("{} clients connected; creating {total} notifications at {}/s…", args.clients, args.rate);
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let began = tokio::time::Instant::now();
    let began_wall = micros_now();
    let scheduled: Vec<u128> = (0..total).map(|n| began_wall + (interval * n as u32).as_micros()).collect();
    let failures = Arc::new(AtomicUsize::new(0));
    let mut requests = Vec::with_capacity(total);
    for n in 0..total {
        tokio::time::sleep_until(began + interval * n as u32).await;
        let (herald, failures) = (herald.clone(), failures.clone());
        let event = json!({"name": "report.ready", "payload": {"patient_id": format!("patient-{}", n % args.clients), "probe": n}});
        requests.push(tokio::spawn(async move {
            if !super::ingest::send(&herald, &event).await {
                failures.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for request in requests {
        request.await?;
    }
    let expected = total - failures.load(Ordering::Relaxed);
    let mut received = Vec::with_capacity(expected);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while received.len() < expected {
        match tokio::time::timeout_at(deadline, arrived.recv()).await {
            Ok(Some(arrival)) => received.push(arrival),
            _ => break,
        }
    }
    let last = received.iter().map(|(_, at)| *at).max().unwrap_or(began_wall);
    let latencies: Vec<Duration> = received
        .iter()
        .filter_map(|(n, at)| scheduled.get(*n).map(|sent| Duration::from_micros(at.saturating_sub(*sent) as u64)))
        .collect();
    let (rss, peak) = super::memory_mib();
    println!(
        "| {backend}, {} SSE clients, {}/s for {} s | created | received | deliveries/s | p50 ms | p99 ms | max ms | missing | failed | RSS MiB (peak) |",
        args.clients, args.rate, args.seconds
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| fan-out | {total} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {} | {rss:.0} ({peak:.0}) |",
        received.len(),
        received.len() as f64 / (last.saturating_sub(began_wall) as f64 / 1e6).max(f64::EPSILON),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        expected.saturating_sub(received.len()),
        failures.load(Ordering::Relaxed),
    );
    child.kill().await?;
    running.stop().await?;
    Ok(())
}

/// `clients` patients, a template whose in-app text is the probe number, and the setting that
/// sends `report.ready` in-app.
async fn seed(herald: &Target, base: &str, clients: usize) -> anyhow::Result<()> {
    let users: Vec<Value> = (0..clients).map(|n| json!({"id": format!("patient-{n}"), "groups": ["patients"]})).collect();
    for batch in users.chunks(USERS_PER_REQUEST) {
        herald.client.post(format!("{base}/users/bulk")).bearer_auth(&herald.key).json(&batch).send().await?.error_for_status()?;
    }
    let template = json!({"name": "report", "pushTitle": "Your report is ready", "smsMessage": "{{data.probe}}"});
    herald.client.post(format!("{base}/templates/")).bearer_auth(&herald.key).json(&template).send().await?.error_for_status()?;
    let setting = json!({"eventName": "report.ready", "group": "patients", "channels": ["in_app"], "templateName": "report"});
    herald
        .client
        .post(format!("{base}/notification-settings/"))
        .bearer_auth(&herald.key)
        .json(&setting)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// Microseconds since the Unix epoch: the clock both processes share.
fn micros_now() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros()
}

/// The client process: connects `clients` SSE streams to the Herald at `base` (patients 0 to
/// `clients - 1`), prints `ready`, then one line `<probe> <arrival µs>` per notification
/// created, until it is killed.
pub async fn clients(base: &str, clients: usize) -> anyhow::Result<()> {
    let (arrivals, mut arrived) = mpsc::unbounded_channel::<(usize, u128)>();
    let streams = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    for n in 0..clients {
        let request = streams.get(format!("{base}/patient-notifications/stream")).bearer_auth(token(&format!("patient-{n}"))?);
        let response = request.send().await?.error_for_status()?;
        tokio::spawn(listen(response, arrivals.clone()));
    }
    drop(arrivals);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    while let Some((probe, at)) = arrived.recv().await {
        writeln!(stdout, "{probe} {at}")?;
        stdout.flush()?;
    }
    Ok(())
}

/// Reads one client's event stream; reports each created notification's probe number with
/// when it arrived.
async fn listen(mut response: reqwest::Response, arrivals: mpsc::UnboundedSender<(usize, u128)>) {
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let at = micros_now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if !block.lines().any(|l| l == "event: created") {
                continue;
            }
            let data = block.lines().find_map(|l| l.strip_prefix("data: ")).and_then(|d| serde_json::from_str::<Value>(d).ok());
            if let Some(probe) = data.as_ref().and_then(|d| d["message"].as_str()).and_then(|m| m.parse().ok()) {
                let _ = arrivals.send((probe, at));
            }
        }
    }
}
