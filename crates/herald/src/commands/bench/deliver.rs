//! `herald bench deliver`: end-to-end deliveries per second, from event acceptance to a local
//! sink — a webhook receiver (signed JSON POSTs) or a real SMTP server — and each delivery's
//! latency from its event's acceptance (the 200 of `POST /notification-events/`) to its
//! arrival. Events go as fast as they are accepted (`--concurrency` in flight), or at a fixed
//! `--rate` per second, so latency can be read below the delivery throughput. Herald runs as
//! `herald serve` does (dispatcher polling every 5 ms), with the
//! directory of the ingest bench and one setting: every appointment notifies its patient and
//! its doctor on the chosen channel, so each event makes two deliveries.

use super::ingest::{seed_users, send};
use super::{percentile, scratch, scratch_config};
use crate::cli::{DeliverBench, SinkKind};
use herald_channels::{ProviderConfig, SmtpConfig, SmtpSecurity, WebhookConfig};
use herald_core::resources::channel::Channel;
use herald_core::secrets::Secret;
use herald_testkit::smtp::SmtpSink;
use herald_testkit::webhook::WebhookSink;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An appointment whose start time encodes `n` (one second apart), so a sink can tell which
/// event a message came from by its subject or its event.
fn event(n: usize, base: Timestamp) -> Value {
    let start = base.checked_add(SignedDuration::from_secs(n as i64)).expect("in range");
    super::ingest::event(n, start)
}

pub async fn deliver(args: DeliverBench) -> anyhow::Result<()> {
    let (database, backend) = scratch(&args.postgres).await?;
    let mut config = scratch_config(&database)?;
    config.job_poll_interval_ms = 5;
    config.delivery.concurrency = args.workers;
    let (mut hooks, mut smtp) = (None, None);
    match args.sink {
        SinkKind::Webhook => {
            let sink = WebhookSink::start(Vec::new(), None).await;
            let webhook = WebhookConfig { url: sink.url.clone(), secret: Secret::new("bench-secret"), timeout_seconds: 10 };
            config.channels.insert(Channel::Webhook, ProviderConfig::Webhook(webhook));
            hooks = Some(sink);
        }
        SinkKind::Email => {
            let sink = SmtpSink::start();
            let settings = SmtpConfig {
                security: SmtpSecurity::Plain,
                max_connections: 16,
                ..SmtpConfig::new("127.0.0.1", sink.port, "Clinic <noreply@clinic.example>")
            };
            config.channels.insert(Channel::Email, ProviderConfig::Smtp(settings));
            smtp = Some(sink);
        }
    }
    let running = super::Running::start(config).await?;
    let (herald, base) = (running.herald.clone(), running.base.clone());
    seed_users(&herald, &base).await?;
    let channel = match args.sink {
        SinkKind::Webhook => "webhook",
        SinkKind::Email => "email",
    };
    let template = json!({"name": "appointment", "emailTitle": "Appointment {{data.startDate}}", "emailHtmlMessage": "<p>See you on {{data.startDate}}.</p>"});
    herald.client.post(format!("{base}/templates/")).bearer_auth(&herald.key).json(&template).send().await?.error_for_status()?;
    let setting = json!({"eventName": "AM/AppointmentCreated/v1", "channels": [channel], "templateName": "appointment"});
    herald
        .client
        .post(format!("{base}/notification-settings/"))
        .bearer_auth(&herald.key)
        .json(&setting)
        .send()
        .await?
        .error_for_status()?;

    let start = Timestamp::now().checked_add(SignedDuration::from_hours(24 * 7))?;
    eprintln!("{backend}: {} events ({} deliveries) to the {channel} sink, {} in flight…", args.events, args.events * 2, args.concurrency);
    let accepted: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let senders: Vec<_> = match args.rate {
        None => (0..args.concurrency)
            .map(|_| {
                let (herald, next, accepted) = (herald.clone(), next.clone(), accepted.clone());
                let events = args.events;
                tokio::spawn(async move {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= events {
                            return;
                        }
                        if send(&herald, &event(n, start)).await {
                            accepted.lock().expect("never poisoned").insert(n, Instant::now());
                        }
                    }
                })
            })
            .collect(),
        Some(rate) => {
            let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
            let mut requests = Vec::with_capacity(args.events);
            for n in 0..args.events {
                tokio::time::sleep_until(tokio::time::Instant::from_std(began + interval * n as u32)).await;
                let (herald, accepted) = (herald.clone(), accepted.clone());
                requests.push(tokio::spawn(async move {
                    if send(&herald, &event(n, start)).await {
                        accepted.lock().expect("never poisoned").insert(n, Instant::now());
                    }
                }));
            }
            requests
        }
    };
    for sender in senders {
        sender.await?;
    }
    let accepted_in = began.elapsed();
    let expected = accepted.lock().expect("never poisoned").len() * 2;
    let deadline = Instant::now() + Duration::from_secs(600);
    let arrived = loop {
        let mut arrived: Vec<(usize, Instant)> = Vec::new();
        if let Some(sink) = &smtp {
            arrived.extend(sink.received().iter().filter_map(|mail| subject_number(&mail.data, start).map(|n| (n, mail.arrived_at))));
        }
        if let Some(sink) = &hooks {
            arrived.extend(sink.received().iter().filter_map(|hook| key_number(&hook.body).map(|n| (n, hook.arrived_at))));
        }
        if arrived.len() >= expected || Instant::now() > deadline {
            break arrived;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let last = arrived.iter().map(|(_, at)| *at).max().unwrap_or(began);
    let accepted = accepted.lock().expect("never poisoned").clone();
    let latencies: Vec<Duration> =
        arrived.iter().filter_map(|(n, at)| accepted.get(n).map(|sent| at.saturating_duration_since(*sent))).collect();
    let elapsed = last.saturating_duration_since(began).as_secs_f64();
    println!("| {backend} → {channel} sink | deliveries | deliveries/s | events accepted/s | p50 ms | p99 ms | missing |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {} events, {}, {} workers | {} | {:.0} | {:.0} | {:.1} | {:.1} | {} |",
        args.events,
        args.rate.map_or(format!("{} in flight", args.concurrency), |rate| format!("{rate}/s")),
        args.workers,
        arrived.len(),
        arrived.len() as f64 / elapsed,
        accepted.len() as f64 / accepted_in.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        expected.saturating_sub(arrived.len()),
    );
    running.stop().await?;
    Ok(())
}

/// The event number a webhook's event key (`appointment-<n>`) stands for.
fn key_number(body: &str) -> Option<usize> {
    let body: Value = serde_json::from_str(body).ok()?;
    body["event"]["key"].as_str()?.strip_prefix("appointment-")?.parse().ok()
}

/// The event number an email's subject (`Appointment <start>`) stands for.
fn subject_number(data: &[u8], base: Timestamp) -> Option<usize> {
    let text = String::from_utf8_lossy(data);
    let subject = text.lines().find_map(|l| l.strip_prefix("Subject: "))?;
    let start: Timestamp = subject.strip_prefix("Appointment ")?.trim().parse().ok()?;
    usize::try_from(start.duration_since(base).as_secs()).ok()
}
