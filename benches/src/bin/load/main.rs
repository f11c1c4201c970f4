//! The load benchmark: the release server (one worker, pinned to core 0) driven over loopback
//! by a load generator pinned to core 1, each scenario beside the bare framework answering a
//! body of the same size, measured in the same run with the same pinning, worker and
//! connections. The maximum rate comes from `wrk` (closed loop, as fast as answers come);
//! the latency at half that rate from `oha -q` (open loop: requests are sent on a schedule,
//! whether or not earlier ones have been answered). Both stores; then memory and start time
//! with 1,000 / 10,000 / 100,000 flags. Writes its tables into BENCHMARKS.md.
//!
//! Run: `benches/load.sh` (builds in release, installs wrk and oha when missing). CI runs
//! `benches/load.sh --smoke`: debug build, one store, one-second runs, nothing written.
//!
//! # Layout
//! - `procs`: the server process, seeding, memory and start figures.
//! - `scenarios`: what is sent.
//! - `drive`: wrk and oha runs, baseline and server in turns, medians; one worker beside two.
//! - `report`: the tables and goals written into BENCHMARKS.md.

mod drive;
mod procs;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use switchyard_testkit::{free_port, redis::RedisServer};

pub(crate) use drive::*;
pub(crate) use procs::*;
pub(crate) use scenarios::*;

pub(crate) const ADMIN: &str = "load-admin-token-0123456789";
pub(crate) const SDK: &str = "load-sdk-token-0123456789";
/// The rollout stages flags are spread over.
pub(crate) const ROLLOUTS: [u32; 5] = [0, 5, 25, 50, 100];
/// Markets requests are sent from; the realistic flags allow the first three.
pub(crate) const MARKETS: [&str; 6] = ["FR", "US", "UK", "DE", "ES", "IT"];
/// How long every measured run is preceded by a discarded one.
pub(crate) const WARM_UP: Duration = Duration::from_secs(2);

/// The load benchmark: the server over HTTP beside a bare actix-web handler.
#[derive(Clone, clap::Parser)]
pub(crate) struct Opts {
    /// Where the switchyard-server and baseline_server binaries are.
    #[arg(long, default_value = "target/release")]
    pub(crate) bin_dir: PathBuf,
    /// A few seconds on small inputs, nothing written (CI).
    #[arg(long)]
    pub(crate) smoke: bool,
    /// Seconds per measured run.
    #[arg(long, default_value_t = 5)]
    pub(crate) seconds: u32,
    /// Connections the load generators hold open.
    #[arg(long, default_value_t = 32)]
    pub(crate) connections: u32,
    /// Distinct requests written per scenario (random flag, user and market each).
    #[arg(long, default_value_t = 100_000)]
    pub(crate) requests: usize,
    /// Runs of each kind per scenario, taking turns with the baseline (medians reported).
    #[arg(long, default_value_t = 5)]
    pub(crate) rounds: usize,
    /// The cores the server and the baseline run on (`taskset -c`).
    #[arg(long, default_value = "0")]
    pub(crate) server_cores: String,
    /// The server's (and the baseline's) worker threads.
    #[arg(long, default_value_t = 1)]
    pub(crate) workers: u32,
    /// The cores the load generator runs on (`taskset -c`).
    #[arg(long, default_value = "1")]
    pub(crate) load_cores: String,
    /// The load generator's threads.
    #[arg(long, default_value_t = 1)]
    pub(crate) load_threads: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut opts = <Opts as clap::Parser>::parse();
    if opts.smoke {
        opts.seconds = 1;
        opts.connections = 8;
        opts.requests = 1000;
        opts.rounds = 1;
    }
    let (mut rows, embedded_peak) = run_store(&opts, "embedded", None).await?;
    let mut peaks = vec![("embedded", embedded_peak)];
    let mut _redis = None;
    if !opts.smoke {
        let redis = RedisServer::start();
        let (redis_rows, redis_peak) = run_store(&opts, "redis", Some(&redis.url())).await?;
        rows.extend(redis_rows);
        peaks.push(("redis", redis_peak));
        _redis = Some(redis);
    }
    let errors: u64 = rows
        .iter()
        .flat_map(|r| [r.max, r.half].into_iter().chain(r.corrected))
        .map(|p| p.server.errors + p.baseline.errors)
        .sum();
    let write_failures: u32 = rows.iter().filter_map(|r| r.writes).map(|(_, f)| f).sum();
    let scaling = scaling(&opts).await?;
    if opts.smoke {
        println!(
            "load smoke: {} scenarios, {errors} errors, {write_failures} failed writes",
            rows.len()
        );
        if errors > 0 || write_failures > 0 {
            bail!("the smoke run saw errors");
        }
        return Ok(());
    }

    report::write(&opts, &rows, &peaks, &scaling, errors, write_failures).await
}
