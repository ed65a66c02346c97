//! The `herald` binary. Thin: parses the command line and hands over to the library crates.

mod cli;
mod commands;

use clap::Parser;

/// mimalloc instead of the system allocator: Herald allocates many short-lived JSON values per
/// event, and glibc's malloc spent about a fifth of the ingest benchmark's CPU on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
