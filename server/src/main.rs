//! `switchyard-server`: loads settings, starts logging, runs the server until SIGTERM.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use switchyard_server::{Application, Settings};

/// Switchyard's flag server. Settings: defaults < --config file < SWITCHYARD_* environment.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// A TOML settings file.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Seed a few example flags into an empty store.
    #[arg(long)]
    demo: bool,
    /// Check that the server on the configured address is live (exit 0) and exit: the
    /// container health check.
    #[arg(long)]
    check_live: bool,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut settings = match Settings::load(args.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("switchyard-server: {e}");
            std::process::exit(2);
        }
    };
    if args.check_live {
        let live = switchyard_server::probe::check_live(&settings.server.listen);
        std::process::exit(if live { 0 } else { 1 });
    }
    settings.demo |= args.demo;
    switchyard_server::logging::init(&settings.log).map_err(anyhow::Error::msg)?;
    tokio::spawn(switchyard_server::logging::report_malformed());
    // Every SDK stream holds a socket: take as many open files as the system allows.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "switchyard-server listening");
    app.run_until_stopped().await.context("serving")
}
