//! `herald bench scheduler`: a million pending reminders in the job table — how long writing
//! them takes (through the store, in batches, as event commits write them) and what they cost
//! in memory (nothing is held per job: the table is the queue) — then how late due timers fire
//! beside them: timers set through `POST /schedule` expire over a spread of seconds and call
//! a local receiver; lateness is the receiver's arrival time minus the timer's expiry.

use super::{memory_mib, percentile, scratch, scratch_config};
use crate::cli::SchedulerBench;
use herald_core::job::{Job, JobKind};
use herald_server::App;
use herald_store::EventCommit;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Reminder jobs written per transaction.
const BATCH: usize = 2_000;

pub async fn scheduler(args: SchedulerBench) -> anyhow::Result<()> {
    let (database, backend) = scratch(&args.postgres).await?;
    let mut config = scratch_config(&database)?;
    config.job_poll_interval_ms = args.poll_ms;
    config.timer_allowed_hosts = vec!["127.0.0.1".into()];
    let app = App::build(config).await?;
    let base = format!("http://{}", app.local_addr());
    let key = app.bootstrap_key().expect("a fresh database").secret.clone();
    let store = app.store();
    let stop = app.shutdown_token();
    let (rss_before, _) = memory_mib();

    eprintln!("{backend}: writing {} pending reminders…", args.pending);
    let far = Timestamp::now().checked_add(SignedDuration::from_hours(24 * 30))?;
    let began = Instant::now();
    for first in (0..args.pending).step_by(BATCH) {
        let jobs = (first..(first + BATCH).min(args.pending))
            .map(|i| {
                let due = far.checked_add(SignedDuration::from_millis(i as i64)).expect("in range");
                let event = json!({"name": "AM/AppointmentReminder/v1", "key": format!("appointment-{i}"), "payload": {}});
                Job::pending(format!("bench-reminder-{i}"), JobKind::Reminder, due, json!({"event": event}))
            })
            .collect();
        store.commit_event("default", EventCommit { jobs, ..EventCommit::default() }).await?;
    }
    let write_time = began.elapsed();
    let server = tokio::spawn(app.run_until_stopped());

    let arrivals: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let log = arrivals.clone();
    let receiver = axum::Router::new().fallback(move |body: String| {
        let log = log.clone();
        async move {
            let body: Value = serde_json::from_str(&body).unwrap_or_default();
            if let Some(n) = body["n"].as_u64() {
                log.lock().expect("never poisoned").insert(n as usize, Instant::now());
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    eprintln!("{backend}: {} timers expiring over {} s beside them…", args.timers, args.spread_seconds);
    let client = reqwest::Client::new();
    let (origin, origin_instant) = (Timestamp::now(), Instant::now());
    let lead = Duration::from_secs(3);
    let mut due = HashMap::new();
    for n in 0..args.timers {
        let interval = lead + Duration::from_secs_f64(args.spread_seconds as f64 * n as f64 / args.timers as f64);
        let body = json!({"payload": {"n": n}, "startDate": herald_core::document::format_timestamp(origin), "expirationIntervalMs": interval.as_millis() as u64,
            "applicantService": "bench", "outputMode": {"type": "rest", "method": "post", "protocol": "http", "hostname": "127.0.0.1", "port": port, "path": "/fired"}});
        client.post(format!("{base}/schedule")).bearer_auth(&key).json(&body).send().await?.error_for_status()?;
        due.insert(n, origin_instant + Duration::from_millis(interval.as_millis() as u64));
    }
    let deadline = Instant::now() + lead + Duration::from_secs(args.spread_seconds + 120);
    while arrivals.lock().expect("never poisoned").len() < args.timers && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let arrivals = arrivals.lock().expect("never poisoned").clone();
    let lateness: Vec<Duration> = arrivals.iter().filter_map(|(n, at)| due.get(n).map(|d| at.saturating_duration_since(*d))).collect();
    let (rss_after, peak) = memory_mib();
    println!(
        "| {backend} | pending reminders | written in s | RSS before → after MiB (peak) | timers fired | lateness p50 ms | p99 ms | max ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| poll {} ms | {} | {:.1} | {:.0} → {:.0} ({:.0}) | {}/{} | {:.0} | {:.0} | {:.0} |",
        args.poll_ms,
        args.pending,
        write_time.as_secs_f64(),
        rss_before,
        rss_after,
        peak,
        arrivals.len(),
        args.timers,
        percentile(&lateness, 0.50),
        percentile(&lateness, 0.99),
        lateness.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
    stop.cancel();
    server.await??;
    Ok(())
}
