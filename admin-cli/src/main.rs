//! `switchyard`: parses the command line, runs it, and turns a failure into one line on
//! stderr and its exit code.

use std::process::ExitCode;

use clap::Parser;
use switchyard_cli::cli::Cli;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match switchyard_cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
