//! An application built on the SDK, for the impact tests and measurements: it evaluates flags
//! for thousands of simulated users, round after round, and tracks `error` after each
//! evaluation at a rate that depends on the variant the user got. It reports impact as any
//! app on the SDK does, and sends its last counts when it stops.
//!
//! `impact_app --url URL --token SDK_TOKEN --flag KEY:ON_RATE:OFF_RATE [--flag …]
//!  [--users 3000] [--seconds 6] [--round-ms 100] [--report-ms 500]`

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use switchyard_sdk::{Client, Context};

/// Evaluate flags for simulated users and track errors by variant.
#[derive(Parser)]
struct Args {
    /// The server.
    #[arg(long)]
    url: String,
    /// An sdk token.
    #[arg(long)]
    token: String,
    /// KEY:ON_RATE:OFF_RATE: the flag, and the chance of an error after each evaluation for
    /// a user who got on, and off.
    #[arg(long = "flag", required = true)]
    flags: Vec<String>,
    /// Simulated users.
    #[arg(long, default_value_t = 3000)]
    users: usize,
    /// How long to run.
    #[arg(long, default_value_t = 6)]
    seconds: u64,
    /// Pause between rounds over every user.
    #[arg(long, default_value_t = 100)]
    round_ms: u64,
    /// How often the SDK reports impact.
    #[arg(long, default_value_t = 500)]
    report_ms: u64,
}

fn parse(flag: &str) -> anyhow::Result<(String, f64, f64)> {
    let mut parts = flag.split(':');
    let key = parts.next().context("KEY")?.to_owned();
    let on: f64 = parts.next().context("ON_RATE")?.parse()?;
    let off: f64 = parts.next().context("OFF_RATE")?.parse()?;
    Ok((key, on, off))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let flags: Vec<(String, f64, f64)> = args
        .flags
        .iter()
        .map(|f| parse(f))
        .collect::<anyhow::Result<_>>()?;
    let client = Client::builder(&args.url, &args.token)
        .app("impact-app")
        .impact_interval(Duration::from_millis(args.report_ms))
        .build()?;
    client.wait_until_ready(Duration::from_secs(20)).await?;
    let users: Vec<String> = (0..args.users).map(|i| format!("user-{i}")).collect();
    let mut rng = fastrand::Rng::new();
    let until = Instant::now() + Duration::from_secs(args.seconds);
    while Instant::now() < until {
        for user in &users {
            let ctx = Context::new().user(user);
            for (flag, on_rate, off_rate) in &flags {
                let on = client.is_enabled(flag, &ctx);
                if rng.f64() < if on { *on_rate } else { *off_rate } {
                    client.track(flag, "error", &ctx);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(args.round_ms)).await;
    }
    client.shutdown().await;
    Ok(())
}
