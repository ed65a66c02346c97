//! The HTTP API end to end: a real Herald on port 0 per test, with a fresh database, a manual
//! clock and a real HTTP client. Every test runs against SQLite, and against PostgreSQL when
//! `HERALD_TEST_POSTGRES_URL` is set (otherwise the postgres:: tests are listed as ignored).

mod audit;
mod bad_input;
mod catalogue;
mod clinic_settings;
mod crud;
mod delivery;
mod email;
mod events;
mod fan_out;
mod files;
mod inbox;
mod isolation;
mod message_log;
mod operations;
mod preferences;
mod providers;
mod push;
mod saga;
mod send;
mod sms;
mod smtp_settings;
mod support;
mod templates;
mod timers;
mod user_settings;
mod whatsapp;

use herald_testkit::on_each_backend;
use libtest_mimic::Arguments;
use support::Case;

const GROUPS: &[&[(&str, Case)]] = &[
    crud::CASES,
    bad_input::CASES,
    isolation::CASES,
    operations::CASES,
    events::CASES,
    user_settings::CASES,
    catalogue::CASES,
    templates::CASES,
    timers::CASES,
    send::CASES,
    saga::CASES,
    delivery::CASES,
    preferences::CASES,
    clinic_settings::CASES,
    audit::CASES,
    message_log::CASES,
    files::CASES,
    push::CASES,
    whatsapp::CASES,
    providers::CASES,
    smtp_settings::CASES,
    fan_out::CASES,
    email::CASES,
    sms::CASES,
    inbox::CASES,
];

fn main() {
    let args = Arguments::from_args();
    let cases: Vec<(&'static str, Case)> = GROUPS.iter().flat_map(|group| group.iter().copied()).collect();
    libtest_mimic::run(&args, on_each_backend("API", &cases, support::run)).exit();
}
