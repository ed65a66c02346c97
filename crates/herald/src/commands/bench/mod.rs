//! `herald bench`: measurements a person can rerun on their machine. The load generator runs
//! in the same process as the server (loopback HTTP, keep-alive connections), so both share
//! the machine's cores — the figures are for Herald and its client together.

mod deliver;
mod fanout;
mod ingest;
mod scheduler;

use crate::cli::BenchCommand;
use herald_server::Config;
use herald_server::config::Secret;
use herald_testkit::scratch::ScratchDatabase;
use std::time::Duration;

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(args) => ingest::ingest(args).await,
        BenchCommand::Deliver(args) => deliver::deliver(args).await,
        BenchCommand::Scheduler(args) => scheduler::scheduler(args).await,
        BenchCommand::Fanout(args) => fanout::fanout(args).await,
    }
}

/// A Herald on `database`, on port 0, with its own secret key.
fn scratch_config(database: &ScratchDatabase) -> anyhow::Result<Config> {
    Ok(Config {
        database_url: database.url().to_string(),
        bind: "127.0.0.1:0".parse()?,
        secret_key: Some(Secret::new(herald_core::secrets::SecretKey::generate().to_base64())),
        ..Config::default()
    })
}

/// A scratch database: PostgreSQL at `postgres` when given, else SQLite in a temporary folder.
async fn scratch(postgres: &Option<String>) -> anyhow::Result<(ScratchDatabase, &'static str)> {
    Ok(match postgres {
        Some(url) => (ScratchDatabase::postgres(url).await?, "PostgreSQL"),
        None => (ScratchDatabase::sqlite(), "SQLite"),
    })
}

/// A Herald started for a bench on port 0.
struct Running {
    /// Its base URL.
    base: String,
    /// Its events endpoint, with the bootstrap admin key.
    herald: Target,
    stop: tokio_util::sync::CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Builds and starts Herald with `config` on a fresh database.
    async fn start(config: Config) -> anyhow::Result<Self> {
        let app = herald_server::App::build(config).await?;
        let base = format!("http://{}", app.local_addr());
        let herald = Target {
            url: format!("{base}/notification-events/"),
            key: app.bootstrap_key().expect("a fresh database").secret.clone(),
            client: reqwest::Client::new(),
        };
        let stop = app.shutdown_token();
        let server = tokio::spawn(app.run_until_stopped());
        Ok(Self { base, herald, stop, server })
    }

    /// Stops it and waits until it has.
    async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.server.await?
    }
}

/// Where requests go and with which key.
#[derive(Clone)]
struct Target {
    url: String,
    key: String,
    client: reqwest::Client,
}

/// What one phase measured.
struct Figures {
    events: usize,
    failures: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn per_second(&self) -> f64 {
        (self.events - self.failures) as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        percentile(&self.latencies, p)
    }
}

/// The `p` quantile of `values`, in milliseconds.
fn percentile(values: &[Duration], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
    sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// This process's resident memory now and at its peak, in MiB (Linux).
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}
