//! The HTTP API end to end: a real Herald on port 0 per test, with a fresh database, a manual
//! clock and a real HTTP client. Every test runs against SQLite, and against PostgreSQL when
//! `HERALD_TEST_POSTGRES_URL` is set (otherwise the postgres:: tests are listed as ignored).

mod bad_input;
mod crud;
mod isolation;
mod operations;
mod support;

use libtest_mimic::{Arguments, Trial};
use support::{Backend, Case};

const GROUPS: &[&[(&str, Case)]] = &[
    crud::CASES,
    bad_input::CASES,
    isolation::CASES,
    operations::CASES,
];

fn main() {
    let args = Arguments::from_args();
    let postgres = std::env::var("HERALD_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if postgres.is_none() {
        eprintln!(
            "note: HERALD_TEST_POSTGRES_URL is not set: the postgres:: API tests are skipped (ignored)"
        );
    }
    let mut trials = Vec::new();
    for &(name, case) in GROUPS.iter().flat_map(|group| group.iter()) {
        trials.push(Trial::test(format!("sqlite::{name}"), move || {
            support::run(Backend::Sqlite, case)
        }));
        let url = postgres.clone();
        trials.push(
            Trial::test(format!("postgres::{name}"), move || {
                let url = url.ok_or("HERALD_TEST_POSTGRES_URL is not set")?;
                support::run(Backend::Postgres(url), case)
            })
            .with_ignored_flag(postgres.is_none()),
        );
    }
    libtest_mimic::run(&args, trials).exit();
}
