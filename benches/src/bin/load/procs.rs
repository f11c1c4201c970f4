//! The processes the load benchmark runs: the server (pinned to its core) and its seeding,
//! the memory and start figures, and what machine this is.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::*;

/// A child process, killed when dropped.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    pub(crate) fn rss_kib(&self, field: &str) -> u64 {
        switchyard_benches::status_kib(self.0.id(), field)
    }
}

pub(crate) fn pinned(core: &str, program: &Path) -> Command {
    let mut command = Command::new("taskset");
    command.arg("-c").arg(core).arg(program);
    command
}

pub(crate) struct Server {
    pub(crate) proc: Proc,
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
}

pub(crate) async fn wait_ready(http: &reqwest::Client, base: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        if let Ok(res) = http.get(format!("{base}/health/ready")).send().await
            && res.status().is_success()
        {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("{base} did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts the server on `data` (and Redis when given); returns it and its time to ready.
pub(crate) async fn start_server(
    opts: &Opts,
    data: &Path,
    redis: Option<&str>,
) -> anyhow::Result<(Server, Duration)> {
    let port = free_port();
    let mut command = pinned(&opts.server_cores, &opts.bin_dir.join("switchyard-server"));
    command
        .env_clear()
        .env("SWITCHYARD_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHYARD_SERVER__WORKERS", opts.workers.to_string())
        .env("SWITCHYARD_SERVER__WRITES_PER_MINUTE", "1000000")
        .env("SWITCHYARD_STORE__DATA_DIR", data)
        .env("SWITCHYARD_ADMIN_TOKEN", ADMIN)
        .env("SWITCHYARD_SDK_TOKEN", SDK)
        .env("SWITCHYARD_LOG__LEVEL", "warn")
        .stdout(Stdio::null());
    if let Some(url) = redis {
        command.env("SWITCHYARD_STORE__REDIS_URL", url);
    }
    let proc = Proc(
        command
            .spawn()
            .context("starting switchyard-server under taskset")?,
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let took = wait_ready(&http, &base).await?;
    Ok((Server { proc, base, http }, took))
}

/// Flags like production's: most enabled, rollouts at every stage, a third limited to
/// markets, a fifth with a 50-user whitelist, a few killed.
pub(crate) fn realistic_flags(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let markets: &[&str] = if i % 3 == 0 { &MARKETS[..3] } else { &[] };
            let whitelist: Vec<String> = if i % 5 == 0 {
                (0..50).map(|u| format!("internal-user-{u}")).collect()
            } else {
                vec![]
            };
            json!({
                "key": flag_key(i),
                "description": "a realistic flag for the load benchmark",
                "enabled": i % 10 != 0,
                "rollout_percentage": ROLLOUTS[i % 5],
                "markets": markets,
                "whitelist": whitelist,
                "kill_switch": i % 50 == 0,
            })
        })
        .collect()
}

pub(crate) fn flag_key(i: usize) -> String {
    format!("flag-{i:05}")
}

impl Server {
    pub(crate) async fn seed(&self, flags: usize) -> anyhow::Result<()> {
        let backup = json!({"format": 1, "flags": realistic_flags(flags)});
        let url = format!("{}/v1/import?mode=replace", self.base);
        self.http
            .post(url)
            .bearer_auth(ADMIN)
            .json(&backup)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// RSS after a second at rest.
    pub(crate) async fn idle_rss_kib(&self) -> u64 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.proc.rss_kib("VmRSS:")
    }

    /// The snapshot's current ETag.
    pub(crate) async fn snapshot_etag(&self) -> anyhow::Result<String> {
        let res = self
            .http
            .get(format!("{}/v1/snapshot", self.base))
            .bearer_auth(SDK)
            .send()
            .await?;
        res.headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .context("the snapshot has no ETag")
    }
}

/// What a scenario's requests carry in their body.
pub(crate) struct Memory {
    pub(crate) flags: usize,
    pub(crate) start: Duration,
    pub(crate) idle_kib: u64,
    pub(crate) load_kib: u64,
    /// After `kill -9`: the store repairs itself on the next start (time to ready, RSS idle).
    pub(crate) after_kill: (Duration, u64),
}

impl Proc {
    /// Stops the process as an orchestrator does (SIGTERM), and waits for it.
    pub(crate) fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status()?;
        if !sent.success() {
            bail!("kill -TERM {pid} failed");
        }
        self.0.wait()?;
        Ok(())
    }
}

/// A fresh start on the stored flags and its footprint at rest, once after a clean stop
/// (the time to ready, RSS idle, then peak RSS under 5 s of load) and once after `kill -9`.
pub(crate) async fn memory(opts: &Opts, flags: usize) -> anyhow::Result<Memory> {
    let data = tempfile::tempdir()?;
    let (server, _) = start_server(opts, data.path(), None).await?;
    server.seed(flags).await?;
    server.proc.stop()?;

    let (server, start) = start_server(opts, data.path(), None).await?;
    let idle_kib = server.idle_rss_kib().await;
    let requests = Requests::write(&scenarios()[0], flags, opts.requests, None)?;
    run(
        opts,
        &requests,
        (&server.base, server.proc.0.id()),
        Drive::Max,
        Duration::from_secs(5),
    )?;
    let load_kib = server.proc.rss_kib("VmHWM:");
    drop(server); // SIGKILL
    let (server, after_kill) = start_server(opts, data.path(), None).await?;
    Ok(Memory {
        flags,
        start,
        idle_kib,
        load_kib,
        after_kill: (after_kill, server.idle_rss_kib().await),
    })
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{} ({cores} cores)",
        model.unwrap_or_else(|| "unknown CPU".into())
    )
}
