//! The load benchmark: the release server (one worker, pinned to core 0) under `wrk` (pinned
//! to core 1) over loopback, each scenario beside the bare framework answering a body of the
//! same size, measured in the same run with the same pinning, worker and connections. Both
//! stores; then memory and start time with 1,000 / 10,000 / 100,000 flags. Writes its tables
//! into BENCHMARKS.md.
//!
//! Run: `benches/load.sh` (builds in release, installs wrk when missing). CI runs
//! `benches/load.sh --smoke`: debug build, one store, one-second runs, nothing written.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use switchyard_benches::{benchmarks_md, write_section};
use switchyard_testkit::{free_port, redis::RedisServer};

const ADMIN: &str = "load-admin-token-0123456789";
const SDK: &str = "load-sdk-token-0123456789";
const SERVER_CORE: &str = "0";
const LOAD_CORE: &str = "1";
/// The rollout stages flags are spread over.
const ROLLOUTS: [u32; 5] = [0, 5, 25, 50, 100];

struct Opts {
    bin_dir: PathBuf,
    smoke: bool,
    seconds: u32,
    connections: u32,
}

/// A child process, killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn rss_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

fn pinned(core: &str, program: &Path) -> Command {
    let mut command = Command::new("taskset");
    command.arg("-c").arg(core).arg(program);
    command
}

struct Server {
    proc: Proc,
    base: String,
    http: reqwest::Client,
}

async fn wait_ready(http: &reqwest::Client, base: &str) -> anyhow::Result<Duration> {
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
async fn start_server(
    opts: &Opts,
    data: &Path,
    redis: Option<&str>,
) -> anyhow::Result<(Server, Duration)> {
    let port = free_port();
    let mut command = pinned(SERVER_CORE, &opts.bin_dir.join("switchyard-server"));
    command
        .env_clear()
        .env("SWITCHYARD_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHYARD_SERVER__WORKERS", "1")
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
fn realistic_flags(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let markets: Vec<&str> = if i % 3 == 0 {
                vec!["FR", "US", "UK"]
            } else {
                vec![]
            };
            let whitelist: Vec<String> = if i % 5 == 0 {
                (0..50).map(|u| format!("internal-user-{u}")).collect()
            } else {
                vec![]
            };
            json!({
                "key": format!("flag-{i:05}"),
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

impl Server {
    async fn seed(&self, flags: usize) -> anyhow::Result<()> {
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
}

/// One scenario: what wrk sends.
struct Scenario {
    name: &'static str,
    flags: usize,
    method: &'static str,
    /// A Lua expression for the path (`f`: a random flag key).
    path: &'static str,
    /// A Lua expression for the body (`u`: a random user, `m`: a random market), or "nil".
    body: &'static str,
    /// Send `If-None-Match` with the snapshot's current ETag.
    conditional: bool,
    /// Run a writer at 10 writes/s alongside.
    write_storm: bool,
}

const EVAL_BODY: &str =
    r#"'{"flag":"' .. f .. '","context":{"user_id":"' .. u .. '","market":"' .. m .. '"}}'"#;
const CTX_BODY: &str = r#"'{"context":{"user_id":"' .. u .. '","market":"' .. m .. '"}}'"#;
const OFREP_BODY: &str = r#"'{"context":{"targetingKey":"' .. u .. '","market":"' .. m .. '"}}'"#;

fn scenarios() -> Vec<Scenario> {
    let s = |name, flags, method, path, body| Scenario {
        name,
        flags,
        method,
        path,
        body,
        conditional: false,
        write_storm: false,
    };
    vec![
        s(
            "POST /v1/evaluate",
            1000,
            "POST",
            r#""/v1/evaluate""#,
            EVAL_BODY,
        ),
        s(
            "OFREP single",
            1000,
            "POST",
            r#""/ofrep/v1/evaluate/flags/" .. f"#,
            OFREP_BODY,
        ),
        Scenario {
            write_storm: true,
            ..s(
                "POST /v1/evaluate + 10 writes/s",
                1000,
                "POST",
                r#""/v1/evaluate""#,
                EVAL_BODY,
            )
        },
        Scenario {
            conditional: true,
            ..s(
                "GET /v1/snapshot, If-None-Match (304)",
                1000,
                "GET",
                r#""/v1/snapshot""#,
                "nil",
            )
        },
        s(
            "OFREP bulk, 100 flags",
            100,
            "POST",
            r#""/ofrep/v1/evaluate/flags""#,
            OFREP_BODY,
        ),
        s(
            "POST /v1/evaluate/bulk, 100 flags",
            100,
            "POST",
            r#""/v1/evaluate/bulk""#,
            CTX_BODY,
        ),
    ]
}

fn lua(scenario: &Scenario, flags: usize, etag: Option<&str>, delay_ms: u64) -> String {
    let mut script = format!(
        "wrk.method = \"{}\"\nwrk.headers[\"Authorization\"] = \"Bearer {SDK}\"\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n",
        scenario.method
    );
    if let Some(tag) = etag {
        script += &format!("wrk.headers[\"If-None-Match\"] = '{tag}'\n");
    }
    script += &format!(
        r#"local markets = {{"FR", "US", "UK", "DE", "ES", "IT"}}
request = function()
  local f = string.format("flag-%05d", math.random(0, {last}))
  local u = "user-" .. math.random(1, 1000000)
  local m = markets[math.random(#markets)]
  return wrk.format(nil, {path}, nil, {body})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {{"requests":%d,"duration_us":%d,"errors":%d,"p50":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#,
        last = flags - 1,
        path = scenario.path,
        body = scenario.body,
    );
    if delay_ms > 0 {
        // Random pauses averaging delay_ms: fixed ones make every connection fire together.
        script += &format!(
            "function delay() return math.random(1, {}) end\n",
            2 * delay_ms - 1
        );
    }
    script
}

#[derive(Debug, Default, Clone, Copy)]
struct Measured {
    rps: f64,
    errors: u64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
}

fn wrk(opts: &Opts, script: &str, base: &str) -> anyhow::Result<Measured> {
    let file = std::env::temp_dir().join(format!("switchyard-load-{}.lua", std::process::id()));
    std::fs::write(&file, script)?;
    let out = pinned(LOAD_CORE, Path::new("wrk"))
        .args([
            "-t1",
            &format!("-c{}", opts.connections),
            &format!("-d{}s", opts.seconds),
            "--timeout",
            "5s",
            "-s",
        ])
        .arg(&file)
        .arg(base)
        .output()
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .with_context(|| {
            format!(
                "no result from wrk: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let v: Value = serde_json::from_str(line)?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    Ok(Measured {
        rps: n("requests") as f64 / (n("duration_us") as f64 / 1e6),
        errors: n("errors"),
        p50_us: n("p50"),
        p99_us: n("p99"),
        p999_us: n("p999"),
    })
}

/// One response of the scenario (its size and status), as the baseline must imitate it.
async fn sample(
    server: &Server,
    scenario: &Scenario,
    etag: Option<&str>,
) -> anyhow::Result<(usize, u16)> {
    let (path, body) = match scenario.path {
        p if p.contains("flags/\" .. f") => (
            "/ofrep/v1/evaluate/flags/flag-00001".to_owned(),
            json!({"context": {"targetingKey": "user-1", "market": "FR"}}),
        ),
        p => (
            p.trim_matches('"').to_owned(),
            json!({"flag": "flag-00001", "context": {"user_id": "user-1", "targetingKey": "user-1", "market": "FR"}}),
        ),
    };
    let url = format!("{}{path}", server.base);
    let request = if scenario.method == "GET" {
        server.http.get(url)
    } else {
        server.http.post(url).json(&body)
    };
    let request = match etag {
        Some(tag) => request.header("If-None-Match", tag),
        None => request,
    };
    let res = request.bearer_auth(SDK).send().await?;
    let status = res.status().as_u16();
    Ok((res.bytes().await?.len(), status))
}

async fn baseline(opts: &Opts, size: usize, status: u16, script: &str) -> anyhow::Result<Measured> {
    let port = free_port();
    let bin = opts.bin_dir.join("baseline_server");
    let _proc = Proc(
        pinned(SERVER_CORE, &bin)
            .args([port.to_string(), size.to_string(), status.to_string()])
            .spawn()?,
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("the baseline server did not start");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wrk(opts, script, &base)
}

struct Row {
    store: &'static str,
    scenario: &'static str,
    server: Measured,
    baseline: Measured,
    half: Option<Measured>,
    half_baseline: Option<Measured>,
    writes: Option<(u32, u32)>,
}

/// 10 PATCHes a second until `stop`; (acknowledged, failed).
async fn write_storm(base: String, stop: tokio::sync::watch::Receiver<bool>) -> (u32, u32) {
    let http = reqwest::Client::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let (mut ok, mut failed, mut i) = (0, 0, 0u32);
    while !*stop.borrow() {
        ticker.tick().await;
        i += 1;
        let body = json!({"rollout_percentage": ROLLOUTS[(i % 3 + 1) as usize]});
        let url = format!("{base}/v1/flags/flag-{:05}", i % 1000 + 1);
        match http.patch(url).bearer_auth(ADMIN).json(&body).send().await {
            Ok(r) if r.status().is_success() => ok += 1,
            _ => failed += 1,
        }
    }
    (ok, failed)
}

async fn run_store(
    opts: &Opts,
    store: &'static str,
    redis: Option<&str>,
) -> anyhow::Result<(Vec<Row>, u64)> {
    let data = tempfile::tempdir()?;
    let (server, _) = start_server(opts, data.path(), redis).await?;
    let mut rows = Vec::new();
    let mut seeded = 0;
    for scenario in scenarios() {
        if seeded != scenario.flags {
            server.seed(scenario.flags).await?;
            seeded = scenario.flags;
        }
        let etag = if scenario.conditional {
            let res = server
                .http
                .get(format!("{}/v1/snapshot", server.base))
                .bearer_auth(SDK)
                .send()
                .await?;
            res.headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        } else {
            None
        };
        let script = lua(&scenario, scenario.flags, etag.as_deref(), 0);
        let (size, status) = sample(&server, &scenario, etag.as_deref()).await?;
        let base = baseline(opts, size, status, &script).await?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let storm = scenario
            .write_storm
            .then(|| tokio::spawn(write_storm(server.base.clone(), stopped)));
        let measured = wrk(opts, &script, &server.base)?;
        stop.send_replace(true);
        let writes = match storm {
            Some(task) => Some(task.await?),
            None => None,
        };
        // Half the measured maximum, for the server and then the baseline at the same pace:
        // wrk's delay() pauses each connection a random 1-9 ms (5 ms on average), with as many
        // connections as that rate needs.
        let (half, half_baseline) = if opts.smoke {
            (None, None)
        } else {
            let target = measured.rps / 2.0;
            let per_request_s = 0.005 + measured.p50_us as f64 / 1e6;
            let connections = ((target * per_request_s).ceil() as u32).max(1);
            let paced = Opts {
                bin_dir: opts.bin_dir.clone(),
                connections,
                ..*opts
            };
            let script = lua(&scenario, scenario.flags, etag.as_deref(), 5);
            let server_half = wrk(&paced, &script, &server.base)?;
            (
                Some(server_half),
                Some(baseline(&paced, size, status, &script).await?),
            )
        };
        println!(
            "{store:9} {:42} {:>9.0} req/s (baseline {:>9.0}) errors {}",
            scenario.name, measured.rps, base.rps, measured.errors
        );
        rows.push(Row {
            store,
            scenario: scenario.name,
            server: measured,
            baseline: base,
            half,
            half_baseline,
            writes,
        });
    }
    let peak_kib = server.proc.rss_kib("VmHWM:");
    Ok((rows, peak_kib))
}

struct Memory {
    flags: usize,
    start: Duration,
    idle_kib: u64,
    load_kib: u64,
}

async fn memory(opts: &Opts, flags: usize) -> anyhow::Result<Memory> {
    let data = tempfile::tempdir()?;
    {
        let (server, _) = start_server(opts, data.path(), None).await?;
        server.seed(flags).await?;
    }
    // A fresh start on the stored flags: the time to ready, then the footprint at rest.
    let (server, start) = start_server(opts, data.path(), None).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_kib = server.proc.rss_kib("VmRSS:");
    let scenario = &scenarios()[0];
    let short = Opts {
        seconds: 5,
        ..Opts {
            bin_dir: opts.bin_dir.clone(),
            smoke: opts.smoke,
            seconds: 5,
            connections: opts.connections,
        }
    };
    wrk(
        &short,
        &lua(scenario, flags.min(1000), None, 0),
        &server.base,
    )?;
    let load_kib = server.proc.rss_kib("VmHWM:");
    Ok(Memory {
        flags,
        start,
        idle_kib,
        load_kib,
    })
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn machine() -> String {
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut opts = Opts {
        bin_dir: PathBuf::from("target/release"),
        smoke: false,
        seconds: 10,
        connections: 32,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => {
                opts.smoke = true;
                opts.seconds = 1;
                opts.connections = 8;
            }
            "--bin-dir" => {
                opts.bin_dir = PathBuf::from(args.next().context("--bin-dir needs a path")?)
            }
            other => bail!("unknown argument {other}; usage: load [--smoke] [--bin-dir DIR]"),
        }
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
        .map(|r| r.server.errors + r.half.map_or(0, |h| h.errors))
        .sum();
    let write_failures: u32 = rows.iter().filter_map(|r| r.writes).map(|(_, f)| f).sum();
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

    let mut table = String::from(
        "| store | scenario | req/s | p50 ms | p99 ms | p99.9 ms | errors | baseline req/s | ratio | half rate: req/s, p99 ms | baseline at that pace: p99 ms |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &rows {
        let half = r
            .half
            .map_or("-".into(), |h| format!("{:.0}, {}", h.rps, ms(h.p99_us)));
        let half_base = r.half_baseline.map_or("-".into(), |h| ms(h.p99_us));
        let writes = r.writes.map_or(String::new(), |(ok, failed)| {
            format!(" ({ok} writes ok, {failed} failed)")
        });
        table += &format!(
            "| {} | {}{writes} | {:.0} | {} | {} | {} | {} | {:.0} | {:.2} | {half} | {half_base} |\n",
            r.store,
            r.scenario,
            r.server.rps,
            ms(r.server.p50_us),
            ms(r.server.p99_us),
            ms(r.server.p999_us),
            r.server.errors,
            r.baseline.rps,
            r.server.rps / r.baseline.rps
        );
    }
    let mut mem = String::from(
        "| flags | time to ready | RSS idle | RSS peak under load |\n|---:|---:|---:|---:|\n",
    );
    let mut rss_10k = 0;
    for flags in [1000, 10_000, 100_000] {
        let m = memory(&opts, flags).await?;
        if flags == 10_000 {
            rss_10k = m.load_kib;
        }
        println!(
            "{flags} flags: ready in {:?}, RSS idle {} KiB, peak {} KiB",
            m.start, m.idle_kib, m.load_kib
        );
        mem += &format!(
            "| {} | {:.2} s | {:.1} MB | {:.1} MB |\n",
            m.flags,
            m.start.as_secs_f64(),
            m.idle_kib as f64 / 1024.0,
            m.load_kib as f64 / 1024.0
        );
    }
    let eval = rows
        .iter()
        .find(|r| r.store == "embedded" && r.scenario == "POST /v1/evaluate")
        .context("evaluate row")?;
    let eval_half = eval.half.map_or(0, |h| h.p99_us);
    let eval_half_base = eval.half_baseline.map_or(0, |h| h.p99_us);
    let goals = format!(
        "Goals: `/v1/evaluate` ≥ 80 % of the baseline's req/s — {:.0} %; p99 under 1 ms at half the maximum rate — {} ms for \
         `/v1/evaluate`, beside {} ms for the bare baseline at the same pace; \
         RSS under 50 MB with 10,000 flags — {:.1} MB; no errors — {errors} errors, {write_failures} failed writes.",
        100.0 * eval.server.rps / eval.baseline.rps,
        ms(eval_half),
        ms(eval_half_base),
        rss_10k as f64 / 1024.0
    );
    let peaks: Vec<String> = peaks
        .iter()
        .map(|(s, k)| format!("{s} {:.1} MB", *k as f64 / 1024.0))
        .collect();
    let body = format!(
        "Measured {date} on {machine} by `benches/load.sh`: server (1 worker) pinned to core {SERVER_CORE}, \
         `wrk -t1 -c{c} -d{d}s` pinned to core {LOAD_CORE}, over loopback; each baseline is the bare actix-web \
         handler (`baseline_server`, 1 worker, same pinning) answering a body of the scenario's size, measured \
         right before it; every run follows a discarded 2 s warm-up. Random users (1 of 1,000,000), markets and flags on every request.\n\n{table}\n\
         Peak RSS over the scenarios (1,000 flags): {peaks}.\n\nMemory and start (embedded store, a fresh start on the stored flags):\n\n{mem}\n{goals}",
        date = chrono::Utc::now().format("%Y-%m-%d"),
        machine = machine(),
        c = opts.connections,
        d = opts.seconds,
        peaks = peaks.join(", "),
    );
    println!("\n{body}");
    write_section(&benchmarks_md(), "load", &body)?;
    println!("\nwritten to {}", benchmarks_md().display());
    Ok(())
}
