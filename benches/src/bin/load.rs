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

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use switchyard_benches::{benchmarks_md, ms, write_section};
use switchyard_testkit::{free_port, redis::RedisServer};

const ADMIN: &str = "load-admin-token-0123456789";
const SDK: &str = "load-sdk-token-0123456789";
const SERVER_CORE: &str = "0";
const LOAD_CORE: &str = "1";
/// The rollout stages flags are spread over.
const ROLLOUTS: [u32; 5] = [0, 5, 25, 50, 100];
/// Markets requests are sent from; the realistic flags allow the first three.
const MARKETS: [&str; 6] = ["FR", "US", "UK", "DE", "ES", "IT"];
/// How long every measured run is preceded by a discarded one.
const WARM_UP: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct Opts {
    bin_dir: PathBuf,
    smoke: bool,
    seconds: u32,
    connections: u32,
    /// Distinct requests written per scenario (random flag, user and market each).
    requests: usize,
    /// Runs of each kind per scenario, taking turns with the baseline (medians reported).
    rounds: usize,
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

fn flag_key(i: usize) -> String {
    format!("flag-{i:05}")
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

    /// RSS after a second at rest.
    async fn idle_rss_kib(&self) -> u64 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.proc.rss_kib("VmRSS:")
    }

    /// The snapshot's current ETag.
    async fn snapshot_etag(&self) -> anyhow::Result<String> {
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
#[derive(Clone, Copy)]
enum Body {
    None,
    /// `{"flag", "context": {"user_id", "market"}}`
    Evaluate,
    /// `{"context": {"user_id", "market"}}`
    Context,
    /// `{"context": {"targetingKey", "market"}}`
    Ofrep,
}

/// One scenario: what is sent, to a store seeded with `flags` flags.
struct Scenario {
    name: &'static str,
    flags: usize,
    method: &'static str,
    /// The path; `{flag}` stands for a random flag's key.
    path: &'static str,
    body: Body,
    /// Send `If-None-Match` with the snapshot's current ETag.
    conditional: bool,
    /// Run a writer at 10 writes/s alongside.
    write_storm: bool,
}

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
            "/v1/evaluate",
            Body::Evaluate,
        ),
        s(
            "OFREP single",
            1000,
            "POST",
            "/ofrep/v1/evaluate/flags/{flag}",
            Body::Ofrep,
        ),
        Scenario {
            write_storm: true,
            ..s(
                "POST /v1/evaluate + 10 writes/s",
                1000,
                "POST",
                "/v1/evaluate",
                Body::Evaluate,
            )
        },
        Scenario {
            conditional: true,
            ..s(
                "GET /v1/snapshot, If-None-Match (304)",
                1000,
                "GET",
                "/v1/snapshot",
                Body::None,
            )
        },
        s(
            "OFREP bulk, 100 flags",
            100,
            "POST",
            "/ofrep/v1/evaluate/flags",
            Body::Ofrep,
        ),
        s(
            "POST /v1/evaluate/bulk, 100 flags",
            100,
            "POST",
            "/v1/evaluate/bulk",
            Body::Context,
        ),
    ]
}

/// A scenario's requests, written once and sent by both generators to both servers: line `i`
/// of `paths` and of `bodies` make request `i`, each with a random flag, user (1 of
/// 1,000,000) and market.
struct Requests {
    dir: tempfile::TempDir,
    method: &'static str,
    paths: PathBuf,
    bodies: Option<PathBuf>,
    /// The path when every request has the same one.
    fixed_path: Option<&'static str>,
    /// The `If-None-Match` value sent, if any.
    etag: Option<String>,
    first: (String, Option<String>),
}

impl Requests {
    fn write(
        scenario: &Scenario,
        flags: usize,
        count: usize,
        etag: Option<String>,
    ) -> anyhow::Result<Requests> {
        let mut rng = fastrand::Rng::with_seed(7);
        let (mut paths, mut bodies) = (String::new(), String::new());
        let mut first = None;
        for _ in 0..count {
            let flag = flag_key(rng.usize(..flags));
            let user = format!("user-{}", rng.u32(1..=1_000_000));
            let market = MARKETS[rng.usize(..MARKETS.len())];
            let path = scenario.path.replace("{flag}", &flag);
            let body = match scenario.body {
                Body::None => None,
                Body::Evaluate => {
                    Some(json!({"flag": flag, "context": {"user_id": user, "market": market}}))
                }
                Body::Context => Some(json!({"context": {"user_id": user, "market": market}})),
                Body::Ofrep => Some(json!({"context": {"targetingKey": user, "market": market}})),
            }
            .map(|b| b.to_string());
            writeln!(paths, "{path}")?;
            if let Some(body) = &body {
                writeln!(bodies, "{body}")?;
            }
            first.get_or_insert((path, body));
        }
        let dir = tempfile::tempdir()?;
        let paths_file = dir.path().join("paths");
        std::fs::write(&paths_file, paths)?;
        let bodies_file = match scenario.body {
            Body::None => None,
            _ => {
                let file = dir.path().join("bodies");
                std::fs::write(&file, bodies)?;
                Some(file)
            }
        };
        Ok(Requests {
            dir,
            method: scenario.method,
            paths: paths_file,
            bodies: bodies_file,
            fixed_path: (!scenario.path.contains("{flag}")).then_some(scenario.path),
            etag,
            first: first.context("no requests")?,
        })
    }

    /// The wrk script: reads the requests once, then sends a random one each time.
    fn wrk_script(&self) -> anyhow::Result<PathBuf> {
        let mut script = format!(
            "wrk.method = \"{}\"\nwrk.headers[\"Authorization\"] = \"Bearer {SDK}\"\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n",
            self.method
        );
        if let Some(tag) = &self.etag {
            writeln!(script, "wrk.headers[\"If-None-Match\"] = [[{tag}]]")?;
        }
        let bodies = match &self.bodies {
            Some(file) => format!("[[{}]]", file.display()),
            None => "nil".into(),
        };
        write!(
            script,
            r#"local requests = {{}}
init = function(args)
  local bodies = {{}}
  if {bodies} then for line in io.lines({bodies}) do bodies[#bodies + 1] = line end end
  for line in io.lines([[{paths}]]) do
    requests[#requests + 1] = wrk.format(nil, line, nil, bodies[#requests + 1])
  end
end
request = function() return requests[math.random(#requests)] end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {{"requests":%d,"duration_us":%d,"errors":%d,"p50":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#,
            paths = self.paths.display(),
        )?;
        let file = self.dir.path().join("requests.lua");
        std::fs::write(&file, script)?;
        Ok(file)
    }

    /// oha's target: the one URL, or a file of URLs (one per request) for `base`.
    fn oha_target(&self, base: &str) -> anyhow::Result<Vec<String>> {
        if let Some(path) = self.fixed_path {
            return Ok(vec![format!("{base}{path}")]);
        }
        let urls: String = std::fs::read_to_string(&self.paths)?
            .lines()
            .map(|p| format!("{base}{p}\n"))
            .collect();
        let file = self.dir.path().join(format!("urls-{}", free_port()));
        std::fs::write(&file, urls)?;
        Ok(vec!["--urls-from-file".into(), file.display().to_string()])
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Measured {
    rps: f64,
    errors: u64,
    p50: Duration,
    p99: Duration,
    p999: Duration,
}

/// How a run is driven.
#[derive(Clone, Copy)]
enum Drive {
    /// wrk: as fast as answers come back.
    Max,
    /// oha: this many requests a second on a fixed schedule; `corrected` counts latency from
    /// the scheduled send (oha's `--latency-correction`) rather than from the actual one.
    Rate { rps: f64, corrected: bool },
}

/// Per field, the median of `runs` (an odd number of them).
fn median(runs: &[Measured]) -> Measured {
    fn mid<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
        values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        values[values.len() / 2]
    }
    Measured {
        rps: mid(runs.iter().map(|m| m.rps).collect()),
        errors: runs.iter().map(|m| m.errors).sum(),
        p50: mid(runs.iter().map(|m| m.p50).collect()),
        p99: mid(runs.iter().map(|m| m.p99).collect()),
        p999: mid(runs.iter().map(|m| m.p999).collect()),
    }
}

fn run(
    opts: &Opts,
    requests: &Requests,
    base: &str,
    drive: Drive,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let secs = format!("{}s", duration.as_secs());
    match drive {
        Drive::Max => {
            let out = pinned(LOAD_CORE, Path::new("wrk"))
                .args(["-t1", &format!("-c{}", opts.connections), "-d", &secs])
                .args(["--timeout", "5s", "-s"])
                .arg(requests.wrk_script()?)
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
                p50: Duration::from_micros(n("p50")),
                p99: Duration::from_micros(n("p99")),
                p999: Duration::from_micros(n("p999")),
            })
        }
        Drive::Rate { rps, corrected } => {
            let mut command = pinned(LOAD_CORE, Path::new("oha"));
            command
                .args([
                    "--no-tui",
                    "--output-format",
                    "json",
                    "--worker-threads",
                    "1",
                ])
                .args(["-z", &secs, "-w", "-t", "5s"])
                .args(["-c", &opts.connections.to_string()])
                .args(["-q", &format!("{rps:.0}"), "-m", requests.method])
                .args(["-H", &format!("Authorization: Bearer {SDK}")])
                .args(["-H", "Content-Type: application/json"]);
            if corrected {
                command.arg("--latency-correction");
            }
            if let Some(tag) = &requests.etag {
                command.args(["-H", &format!("If-None-Match: {tag}")]);
            }
            if let Some(bodies) = &requests.bodies {
                command.arg("-Z").arg(bodies);
            }
            let out = command
                .args(requests.oha_target(base)?)
                .output()
                .context("running oha")?;
            let v: Value = serde_json::from_slice(&out.stdout).with_context(|| {
                format!(
                    "no result from oha: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            })?;
            let secs = |p: &Value| Duration::from_secs_f64(p.as_f64().unwrap_or(0.0));
            let percentiles = &v["latencyPercentiles"];
            let count = |map: &Value, ok: &dyn Fn(&str) -> bool| -> u64 {
                map.as_object().map_or(0, |m| {
                    m.iter()
                        .filter(|(k, _)| ok(k))
                        .filter_map(|(_, n)| n.as_u64())
                        .sum()
                })
            };
            let failed_statuses = count(&v["statusCodeDistribution"], &|s| {
                !(s.starts_with('2') || s == "304")
            });
            Ok(Measured {
                rps: v["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0),
                errors: failed_statuses + count(&v["errorDistribution"], &|_| true),
                p50: secs(&percentiles["p50"]),
                p99: secs(&percentiles["p99"]),
                p999: secs(&percentiles["p99.9"]),
            })
        }
    }
}

/// One response of the scenario (its size and status), as the baseline must imitate it.
async fn sample(server: &Server, requests: &Requests) -> anyhow::Result<(usize, u16)> {
    let (path, body) = &requests.first;
    let url = format!("{}{path}", server.base);
    let mut request = match requests.method {
        "GET" => server.http.get(url),
        _ => server.http.post(url),
    };
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.clone());
    }
    if let Some(tag) = &requests.etag {
        request = request.header("If-None-Match", tag);
    }
    let res = request.bearer_auth(SDK).send().await?;
    let status = res.status().as_u16();
    Ok((res.bytes().await?.len(), status))
}

/// The bare framework answering `size` bytes with `status`, on the server's core.
struct Baseline {
    _proc: Proc,
    base: String,
}

async fn baseline(opts: &Opts, size: usize, status: u16) -> anyhow::Result<Baseline> {
    let port = free_port();
    let bin = opts.bin_dir.join("baseline_server");
    let proc = Proc(
        pinned(SERVER_CORE, &bin)
            .args([port.to_string(), size.to_string(), status.to_string()])
            .spawn()?,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("the baseline server did not start");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(Baseline {
        _proc: proc,
        base: format!("http://127.0.0.1:{port}"),
    })
}

/// The server's and the baseline's figures for one way of driving them.
#[derive(Clone, Copy)]
struct Pair {
    server: Measured,
    baseline: Measured,
}

struct Row {
    store: &'static str,
    scenario: &'static str,
    max: Pair,
    half: Pair,
    /// `/v1/evaluate` only: the half rate again, latency counted from the scheduled send.
    corrected: Option<Pair>,
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
        let url = format!("{base}/v1/flags/{}", flag_key(i as usize % 1000 + 1));
        match http.patch(url).bearer_auth(ADMIN).json(&body).send().await {
            Ok(r) if r.status().is_success() => ok += 1,
            _ => failed += 1,
        }
    }
    (ok, failed)
}

/// One run of the server under `drive`, with the write storm alongside when the scenario
/// has one; returns the figures and the storm's (acknowledged, failed) writes.
async fn run_server(
    opts: &Opts,
    server: &Server,
    scenario: &Scenario,
    requests: &Requests,
    drive: Drive,
    duration: Duration,
) -> anyhow::Result<(Measured, (u32, u32))> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let storm = scenario
        .write_storm
        .then(|| tokio::spawn(write_storm(server.base.clone(), stopped)));
    // The storm runs on another of the runtime's threads while this one waits for the tool.
    let measured =
        tokio::task::block_in_place(|| run(opts, requests, &server.base, drive, duration));
    stop.send_replace(true);
    let writes = match storm {
        Some(task) => task.await?,
        None => (0, 0),
    };
    Ok((measured?, writes))
}

/// The baseline and the server under `drive` in turn, `opts.rounds` times after a discarded
/// warm-up of each, as medians: taking turns spreads the shared machine's slow spells over
/// both. Also returns the storm's (acknowledged, failed) writes.
async fn alternate(
    opts: &Opts,
    server: &Server,
    bare: &Baseline,
    scenario: &Scenario,
    requests: &Requests,
    drive: Drive,
) -> anyhow::Result<(Pair, (u32, u32))> {
    let round = Duration::from_secs(opts.seconds.into());
    if !opts.smoke {
        run(opts, requests, &bare.base, drive, WARM_UP)?;
        run_server(opts, server, scenario, requests, drive, WARM_UP).await?;
    }
    let (mut servers, mut baselines, mut writes) = (Vec::new(), Vec::new(), (0, 0));
    for _ in 0..opts.rounds {
        baselines.push(run(opts, requests, &bare.base, drive, round)?);
        let (measured, (ok, failed)) =
            run_server(opts, server, scenario, requests, drive, round).await?;
        servers.push(measured);
        writes = (writes.0 + ok, writes.1 + failed);
    }
    let pair = Pair {
        server: median(&servers),
        baseline: median(&baselines),
    };
    Ok((pair, writes))
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
        let etag = match scenario.conditional {
            true => Some(server.snapshot_etag().await?),
            false => None,
        };
        let requests = Requests::write(&scenario, scenario.flags, opts.requests, etag)?;
        let (size, status) = sample(&server, &requests).await?;
        let bare = baseline(opts, size, status).await?;

        let (max, writes) =
            alternate(opts, &server, &bare, &scenario, &requests, Drive::Max).await?;
        // Half the server's measured maximum, on oha's fixed schedule, for both.
        let half_rate = |corrected| Drive::Rate {
            rps: max.server.rps / 2.0,
            corrected,
        };
        let (half, half_writes) =
            alternate(opts, &server, &bare, &scenario, &requests, half_rate(false)).await?;
        let writes = (writes.0 + half_writes.0, writes.1 + half_writes.1);
        let corrected = if scenario.name == "POST /v1/evaluate" && !opts.smoke {
            let drive = half_rate(true);
            Some(
                alternate(opts, &server, &bare, &scenario, &requests, drive)
                    .await?
                    .0,
            )
        } else {
            None
        };
        println!(
            "{store:9} {:42} {:>7.0} req/s (baseline {:>7.0}); at {:>6.0} req/s p99 {} (baseline {}); errors {}",
            scenario.name,
            max.server.rps,
            max.baseline.rps,
            half.server.rps,
            ms(half.server.p99),
            ms(half.baseline.p99),
            max.server.errors + half.server.errors,
        );
        rows.push(Row {
            store,
            scenario: scenario.name,
            max,
            half,
            corrected,
            writes: scenario.write_storm.then_some(writes),
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
    /// After `kill -9`: the store repairs itself on the next start (time to ready, RSS idle).
    after_kill: (Duration, u64),
}

impl Proc {
    /// Stops the process as an orchestrator does (SIGTERM), and waits for it.
    fn stop(mut self) -> anyhow::Result<()> {
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
async fn memory(opts: &Opts, flags: usize) -> anyhow::Result<Memory> {
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
        &server.base,
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

/// `ms` without the unit, for table cells.
fn cell(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut opts = Opts {
        bin_dir: PathBuf::from("target/release"),
        smoke: false,
        seconds: 5,
        connections: 32,
        requests: 100_000,
        rounds: 5,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => {
                opts.smoke = true;
                opts.seconds = 1;
                opts.connections = 8;
                opts.requests = 1000;
                opts.rounds = 1;
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
        .flat_map(|r| [r.max, r.half].into_iter().chain(r.corrected))
        .map(|p| p.server.errors + p.baseline.errors)
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
        "| store | scenario | max req/s | p50 | p99 | p99.9 | baseline max req/s | ratio | half rate req/s | p50 | p99 | p99.9 | baseline at that rate: p99 | errors |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &rows {
        let (max, half) = (r.max.server, r.half.server);
        let writes = r.writes.map_or(String::new(), |(ok, failed)| {
            format!(" ({ok} writes ok, {failed} failed)")
        });
        writeln!(
            table,
            "| {} | {}{writes} | {:.0} | {} | {} | {} | {:.0} | {:.2} | {:.0} | {} | {} | {} | {} | {} |",
            r.store,
            r.scenario,
            max.rps,
            cell(max.p50),
            cell(max.p99),
            cell(max.p999),
            r.max.baseline.rps,
            max.rps / r.max.baseline.rps,
            half.rps,
            cell(half.p50),
            cell(half.p99),
            cell(half.p999),
            cell(r.half.baseline.p99),
            max.errors + half.errors,
        )?;
    }
    let mut corrected = String::new();
    for r in &rows {
        if let Some(c) = r.corrected {
            writeln!(
                corrected,
                "- {} `{}` at {:.0} req/s: p50 {}, p99 {}, p99.9 {}; the bare baseline at the same rate: p50 {}, p99 {}, p99.9 {}.",
                r.store,
                r.scenario,
                c.server.rps,
                ms(c.server.p50),
                ms(c.server.p99),
                ms(c.server.p999),
                ms(c.baseline.p50),
                ms(c.baseline.p99),
                ms(c.baseline.p999),
            )?;
        }
    }
    let mut mem = String::from(
        "| flags | time to ready | RSS idle | RSS peak under load | after `kill -9`: time to ready, RSS idle |\n\
         |---:|---:|---:|---:|---:|\n",
    );
    let mut rss_10k = 0;
    let mb = |kib: u64| kib as f64 / 1024.0;
    for flags in [1000, 10_000, 100_000] {
        let m = memory(&opts, flags).await?;
        if flags == 10_000 {
            rss_10k = m.load_kib;
        }
        println!(
            "{flags} flags: ready in {:?}, RSS idle {} KiB, peak {} KiB; after kill -9 ready in {:?}, RSS {} KiB",
            m.start, m.idle_kib, m.load_kib, m.after_kill.0, m.after_kill.1
        );
        writeln!(
            mem,
            "| {} | {:.2} s | {:.1} MB | {:.1} MB | {:.2} s, {:.1} MB |",
            m.flags,
            m.start.as_secs_f64(),
            mb(m.idle_kib),
            mb(m.load_kib),
            m.after_kill.0.as_secs_f64(),
            mb(m.after_kill.1),
        )?;
    }
    let evaluate: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario == "POST /v1/evaluate")
        .collect();
    let worst_ratio = evaluate
        .iter()
        .map(|r| r.max.server.rps / r.max.baseline.rps)
        .fold(f64::INFINITY, f64::min);
    let worst_p99 = evaluate
        .iter()
        .map(|r| r.half.server.p99)
        .max()
        .context("no /v1/evaluate row")?;
    let rss_mb = rss_10k as f64 / 1024.0;
    let goals = format!(
        "Goals, over both stores:\n\
         - `/v1/evaluate` at ≥ 80 % of the baseline's req/s: {} (lowest {:.0} %).\n\
         - p99 under 1 ms at half the maximum rate, `/v1/evaluate`: {} (highest {}).\n\
         - RSS under 50 MB with 10,000 flags: {} ({rss_mb:.1} MB).\n\
         - No error under any scenario: {} ({errors} errors, {write_failures} failed writes).",
        met(worst_ratio >= 0.8),
        100.0 * worst_ratio,
        met(worst_p99 < Duration::from_millis(1)),
        ms(worst_p99),
        met(rss_mb < 50.0),
        met(errors == 0 && write_failures == 0),
    );
    let peaks: Vec<String> = peaks
        .iter()
        .map(|(s, k)| format!("{s} {:.1} MB", *k as f64 / 1024.0))
        .collect();
    let body = format!(
        "Measured {date} on {machine} by `benches/load.sh`, over loopback: the server (1 worker) \
         pinned to core {SERVER_CORE}, the load generator to core {LOAD_CORE}. Every baseline is \
         the bare actix-web handler (`baseline_server`, 1 worker, same pinning) answering a body \
         of the scenario's size, with the same requests and connections. For each scenario and \
         each way of driving it, the baseline and the server take turns: a discarded {warm} s \
         warm-up of each, then {rounds} rounds of {d} s each; every figure is the median of its \
         {rounds} rounds. Each scenario sends {n} distinct requests at random: random flags, \
         users (1 of 1,000,000) and markets.\n\n\
         - Maximum: `wrk -t1 -c{c} -d{d}s`, closed loop. Latency in ms.\n\
         - Half rate: `oha -q <half the server's median maximum> -c{c} -z{d}s --worker-threads 1`, \
         open loop (sent on schedule whether or not earlier requests were answered); latency in \
         ms from the moment each request is sent. The baseline gets the same rate.\n\
         - Errors: connection errors, timeouts and unexpected statuses, over every server run.\n\n\
         {table}\n\
         The same half-rate `/v1/evaluate` runs with `oha --latency-correction`, counting \
         latency from each request's scheduled send, so that time queued inside oha (one core, \
         {c} connections, a 1 ms timer) counts too:\n\n{corrected}\n\
         Peak RSS over the scenarios (1,000 flags): {peaks}.\n\n\
         Memory and start (embedded store, a fresh start on the stored flags after a clean stop \
         (SIGTERM); the load is `/v1/evaluate` over all of them, 5 s. After `kill -9` the \
         embedded store repairs its file on the next start, which the last column \
         shows):\n\n{mem}\n{goals}",
        date = chrono::Utc::now().format("%Y-%m-%d"),
        machine = machine(),
        warm = WARM_UP.as_secs(),
        rounds = opts.rounds,
        n = opts.requests,
        c = opts.connections,
        d = opts.seconds,
        peaks = peaks.join(", "),
    );
    println!("\n{body}");
    write_section(&benchmarks_md(), "load", &body)?;
    println!("\nwritten to {}", benchmarks_md().display());
    Ok(())
}
