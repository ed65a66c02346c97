//! One file per command.

mod api_key;
mod bench;
mod serve;
mod tenant;

use crate::cli::{Cli, Command};
use herald_server::Config;
use std::sync::Arc;

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve::run(config).await,
        Command::Migrate => {
            open_store(&config).await?;
            println!("{}", serde_json::json!({"migrated": true}));
            Ok(())
        }
        Command::Tenant(command) => tenant::run(open_store(&config).await?, command).await,
        Command::ApiKey(command) => api_key::run(open_store(&config).await?, command).await,
        Command::Bench(command) => bench::run(command).await,
    }
}

/// Opens the configured database and applies pending migrations.
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn herald_store::Store>> {
    let store = herald_store::connect(&config.database_url).await?;
    store.migrate().await?;
    Ok(store)
}

fn clock() -> Arc<dyn herald_core::clock::Clock> {
    Arc::new(herald_core::clock::SystemClock)
}
