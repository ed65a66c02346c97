use herald_server::config::LogFormat;
use herald_server::{App, Config};
use serde_json::json;

pub async fn run(config: Config) -> anyhow::Result<()> {
    init_logging(config.log_format);
    let app = App::build(config).await?;
    if let Some(key) = app.bootstrap_key() {
        eprintln!("Created tenant `{}`. Its admin API key, shown only this once:", key.tenant);
        println!("{}", json!({"tenant": key.tenant, "apiKey": key.secret}));
    }
    tracing::info!(address = %app.local_addr(), "herald is listening");
    let shutdown = app.shutdown_token();
    tokio::spawn(async move {
        stop_signal().await;
        tracing::info!("stopping: finishing requests in flight");
        shutdown.cancel();
    });
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM can be handled");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
