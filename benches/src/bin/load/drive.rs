//! Driving the load: wrk for the maximum rate, oha for a fixed rate, baseline and server in
//! turns, medians of the rounds, and the write storm beside the reads.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use switchyard_benches::ms;

use super::*;

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Measured {
    pub(crate) rps: f64,
    pub(crate) errors: u64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) p999: Duration,
    /// CPU the process under test used per answered request.
    pub(crate) cpu_per_request: Duration,
    /// The load generator's share of its core while it ran (1.0: saturated).
    pub(crate) generator_busy: f64,
}

/// How a run is driven.
#[derive(Clone, Copy)]
pub(crate) enum Drive {
    /// wrk: as fast as answers come back.
    Max,
    /// oha: this many requests a second on a fixed schedule; `corrected` counts latency from
    /// the scheduled send (oha's `--latency-correction`) rather than from the actual one.
    Rate { rps: f64, corrected: bool },
}

/// Per field, the median of `runs` (an odd number of them).
pub(crate) fn median(runs: &[Measured]) -> Measured {
    pub(crate) fn mid<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
        values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        values[values.len() / 2]
    }
    Measured {
        rps: mid(runs.iter().map(|m| m.rps).collect()),
        errors: runs.iter().map(|m| m.errors).sum(),
        p50: mid(runs.iter().map(|m| m.p50).collect()),
        p99: mid(runs.iter().map(|m| m.p99).collect()),
        p999: mid(runs.iter().map(|m| m.p999).collect()),
        cpu_per_request: mid(runs.iter().map(|m| m.cpu_per_request).collect()),
        generator_busy: mid(runs.iter().map(|m| m.generator_busy).collect()),
    }
}

/// Runs the load generator `command` for `duration` against the process `pid`: its output,
/// the CPU `pid` used meanwhile, and the generator's share of its core (sampled from 0.2 s
/// after it starts to 0.2 s before it should end, leaving out its start and its report).
fn sampled(
    command: &mut std::process::Command,
    pid: u32,
    duration: Duration,
) -> anyhow::Result<(std::process::Output, Duration, f64)> {
    use std::process::Stdio;
    use switchyard_benches::cpu_time;
    let server_before = cpu_time(pid);
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the load generator")?;
    let generator = child.id();
    let margin = Duration::from_millis(200);
    let mut busy = 0.0;
    if duration > 3 * margin {
        std::thread::sleep(margin);
        let (t0, c0) = (Instant::now(), cpu_time(generator));
        std::thread::sleep(duration - 2 * margin);
        busy = (cpu_time(generator) - c0).as_secs_f64() / t0.elapsed().as_secs_f64();
    }
    let out = child.wait_with_output()?;
    Ok((out, cpu_time(pid) - server_before, busy))
}

/// One run of the load generator against `base`, served by process `pid`.
pub(crate) fn run(
    opts: &Opts,
    requests: &Requests,
    (base, pid): (&str, u32),
    drive: Drive,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let secs = format!("{}s", duration.as_secs());
    match drive {
        Drive::Max => {
            let mut wrk = pinned(&opts.load_cores, Path::new("wrk"));
            wrk.arg(format!("-t{}", opts.load_threads))
                .args([&format!("-c{}", opts.connections), "-d", &secs])
                .args(["--timeout", "5s", "-s"])
                .arg(requests.wrk_script()?)
                .arg(base);
            let (out, cpu, busy) = sampled(&mut wrk, pid, duration).context("running wrk")?;
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
                cpu_per_request: cpu / (n("requests").max(1) as u32),
                generator_busy: busy,
            })
        }
        Drive::Rate { rps, corrected } => {
            let mut command = pinned(&opts.load_cores, Path::new("oha"));
            command
                .args(["--no-tui", "--output-format", "json", "--worker-threads"])
                .arg(opts.load_threads.to_string())
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
            command.args(requests.oha_target(base)?);
            let (out, cpu, busy) = sampled(&mut command, pid, duration).context("running oha")?;
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
            let rps = v["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0);
            let answered = (rps * duration.as_secs_f64()).max(1.0);
            Ok(Measured {
                rps,
                errors: failed_statuses + count(&v["errorDistribution"], &|_| true),
                p50: secs(&percentiles["p50"]),
                p99: secs(&percentiles["p99"]),
                p999: secs(&percentiles["p99.9"]),
                cpu_per_request: cpu.div_f64(answered),
                generator_busy: busy,
            })
        }
    }
}

/// One response of the scenario (its size and status), as the baseline must imitate it.
pub(crate) async fn sample(server: &Server, requests: &Requests) -> anyhow::Result<(usize, u16)> {
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
pub(crate) struct Baseline {
    pub(crate) _proc: Proc,
    pub(crate) base: String,
}

impl Baseline {
    /// Where it answers, and its process.
    pub(crate) fn target(&self) -> (&str, u32) {
        (&self.base, self._proc.0.id())
    }
}

pub(crate) async fn baseline(opts: &Opts, size: usize, status: u16) -> anyhow::Result<Baseline> {
    let port = free_port();
    let bin = opts.bin_dir.join("baseline_server");
    let proc = Proc(
        pinned(&opts.server_cores, &bin)
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
pub(crate) struct Pair {
    pub(crate) server: Measured,
    pub(crate) baseline: Measured,
}

pub(crate) struct Row {
    pub(crate) store: &'static str,
    pub(crate) scenario: &'static str,
    pub(crate) max: Pair,
    pub(crate) half: Pair,
    /// `/v1/evaluate` only: the half rate again, latency counted from the scheduled send.
    pub(crate) corrected: Option<Pair>,
    pub(crate) writes: Option<(u32, u32)>,
}

/// 10 PATCHes a second until `stop`; (acknowledged, failed).
pub(crate) async fn write_storm(
    base: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (u32, u32) {
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
pub(crate) async fn run_server(
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
    let target = (server.base.as_str(), server.proc.0.id());
    let measured = tokio::task::block_in_place(|| run(opts, requests, target, drive, duration));
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
pub(crate) async fn alternate(
    opts: &Opts,
    server: &Server,
    bare: &Baseline,
    scenario: &Scenario,
    requests: &Requests,
    drive: Drive,
) -> anyhow::Result<(Pair, (u32, u32))> {
    let round = Duration::from_secs(opts.seconds.into());
    if !opts.smoke {
        run(opts, requests, bare.target(), drive, WARM_UP)?;
        run_server(opts, server, scenario, requests, drive, WARM_UP).await?;
    }
    let (mut servers, mut baselines, mut writes) = (Vec::new(), Vec::new(), (0, 0));
    for _ in 0..opts.rounds {
        baselines.push(run(opts, requests, bare.target(), drive, round)?);
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

pub(crate) async fn run_store(
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

/// One worker beside two, on the same two cores as the load generator (this machine has no
/// third): each server unpinned, wrk with two threads unpinned, 1,000 flags, `/v1/evaluate`,
/// taking turns. Returns (one worker, two workers).
pub(crate) async fn scaling(opts: &Opts) -> anyhow::Result<(Measured, Measured)> {
    let shared = |workers| Opts {
        server_cores: "0,1".into(),
        load_cores: "0,1".into(),
        load_threads: 2,
        workers,
        ..opts.clone()
    };
    let (one, two) = (shared(1), shared(2));
    let (dir_one, dir_two) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let (server_one, _) = start_server(&one, dir_one.path(), None).await?;
    let (server_two, _) = start_server(&two, dir_two.path(), None).await?;
    let scenario = &scenarios()[0];
    for server in [&server_one, &server_two] {
        server.seed(scenario.flags).await?;
    }
    let requests = Requests::write(scenario, scenario.flags, opts.requests, None)?;
    let round = Duration::from_secs(opts.seconds.into());
    let target = |s: &Server| (s.base.clone(), s.proc.0.id());
    let (t1, t2) = (target(&server_one), target(&server_two));
    if !opts.smoke {
        run(&one, &requests, (&t1.0, t1.1), Drive::Max, WARM_UP)?;
        run(&two, &requests, (&t2.0, t2.1), Drive::Max, WARM_UP)?;
    }
    let (mut ones, mut twos) = (Vec::new(), Vec::new());
    for _ in 0..opts.rounds {
        ones.push(run(&one, &requests, (&t1.0, t1.1), Drive::Max, round)?);
        twos.push(run(&two, &requests, (&t2.0, t2.1), Drive::Max, round)?);
    }
    let (one, two) = (median(&ones), median(&twos));
    println!(
        "scaling: 1 worker {:.0} req/s ({:.1} µs CPU/request), 2 workers {:.0} req/s ({:.1} µs), {:.2}×",
        one.rps,
        one.cpu_per_request.as_secs_f64() * 1e6,
        two.rps,
        two.cpu_per_request.as_secs_f64() * 1e6,
        two.rps / one.rps
    );
    Ok((one, two))
}
