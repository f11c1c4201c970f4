//! Ten thousand SDK streams on one instance: what each costs the server in memory, and how
//! long a kill switch takes to reach the last of them after its write is acknowledged.
//!
//! The server runs as its own process (release build, embedded store, the default workers:
//! one per core), so its memory is its own: RSS with no stream, then with 1,000, then with
//! 10,000, each stream an HTTP connection from this process (reqwest, as the SDK uses) that
//! names itself like an SDK (`X-Switchyard-Client`) and reads `GET /v1/stream`. For each
//! count the flag's kill switch is flipped 20 times; each stream notes when the event with
//! the write's version arrives. Beside it, in the same run: the write's own round trip.
//!
//! Run: `cargo run --release -p switchyard-benches --bin streams` (updates BENCHMARKS.md);
//! `-- --smoke` uses 50 and 200 streams and a few flips, and writes nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::json;
use switchyard_benches::{ADMIN, SDK, flip_kill, latency_table, measured_here, report, status_kib};
use switchyard_testkit::process::ServerProcess;

/// How long one flip may take to reach every stream before the run fails.
const GIVE_UP: Duration = Duration::from_secs(20);

/// The server binary of this build's profile, built first.
fn server_binary() -> anyhow::Result<PathBuf> {
    let release = !cfg!(debug_assertions);
    let mut build = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
    build.args([
        "build",
        "-q",
        "-p",
        "switchyard-server",
        "--bin",
        "switchyard-server",
    ]);
    if release {
        build.arg("--release");
    }
    if !build.status()?.success() {
        bail!("building switchyard-server failed");
    }
    let dir = std::env::current_exe()?
        .parent()
        .context("the bench's directory")?
        .to_owned();
    Ok(dir.join("switchyard-server"))
}

/// One stream's progress: the last version it was told of, and when (ns since `epoch`).
struct Seen {
    version: AtomicU64,
    at_ns: AtomicU64,
}

/// Opens a stream as SDK `id` and records every `snapshot` event in `seen`.
async fn follow(http: reqwest::Client, base: String, id: usize, seen: Arc<Seen>, epoch: Instant) {
    let answer = http
        .get(format!("{base}/v1/stream"))
        .bearer_auth(SDK)
        .header(
            "X-Switchyard-Client",
            format!("sdk-{id}; app=streams-bench"),
        )
        .send()
        .await;
    let Ok(answer) = answer else { return };
    let mut body = answer.bytes_stream();
    let mut pending = String::new();
    while let Some(Ok(chunk)) = body.next().await {
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            let version = event
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .and_then(|v| v.trim().parse::<u64>().ok());
            if let Some(version) = version {
                let now = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
                seen.at_ns.store(now, Ordering::Release);
                seen.version.store(version, Ordering::Release);
            }
        }
    }
}

/// Flips the kill switch `flips` times; per flip: the write's round trip, and from its
/// acknowledgement to the first, the median and the last stream told of it.
async fn flips(
    http: &reqwest::Client,
    base: &str,
    seen: &[Arc<Seen>],
    epoch: Instant,
    flips: usize,
) -> anyhow::Result<[Vec<Duration>; 4]> {
    let mut rows: [Vec<Duration>; 4] = Default::default();
    for i in 0..flips {
        let (sent, acknowledged, version) = flip_kill(http, base, i % 2 == 0).await?;
        while seen
            .iter()
            .any(|s| s.version.load(Ordering::Acquire) < version)
        {
            if acknowledged.elapsed() > GIVE_UP {
                bail!("flip {i}: not every stream was told of v{version}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let ack_ns = acknowledged.duration_since(epoch).as_nanos() as u64;
        let mut after: Vec<Duration> = seen
            .iter()
            .map(|s| Duration::from_nanos(s.at_ns.load(Ordering::Acquire).saturating_sub(ack_ns)))
            .collect();
        after.sort();
        rows[0].push(acknowledged - sent);
        rows[1].push(after[0]);
        rows[2].push(after[after.len() / 2]);
        rows[3].push(after[after.len() - 1]);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for row in &mut rows {
        row.sort();
    }
    Ok(rows)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let (counts, flip_n) = if smoke {
        ([50, 200], 3)
    } else {
        ([1_000, 10_000], 20)
    };
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    if limit < counts[1] as u64 + 1_000 {
        bail!(
            "the open-file limit is {limit}: raise it (ulimit -n) above {}",
            counts[1]
        );
    }
    let data = tempfile::tempdir()?;
    let log = data.path().join("server.log");
    let server = ServerProcess::start(
        &server_binary()?,
        &[
            (
                "SWITCHYARD_STORE__DATA_DIR",
                data.path().display().to_string(),
            ),
            ("SWITCHYARD_ADMIN_TOKEN", ADMIN.into()),
            ("SWITCHYARD_SDK_TOKEN", SDK.into()),
            ("SWITCHYARD_SERVER__WRITES_PER_MINUTE", "100000".into()),
            ("SWITCHYARD_LIMITS__STREAMS_PER_TOKEN", "100000".into()),
            ("SWITCHYARD_LOG__LEVEL", "warn".into()),
        ],
        &log,
    );
    let base = server.base();
    let http = reqwest::Client::new();
    http.put(format!("{base}/v1/flags/checkout"))
        .bearer_auth(ADMIN)
        .json(&json!({"enabled": true, "rollout_percentage": 100}))
        .send()
        .await?
        .error_for_status()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_kib = status_kib(server.pid(), "VmRSS:");

    let epoch = Instant::now();
    let mut seen: Vec<Arc<Seen>> = Vec::new();
    let mut sections = Vec::new();
    for count in counts {
        while seen.len() < count {
            let entry = Arc::new(Seen {
                version: AtomicU64::new(0),
                at_ns: AtomicU64::new(0),
            });
            // One connection per stream, as separate SDKs have.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()?;
            tokio::spawn(follow(
                client,
                base.clone(),
                seen.len(),
                entry.clone(),
                epoch,
            ));
            seen.push(entry);
            if seen.len().is_multiple_of(500) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let opened = Instant::now();
        while seen.iter().any(|s| s.version.load(Ordering::Acquire) == 0) {
            if opened.elapsed() > Duration::from_secs(60) {
                let open = seen
                    .iter()
                    .filter(|s| s.version.load(Ordering::Acquire) > 0);
                bail!("only {} of {count} streams opened", open.count());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss_kib = status_kib(server.pid(), "VmRSS:");
        let per_stream = (rss_kib.saturating_sub(idle_kib)) as f64 * 1024.0 / count as f64;
        let rows = flips(&http, &base, &seen, epoch, flip_n).await?;
        sections.push(format!(
            "**{count} streams**: server RSS {:.1} MB ({:.1} MB with none), **{:.1} kB per \
             stream**.\n\n{}",
            rss_kib as f64 / 1024.0,
            idle_kib as f64 / 1024.0,
            per_stream / 1000.0,
            latency_table(&[
                (
                    "**baseline**: the kill switch write's own round trip",
                    &rows[0]
                ),
                ("write acknowledged → the first stream told", &rows[1]),
                ("write acknowledged → half the streams told", &rows[2]),
                ("write acknowledged → **the last stream told**", &rows[3]),
            ])
        ));
    }
    let table = format!(
        "{}: the server alone in its process (release, embedded store, one worker per core, \
         open-file limit raised at start), the streams in this one over loopback, sharing the \
         same 2 cores. {} flips of a flag's kill switch per row.\n\n{}",
        measured_here(),
        flip_n,
        sections.join("\n")
    );
    report("streams", &table, smoke)?;
    drop(server);
    Ok(())
}
