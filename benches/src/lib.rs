//! Switchyard's benchmarks: criterion micro-benchmarks in `benches/`, measurement binaries in
//! `src/bin/`. Each figure is measured beside a baseline in the same run, and the binaries
//! write their tables into BENCHMARKS.md themselves (no hand-edited numbers).
//!
//! # Layout
//! - `benches/evaluate.rs`: `evaluate` beside murmur3 alone.
//! - `src/bin/propagation.rs`: write on instance A → decision served by instance B, beside
//!   Redis pub/sub alone.
//! - `src/bin/audit.rs`: a flag's audit entries through the index, beside the unfiltered
//!   newest page, at two log sizes.
//! - `src/bin/fleet.rs`: kill switch acknowledged → `/v1/fleet/wait` verified on 3 instances
//!   and 1,000 SDKs, beside the write's round trip and when the SDKs had in fact loaded it.
//! - `src/bin/plans.rs`: a stage's hold ending, and a guard's trip, to every instance serving
//!   it, beside one tick (and one scrape interval).
//! - `src/bin/impact.rs`: impact sums first showing harm → every instance serving the kill,
//!   beside one tick. `src/bin/impact_app.rs`: an app on the SDK that tracks errors by variant
//!   (the impact tests run it as a process).
//! - `src/bin/chaos.rs`: the fault suite (`scripts/chaos`): real Redis and server SIGKILLs
//!   under a mixed load, with the time each kill switch takes to converge.

use std::path::{Path, PathBuf};
use std::time::Duration;

use switchyard_server::{Application, Settings};

/// The admin token of the instances [`start_instance`] starts.
pub const ADMIN: &str = "bench-admin-token-0123456789";
/// Their sdk token.
pub const SDK: &str = "bench-sdk-token-0123456789";

/// Starts a server in this process (one worker, no write limit, the bench tokens), after
/// `tweak` has set the rest (the store, the instance id…); returns its base URL.
pub async fn start_instance(tweak: impl FnOnce(&mut Settings)) -> anyhow::Result<String> {
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.workers = 1;
    settings.server.writes_per_minute = 1_000_000;
    settings.admin_token = Some(ADMIN.into());
    settings.sdk_token = Some(SDK.into());
    tweak(&mut settings);
    let app = Application::build(settings).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Ok(base)
}

/// `n` instances on the Redis at `url`, keys under `prefix`, each after `tweak`; their URLs.
pub async fn instances_on_redis(
    url: &str,
    prefix: &str,
    n: usize,
    tweak: impl Fn(&mut Settings),
) -> anyhow::Result<Vec<String>> {
    let mut bases = Vec::with_capacity(n);
    for _ in 0..n {
        bases.push(
            start_instance(|s| {
                s.store.redis_url = Some(url.to_owned());
                s.store.redis_prefix = prefix.to_owned();
                tweak(s);
            })
            .await?,
        );
    }
    Ok(bases)
}

/// `Measured <date> on this machine (`nproc` = N)`: how every table starts.
pub fn measured_here() -> String {
    format!(
        "Measured {} on this machine (`nproc` = {})",
        chrono::Utc::now().format("%Y-%m-%d"),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )
}

/// Prints `table`, and writes it into BENCHMARKS.md's `section` unless this is a smoke run.
pub fn report(section: &str, table: &str, smoke: bool) -> std::io::Result<()> {
    println!("{table}");
    if !smoke {
        write_section(&benchmarks_md(), section, table)?;
        println!("\nwritten to {}", benchmarks_md().display());
    }
    Ok(())
}

/// The workspace's BENCHMARKS.md.
pub fn benchmarks_md() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md")
}

/// Replaces the text between `<!-- BEGIN name -->` and `<!-- END name -->` in `file` with
/// `body` (appending the section when it is not there yet).
pub fn write_section(file: &Path, name: &str, body: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let (begin, end) = (
        format!("<!-- BEGIN {name} -->"),
        format!("<!-- END {name} -->"),
    );
    let block = format!("{begin}\n{}\n{end}", body.trim_end());
    let updated = match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) if e > b => format!("{}{block}{}", &text[..b], &text[e + end.len()..]),
        _ => format!("{}\n{block}\n", text.trim_end()),
    };
    std::fs::write(file, updated)
}

/// Percentile `p` (0–100) of sorted `samples`, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A markdown table of latency samples (sorted), one row per `(name, samples)`:
/// samples, p50, p90, p99, max.
pub fn latency_table(rows: &[(&str, &[Duration])]) -> String {
    let mut table = String::from(
        "| what | samples | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for (name, s) in rows {
        table += &format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            s.len(),
            ms(percentile(s, 50.0)),
            ms(percentile(s, 90.0)),
            ms(percentile(s, 99.0)),
            ms(percentile(s, 100.0))
        );
    }
    table
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// One flip of flag `checkout`'s kill switch through `base`: when it was sent, when it was
/// acknowledged, and the snapshot version the write says it made
/// (`X-Switchyard-Snapshot-Version`).
pub async fn flip_kill(
    http: &reqwest::Client,
    base: &str,
    active: bool,
) -> anyhow::Result<(std::time::Instant, std::time::Instant, u64)> {
    use anyhow::Context as _;
    let sent = std::time::Instant::now();
    let answer = http
        .post(format!("{base}/v1/flags/checkout/kill"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"active": active, "reason": "benchmark"}))
        .send()
        .await?
        .error_for_status()?;
    let acknowledged = std::time::Instant::now();
    let version = answer
        .headers()
        .get("x-switchyard-snapshot-version")
        .context("the write named no snapshot version")?
        .to_str()?
        .parse()?;
    Ok((sent, acknowledged, version))
}

/// A `/proc/PID/status` figure in KiB (`field` as it is written there, e.g. `"VmRSS:"`); 0
/// when the process or the field is gone.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time process `pid` has used so far, user and system (from `/proc/PID/stat`, in the
/// kernel's clock ticks of 10 ms); zero once it is gone.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime: fields 14 and 15 of the line, so 11 and 12 counting from 0 after it.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_counts_this_process_working() {
        // Spins until the process has been charged 50 ms more (however busy the machine,
        // which may give this thread a small share of a core), within a generous deadline:
        // a cpu_time that does not count work never gets there.
        let before = cpu_time(std::process::id());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut x = 0u64;
        while cpu_time(std::process::id()) < before + Duration::from_millis(50) {
            assert!(
                std::time::Instant::now() < deadline,
                "20 s of spinning were not counted as 50 ms of CPU"
            );
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        assert_eq!(cpu_time(u32::MAX), Duration::ZERO);
    }

    #[test]
    fn sections_are_replaced_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("B.md");
        std::fs::write(&file, "# T\n\nintro\n").unwrap();
        write_section(&file, "x", "one").unwrap();
        write_section(&file, "x", "two").unwrap();
        write_section(&file, "y", "three").unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            "# T\n\nintro\n<!-- BEGIN x -->\ntwo\n<!-- END x -->\n<!-- BEGIN y -->\nthree\n<!-- END y -->\n"
        );
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&samples, 100.0), Duration::from_millis(100));
    }
}
