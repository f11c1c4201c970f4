//! Ten thousand SDK streams on one instance: what each costs the server in memory, and how
//! long a kill switch takes to reach the last of them after its write is acknowledged.
//!
//! The server runs as its own process (release build, embedded store, the default workers:
//! one per core), so its memory is its own: RSS with no stream, then with 1,000, then with
//! 10,000, each stream an HTTP connection from this process (reqwest, as the SDK uses) that
//! names itself like an SDK (`X-Switchyard-Client`) and reads `GET /v1/stream`. For each
//! count the flag's kill switch is flipped 20 times; each stream notes when the event with
//! the write's version arrives. Beside it, in the same run: the write's own round trip, and
//! the baseline, the bare framework's streams (`baseline_server PORT stream`) measured the
//! same way first.
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

/// The server binary of this build's profile, built first with the baseline beside it.
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
        "-p",
        "switchyard-benches",
        "--bin",
        "baseline_server",
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
    /// Set when the stream ended (the server closed it, or it failed).
    ended: std::sync::atomic::AtomicBool,
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
    let Ok(answer) = answer else {
        seen.ended.store(true, Ordering::Release);
        return;
    };
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
    seen.ended.store(true, Ordering::Release);
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
                let told = seen
                    .iter()
                    .filter(|s| s.version.load(Ordering::Acquire) >= version)
                    .count();
                let ended = seen.iter().filter(|s| s.ended.load(Ordering::Acquire));
                bail!(
                    "{base}, flip {i}: {told} of {} streams were told of v{version} ({} had \
                     ended)",
                    seen.len(),
                    ended.count()
                );
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

/// What one count of streams cost and saw.
struct Measured {
    count: usize,
    idle_kib: u64,
    rss_kib: u64,
    /// Write round trip, then acknowledged → first, half and last stream told.
    rows: [Vec<Duration>; 4],
}

impl Measured {
    fn per_stream_kb(&self) -> f64 {
        self.rss_kib.saturating_sub(self.idle_kib) as f64 * 1.024 / self.count as f64
    }
}

/// Opens `counts` streams in turn to `base` (the process `pid`), flipping `flip_n` times at
/// each count; closes them all at the end.
async fn measure(
    base: &str,
    pid: u32,
    counts: [usize; 2],
    flip_n: usize,
) -> anyhow::Result<Vec<Measured>> {
    let http = reqwest::Client::new();
    let idle_kib = status_kib(pid, "VmRSS:");
    let epoch = Instant::now();
    let mut seen: Vec<Arc<Seen>> = Vec::new();
    let mut tasks = Vec::new();
    let mut measured = Vec::new();
    for count in counts {
        while seen.len() < count {
            let entry = Arc::new(Seen {
                version: AtomicU64::new(0),
                at_ns: AtomicU64::new(0),
                ended: Default::default(),
            });
            // One connection per stream, as separate SDKs have.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()?;
            let (base, id) = (base.to_owned(), seen.len());
            tasks.push(tokio::spawn(follow(client, base, id, entry.clone(), epoch)));
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
                bail!("{base}: only {} of {count} streams opened", open.count());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss_kib = status_kib(pid, "VmRSS:");
        let rows = flips(&http, base, &seen, epoch, flip_n).await?;
        measured.push(Measured {
            count,
            idle_kib,
            rss_kib,
            rows,
        });
    }
    for task in tasks {
        task.abort();
    }
    Ok(measured)
}

/// The bare framework's streams (`baseline_server PORT stream`), killed when dropped.
struct Baseline(std::process::Child);

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
    let server_bin = server_binary()?;

    // The baseline first: the bare framework's streams, the same workers.
    let port = switchyard_testkit::free_port();
    let baseline = Baseline(
        std::process::Command::new(server_bin.with_file_name("baseline_server"))
            .args([port.to_string().as_str(), "stream"])
            .spawn()
            .context("starting baseline_server (built with this benchmark)")?,
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            bail!("baseline_server did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("baseline on port {port}");
    let bare = measure(
        &format!("http://127.0.0.1:{port}"),
        baseline.0.id(),
        counts,
        flip_n,
    )
    .await?;
    drop(baseline);

    let data = tempfile::tempdir()?;
    let log = data.path().join("server.log");
    let server = ServerProcess::start(
        &server_bin,
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
    reqwest::Client::new()
        .put(format!("{base}/v1/flags/checkout"))
        .bearer_auth(ADMIN)
        .json(&json!({"enabled": true, "rollout_percentage": 100}))
        .send()
        .await?
        .error_for_status()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("switchyard at {base}");
    let ours = measure(&base, server.pid(), counts, flip_n).await?;
    drop(server);

    let mut sections = Vec::new();
    for (bare, ours) in bare.iter().zip(&ours) {
        sections.push(format!(
            "**{} streams**: RSS per stream **{:.1} kB** (Switchyard: {:.1} MB, {:.1} MB with \
             none), beside **{:.1} kB** for the bare framework's streams ({:.1} MB, {:.1} MB \
             with none).\n\n{}",
            ours.count,
            ours.per_stream_kb(),
            ours.rss_kib as f64 / 1024.0,
            ours.idle_kib as f64 / 1024.0,
            bare.per_stream_kb(),
            bare.rss_kib as f64 / 1024.0,
            bare.idle_kib as f64 / 1024.0,
            latency_table(&[
                (
                    "**baseline**: bare framework, flip acknowledged → the last stream told",
                    &bare.rows[3]
                ),
                ("the kill switch write's own round trip", &ours.rows[0]),
                ("write acknowledged → the first stream told", &ours.rows[1]),
                ("write acknowledged → half the streams told", &ours.rows[2]),
                (
                    "write acknowledged → **the last stream told**",
                    &ours.rows[3]
                ),
            ])
        ));
    }
    let table = format!(
        "{}: each server alone in its process (release, one worker per core; Switchyard on \
         its embedded store, its open-file limit raised at start), the streams in this one \
         over loopback, all sharing the same 2 cores. The baseline is `baseline_server PORT \
         stream`: bare actix-web answering the same events from a watch channel, with no \
         tokens, fleet or heartbeats. {} flips per row.\n\n{}",
        measured_here(),
        flip_n,
        sections.join("\n")
    );
    report("streams", &table, smoke)?;
    Ok(())
}
