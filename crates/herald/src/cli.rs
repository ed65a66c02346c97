//! The command line.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Herald: notifications for healthcare software.
///
/// Configuration comes from built-in defaults, then the TOML file given with --config, then
/// HERALD_* environment variables (HERALD_DATABASE_URL, HERALD_BIND, HERALD_SECRET_KEY, …;
/// nested keys with a double underscore, e.g. HERALD_AUTH__JWT__SECRET).
#[derive(Debug, Parser)]
#[command(name = "herald", version)]
pub struct Cli {
    /// A TOML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Herald's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server. On an empty database it creates tenant `default` and prints its
    /// admin API key once, as a JSON line on standard output.
    Serve,
    /// Apply database migrations and exit (serve also applies them at start).
    Migrate,
    /// Manage tenants (clinics, organisations).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage the API keys services use to call Herald.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Measure Herald on this machine (see BENCHMARKS.md).
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Event ingest through POST /notification-events/: events committed per second, and
    /// latency at a fixed rate, against a bare axum handler that only parses the same JSON.
    Ingest(IngestBench),
    /// End-to-end delivery: events accepted, then delivered to a local webhook receiver or
    /// SMTP server; deliveries per second and acceptance-to-delivery latency.
    Deliver(DeliverBench),
    /// A million pending reminders: write time, memory, and how late due timers fire beside
    /// them.
    Scheduler(SchedulerBench),
    /// Real-time fan-out of the notification center: SSE clients connected, notifications
    /// created through the API at a fixed rate; deliveries per second and create-to-receive
    /// latency.
    Fanout(FanoutBench),
}

/// Arguments of `bench fanout`.
#[derive(Debug, Args)]
pub struct FanoutBench {
    /// Patients connected, one SSE stream each.
    #[arg(long, default_value_t = 10_000)]
    pub clients: usize,
    /// Notifications created per second, spread across the patients.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u32,
    /// Seconds the load lasts.
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// Deliveries in flight at once (`delivery.concurrency`, whose default this is).
    #[arg(long, default_value_t = herald_engine::delivery::DEFAULT_CONCURRENCY)]
    pub workers: usize,
    /// Internal: run as the client process of a fan-out bench against this Herald (the clients
    /// live in a child process, so each process stays within its file-descriptor limit).
    #[arg(long, hide = true, value_name = "URL")]
    pub clients_of: Option<String>,
}

/// Where `bench deliver` delivers.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SinkKind {
    /// Signed webhooks to a local HTTP receiver.
    Webhook,
    /// Email to a local SMTP server.
    Email,
}

/// Arguments of `bench deliver`.
#[derive(Debug, Args)]
pub struct DeliverBench {
    /// A PostgreSQL server to run on (a scratch database is created and dropped); SQLite in a
    /// temporary folder when absent.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// The sink.
    #[arg(long, value_enum, default_value_t = SinkKind::Webhook)]
    pub sink: SinkKind,
    /// Events sent (each makes two deliveries).
    #[arg(long, default_value_t = 10_000)]
    pub events: usize,
    /// Event requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Deliveries in flight at once (`delivery.concurrency`, whose default this is).
    #[arg(long, default_value_t = herald_engine::delivery::DEFAULT_CONCURRENCY)]
    pub workers: usize,
    /// Send events at this many per second instead of as fast as they are accepted.
    #[arg(long)]
    pub rate: Option<u32>,
}

/// Arguments of `bench scheduler`.
#[derive(Debug, Args)]
pub struct SchedulerBench {
    /// A PostgreSQL server to run on; SQLite in a temporary folder when absent.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Pending reminders written before the timers are set.
    #[arg(long, default_value_t = 1_000_000)]
    pub pending: usize,
    /// Timers whose lateness is measured.
    #[arg(long, default_value_t = 2_000)]
    pub timers: usize,
    /// Seconds over which the timers expire.
    #[arg(long, default_value_t = 20)]
    pub spread_seconds: u64,
    /// Milliseconds between looks for due jobs (`job_poll_interval_ms`).
    #[arg(long, default_value_t = 100)]
    pub poll_ms: u64,
}

/// Arguments of `bench ingest`.
#[derive(Debug, Args)]
pub struct IngestBench {
    /// A PostgreSQL server to run on (a scratch database is created and dropped); SQLite in a
    /// temporary folder when absent.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Events sent in the throughput phase.
    #[arg(long, default_value_t = 20_000)]
    pub events: usize,
    /// Requests in flight at once in the throughput phase.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Events per second in the latency phase.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u32,
    /// Seconds the latency phase lasts.
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// Also run the scheduler and dispatcher in the same process, as `herald serve` does, so
    /// the events' messages are delivered (to the default console providers) on the same
    /// cores while events arrive. Off by default: the bench measures the API tier, as an
    /// instance with `job_poll_interval_ms = 0` serves it; `bench deliver` measures the two
    /// together.
    #[arg(long)]
    pub deliver: bool,
}

/// Tenant commands.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its admin key once: {"tenant":"<slug>","apiKey":"<key>"}.
    Create {
        /// Short name: lowercase letters, digits and inner hyphens (e.g. st-claire).
        slug: String,
        /// Display name (defaults to the slug).
        #[arg(long)]
        name: Option<String>,
        /// IANA time zone for recipients without one (quiet hours, time slots), e.g. Europe/Rome.
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// List tenants, one JSON line each.
    List,
}

/// API key commands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Mint a key and print it once: {"tenant":…,"apiKey":…,"role":…,"keyId":…}.
    Create(CreateKey),
    /// List a tenant's keys, one JSON line each (ids and roles; never the keys themselves).
    List {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a key at once, by the id `list` shows.
    Revoke {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The key's id.
        key_id: String,
    },
}

/// Arguments of `api-key create`.
#[derive(Debug, Args)]
pub struct CreateKey {
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// admin (everything), manager (settings, templates, preferences, logs, manual sends),
    /// integration (emit events, send, sync users) or viewer (read-only).
    #[arg(long)]
    pub role: String,
}
