//! What Herald's test suites share: throwaway databases ([`scratch`]), a way to register
//! every test once per storage backend ([`on_each_backend`]), and local receivers that
//! deliveries reach for real: an SMTP server ([`smtp`]), a webhook endpoint ([`webhook`]),
//! Firebase Cloud Messaging ([`fcm`]), Amazon SNS's signed deliveries ([`sns`]) and a recording
//! HTTP service for simpler fakes ([`recorder`]).
//!
//! Every test runs on SQLite. It also runs on PostgreSQL when `HERALD_TEST_POSTGRES_URL` is
//! set; otherwise its PostgreSQL twin is listed as ignored, so a skipped backend shows in the
//! summary instead of passing silently.

pub mod fake_api;
pub mod fcm;
pub mod recorder;
pub mod scratch;
pub mod smtp;
pub mod sns;
pub mod webhook;

use libtest_mimic::{Failed, Trial};

/// The environment variable naming a PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "HERALD_TEST_POSTGRES_URL";

/// Which database a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh database on the PostgreSQL server at this URL.
    Postgres(String),
}

impl Backend {
    /// A scratch database of this kind.
    pub async fn scratch(&self) -> scratch::ScratchDatabase {
        match self {
            Backend::Sqlite => scratch::ScratchDatabase::sqlite(),
            Backend::Postgres(url) => scratch::ScratchDatabase::postgres(url).await.expect("a scratch PostgreSQL database"),
        }
    }
}

/// One trial per case and backend, named `sqlite::<case>` and `postgres::<case>`; `run`
/// executes a case on a backend.
pub fn on_each_backend<C: Copy + Send + 'static>(
    suite: &str,
    cases: &[(&'static str, C)],
    run: fn(Backend, C) -> Result<(), Failed>,
) -> Vec<Trial> {
    let postgres = std::env::var(POSTGRES_URL_VAR).ok().filter(|url| !url.is_empty());
    if postgres.is_none() {
        eprintln!("note: {POSTGRES_URL_VAR} is not set: the postgres:: {suite} tests are skipped (ignored)");
    }
    let mut trials = Vec::with_capacity(cases.len() * 2);
    for &(name, case) in cases {
        trials.push(Trial::test(format!("sqlite::{name}"), move || run(Backend::Sqlite, case)));
        let url = postgres.clone();
        let trial = Trial::test(format!("postgres::{name}"), move || {
            run(Backend::Postgres(url.ok_or(format!("{POSTGRES_URL_VAR} is not set"))?), case)
        });
        trials.push(trial.with_ignored_flag(postgres.is_none()));
    }
    trials
}
