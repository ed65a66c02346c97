//! `herald bench ingest`: events committed per second through `POST /notification-events/`,
//! and latency at a fixed rate, beside a bare axum handler that only parses the same JSON.

use super::{Figures, Target, scratch_config};
use crate::cli::IngestBench;
use axum::routing::post;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Patients in the directory.
pub const PATIENTS: usize = 200;
/// Doctors in the directory.
pub const DOCTORS: usize = 20;

/// An `AM/AppointmentCreated/v1` with two participants a week ahead.
pub fn event(n: usize, start: Timestamp) -> Value {
    let end = start.checked_add(SignedDuration::from_mins(30)).expect("in range");
    json!({"name": "AM/AppointmentCreated/v1", "key": format!("appointment-{n}"), "payload": {
        "startDate": herald_core::document::format_timestamp(start), "endDate": herald_core::document::format_timestamp(end),
        "resourceId": format!("doctor-{}", n % DOCTORS), "participantIds": [format!("patient-{}", n % PATIENTS)]}})
}

pub async fn ingest(args: IngestBench) -> anyhow::Result<()> {
    let (database, backend) = super::scratch(&args.postgres).await?;
    let mut config = scratch_config(&database)?;
    if !args.deliver {
        config.job_poll_interval_ms = 0;
    }
    let running = super::Running::start(config).await?;
    let (herald, base) = (running.herald.clone(), running.base.clone());
    seed(&herald, &base).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare = Target {
        url: format!("http://{}/notification-events/", listener.local_addr()?),
        key: String::new(),
        client: reqwest::Client::new(),
    };
    let router =
        axum::Router::new().route("/notification-events/", post(|axum::Json(_): axum::Json<Value>| async { axum::Json(json!({})) }));
    let baseline = tokio::spawn(async move { axum::serve(listener, router).await });

    let start = Timestamp::now().checked_add(SignedDuration::from_hours(24 * 7))?;
    eprintln!("{backend}: warming up…");
    throughput(&herald, 500.min(args.events), args.concurrency, start, 1_000_000).await;
    eprintln!("{backend}: throughput, {} events, {} in flight…", args.events, args.concurrency);
    let herald_burst = throughput(&herald, args.events, args.concurrency, start, 0).await;
    let bare_burst = throughput(&bare, args.events, args.concurrency, start, 0).await;
    eprintln!("{backend}: latency at {} events/s for {} s…", args.rate, args.seconds);
    let herald_steady = fixed_rate(&herald, args.rate, args.seconds, start, 2_000_000).await;
    let bare_steady = fixed_rate(&bare, args.rate, args.seconds, start, 0).await;

    println!(
        "| {backend} | events/s (burst, {} in flight) | p50 ms at {}/s | p99 ms at {}/s | failed |",
        args.concurrency, args.rate, args.rate
    );
    println!("|---|---|---|---|---|");
    for (name, burst, steady) in
        [("Herald, committed", &herald_burst, &herald_steady), ("bare axum, JSON parse only", &bare_burst, &bare_steady)]
    {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} |",
            burst.per_second(),
            steady.percentile(0.50),
            steady.percentile(0.99),
            burst.failures + steady.failures
        );
    }
    running.stop().await?;
    baseline.abort();
    Ok(())
}

/// The directory: patients and doctors with email addresses and phone numbers.
pub async fn seed_users(herald: &Target, base: &str) -> anyhow::Result<()> {
    let users: Vec<Value> = (0..PATIENTS)
        .map(|n| json!({"id": format!("patient-{n}"), "emailAddress": format!("patient{n}@example.org"), "phoneNumber": format!("+3960{n:07}")}))
        .chain((0..DOCTORS).map(|n| json!({"id": format!("doctor-{n}"), "emailAddress": format!("doctor{n}@example.org"), "phoneNumber": format!("+3961{n:07}")})))
        .collect();
    herald.client.post(format!("{base}/users/bulk")).bearer_auth(&herald.key).json(&users).send().await?.error_for_status()?;
    Ok(())
}

async fn seed(herald: &Target, base: &str) -> anyhow::Result<()> {
    seed_users(herald, base).await?;
    let client = &herald.client;
    let setting = json!({"eventName": "AM/AppointmentCreated/v1", "channels": ["email", "sms"], "templateName": "appointment", "reminders": ["P1D", "PT2H", "PT30M"]});
    client.post(format!("{base}/notification-settings/")).bearer_auth(&herald.key).json(&setting).send().await?.error_for_status()?;
    Ok(())
}

pub async fn send(target: &Target, body: &Value) -> bool {
    let mut request = target.client.post(&target.url).json(body);
    if !target.key.is_empty() {
        request = request.bearer_auth(&target.key);
    }
    matches!(request.send().await, Ok(response) if response.status().is_success())
}

/// `events` requests with `concurrency` in flight, as fast as they are answered.
async fn throughput(target: &Target, events: usize, concurrency: usize, start: Timestamp, offset: usize) -> Figures {
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (target, next) = (target.clone(), next.clone());
            tokio::spawn(async move {
                let (mut latencies, mut failures) = (Vec::new(), 0);
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= events {
                        return (latencies, failures);
                    }
                    let sent = Instant::now();
                    if !send(&target, &event(offset + n, start)).await {
                        failures += 1;
                    }
                    latencies.push(sent.elapsed());
                }
            })
        })
        .collect();
    let mut figures = Figures { events, failures: 0, elapsed: Duration::ZERO, latencies: Vec::new() };
    for worker in workers {
        let (latencies, failures) = worker.await.expect("a worker finishes");
        figures.latencies.extend(latencies);
        figures.failures += failures;
    }
    figures.elapsed = began.elapsed();
    figures
}

/// `rate` requests a second for `seconds`, each sent at its scheduled time whatever the
/// others do; latency counts from the scheduled time, so a stall is not hidden.
async fn fixed_rate(target: &Target, rate: u32, seconds: u32, start: Timestamp, offset: usize) -> Figures {
    let events = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let began = tokio::time::Instant::now();
    let mut requests = Vec::with_capacity(events);
    for n in 0..events {
        let scheduled = began + interval * n as u32;
        tokio::time::sleep_until(scheduled).await;
        let target = target.clone();
        requests.push(tokio::spawn(async move {
            let ok = send(&target, &event(offset + n, start)).await;
            (ok, scheduled.elapsed())
        }));
    }
    let mut figures = Figures { events, failures: 0, elapsed: Duration::ZERO, latencies: Vec::with_capacity(events) };
    for request in requests {
        let (ok, latency) = request.await.expect("a request finishes");
        figures.failures += usize::from(!ok);
        figures.latencies.push(latency);
    }
    figures.elapsed = began.elapsed();
    figures
}
