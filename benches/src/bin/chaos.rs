//! The fault suite (`scripts/chaos`): three real `switchyard-server` processes on one real
//! Redis, a connected SDK on each, and a mixed load (evaluations, snapshot readers, writes),
//! driven through faults: Redis SIGKILLed and restarted from its AOF, Redis SIGKILLed and
//! restarted empty, a server SIGKILLed and restarted. After each fault a kill switch is
//! flipped on a random instance, and the suite checks that every instance and every SDK
//! obeys it, that no reader saw a version go backwards, that no evaluation failed on an
//! instance with a snapshot, and that every acknowledged write is still there (for the
//! faults that keep data).
//!
//! Run: `scripts/chaos` (release, 3 rounds, writes its table into BENCHMARKS.md) or
//! `scripts/chaos --short` (debug, 1 round, writes nothing: CI). Exits non-zero on any
//! broken promise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::ensure;
use serde_json::{Value, json};
use switchyard_benches::{benchmarks_md, latency_table, write_section};
use switchyard_sdk::{Client, Context, Reason};
use switchyard_testkit::free_port;
use switchyard_testkit::process::ServerProcess;
use switchyard_testkit::redis::RedisServer;
use tokio::sync::Mutex;

const ADMIN: &str = "chaos-admin-token-0123456789";
const SDK: &str = "chaos-sdk-token-0123456789";
const FLAG: &str = "chaos";
const INSTANCES: usize = 3;
/// How long every instance and SDK may take to obey a kill switch after a fault.
const CONVERGE: Duration = Duration::from_secs(10);

/// An instance of the suite: a server process on `port`, logging into `logs`.
fn instance(bin: &Path, redis: &str, port: u16, logs: &Path) -> ServerProcess {
    let env = [
        ("SWITCHYARD_SERVER__WORKERS", "1".to_owned()),
        ("SWITCHYARD_SERVER__WRITES_PER_MINUTE", "1000000".to_owned()),
        ("SWITCHYARD_STORE__REDIS_URL", redis.to_owned()),
        ("SWITCHYARD_STORE__REDIS_PREFIX", "chaos".to_owned()),
        (
            "SWITCHYARD_RETENTION__HISTORY_VERSIONS",
            "1000000".to_owned(),
        ),
        ("SWITCHYARD_ADMIN_TOKEN", ADMIN.to_owned()),
        ("SWITCHYARD_SDK_TOKEN", SDK.to_owned()),
        ("SWITCHYARD_LOG__LEVEL", "error".to_owned()),
    ];
    ServerProcess::spawn_on(bin, port, &env, &logs.join(format!("{port}.log")))
}

/// What the load saw, shared by its tasks.
#[derive(Default)]
struct Tally {
    evaluations: AtomicU64,
    failed_evaluations: AtomicU64,
    reads: AtomicU64,
    backwards: AtomicU64,
    /// Per instance: evaluations are not counted against it while it is down on purpose.
    down: [AtomicBool; INSTANCES],
}

/// The fault suite: real Redis and server SIGKILLs under a mixed load.
#[derive(clap::Parser)]
struct Opts {
    /// Where the switchyard-server binary is.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Rounds of every fault.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// One round, nothing written to BENCHMARKS.md (CI).
    #[arg(long)]
    short: bool,
}

async fn ready(http: &reqwest::Client, base: &str, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(res) = http.get(format!("{base}/health/ready")).send().await
            && res.status().is_success()
        {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{base} not ready within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends an admin request; the status and JSON answer (Null when none).
async fn admin(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Value,
) -> anyhow::Result<(reqwest::StatusCode, Value)> {
    let res = http
        .request(method, url)
        .bearer_auth(ADMIN)
        .json(&body)
        .timeout(Duration::from_secs(5))
        .send()
        .await?;
    let status = res.status();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

/// Retries `send` until it answers 2xx (writes answer 503 while Redis is away).
async fn until_accepted(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Value,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((status, answer)) = admin(http, method.clone(), url.clone(), body.clone()).await
            && status.is_success()
        {
            return Ok(answer);
        }
        ensure!(
            Instant::now() < deadline,
            "{method} {url} not accepted within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Evaluates the chaos flag on `base` in a loop, counting failures while the instance is up.
fn spawn_evaluator(
    http: reqwest::Client,
    base: String,
    index: usize,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let body = json!({"flag": FLAG, "context": {"user_id": format!("user-{i}")}});
            let res = http
                .post(format!("{base}/v1/evaluate"))
                .bearer_auth(SDK)
                .json(&body)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            // 200, or 404 in the moment the flag is gone after an empty restart: answered
            // from a snapshot either way. Anything else on a live instance is a failure.
            let answered = matches!(&res, Ok(r) if r.status() == 200 || r.status() == 404);
            if tally.down[index].load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            tally.evaluations.fetch_add(1, Ordering::Relaxed);
            if !answered {
                tally.failed_evaluations.fetch_add(1, Ordering::Relaxed);
            }
        }
    })
}

/// Reads `/v1/snapshot` from `base` in a loop: its version must never go backwards, not even
/// across a restart of the instance (it must come back at or past what it served).
fn spawn_reader(
    http: reqwest::Client,
    base: String,
    index: usize,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut highest = 0;
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if tally.down[index].load(Ordering::Relaxed) {
                continue;
            }
            let res = http
                .get(format!("{base}/v1/snapshot"))
                .bearer_auth(SDK)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            let Ok(res) = res else { continue };
            let Ok(snapshot) = res.json::<Value>().await else {
                continue;
            };
            let Some(version) = snapshot["version"].as_u64() else {
                continue;
            };
            tally.reads.fetch_add(1, Ordering::Relaxed);
            if version < highest {
                eprintln!("instance {index}: snapshot version {highest} → {version}");
                tally.backwards.fetch_add(1, Ordering::Relaxed);
            }
            highest = highest.max(version);
        }
    })
}

/// Writes the chaos flag's description in a loop on random instances; every acknowledged
/// write is recorded with its version. Paused from a fault until the kill switch after it
/// has converged, so that convergence owes nothing to later writes moving the store along
/// (a store that came back empty must be served at once, not once enough writes caught up).
fn spawn_writer(
    http: reqwest::Client,
    bases: Vec<String>,
    acknowledged: Arc<Mutex<Vec<(u64, String)>>>,
    paused: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            if paused.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            i += 1;
            let base = &bases[fastrand::usize(..bases.len())];
            let description = format!("write {i}");
            let body = json!({"description": description});
            let url = format!("{base}/v1/flags/{FLAG}");
            if let Ok((status, flag)) = admin(&http, reqwest::Method::PATCH, url, body).await
                && status.is_success()
                && let Some(version) = flag["version"].as_u64()
            {
                acknowledged.lock().await.push((version, description));
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    })
}

/// The fault kinds, in the order each round applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    RedisRestartAof,
    RedisRestartEmpty,
    ServerRestart,
}

impl Fault {
    const ALL: [Fault; 3] = [
        Fault::RedisRestartAof,
        Fault::RedisRestartEmpty,
        Fault::ServerRestart,
    ];

    fn name(self) -> &'static str {
        match self {
            Fault::RedisRestartAof => "Redis SIGKILL, restart from AOF",
            Fault::RedisRestartEmpty => "Redis SIGKILL, restart empty",
            Fault::ServerRestart => "server SIGKILL, restart",
        }
    }
}

struct Suite {
    opts: Opts,
    http: reqwest::Client,
    redis: RedisServer,
    instances: Vec<ServerProcess>,
    /// Where the instances log.
    logs: tempfile::TempDir,
    sdks: Vec<Client>,
    tally: Arc<Tally>,
    acknowledged: Arc<Mutex<Vec<(u64, String)>>>,
    /// Holds the writer during a fault and the convergence after it.
    writes_paused: Arc<AtomicBool>,
    /// Acknowledged writes whose data a fault legitimately took (Redis restarted empty).
    forgiven: usize,
    kill_active: bool,
}

impl Suite {
    fn bin(&self) -> PathBuf {
        self.opts.bin_dir.join("switchyard-server")
    }

    fn bases(&self) -> Vec<String> {
        self.instances.iter().map(ServerProcess::base).collect()
    }

    async fn create_flag(&self) -> anyhow::Result<()> {
        let url = format!("{}/v1/flags/{FLAG}", self.instances[0].base());
        let body = json!({"enabled": true, "rollout_percentage": 100});
        let (status, answer) = admin(&self.http, reqwest::Method::PUT, url, body).await?;
        ensure!(
            status.is_success() || status == 409,
            "creating {FLAG}: {status} {answer}"
        );
        Ok(())
    }

    /// Applies `fault` and waits until the fleet answers writes again.
    async fn apply(&mut self, fault: Fault) -> anyhow::Result<()> {
        match fault {
            Fault::RedisRestartAof => {
                self.redis.kill();
                tokio::time::sleep(Duration::from_millis(300)).await;
                self.redis.restart();
            }
            Fault::RedisRestartEmpty => {
                self.redis.kill();
                tokio::time::sleep(Duration::from_millis(300)).await;
                // Everything acknowledged before the kill is legitimately gone with the data
                // (the pause lets answers already on the wire arrive).
                self.forgiven = self.acknowledged.lock().await.len();
                self.redis.restart_empty();
                // The flag is gone with the data: put it back, as an operator restoring
                // from a backup would.
                let url = format!("{}/v1/flags/{FLAG}", self.instances[0].base());
                let body = json!({"enabled": true, "rollout_percentage": 100});
                until_accepted(&self.http, reqwest::Method::PUT, url, body).await?;
            }
            Fault::ServerRestart => {
                let victim = fastrand::usize(..INSTANCES);
                self.tally.down[victim].store(true, Ordering::Relaxed);
                self.instances[victim].kill();
                tokio::time::sleep(Duration::from_millis(300)).await;
                let port = self.instances[victim].port;
                self.instances[victim] =
                    instance(&self.bin(), &self.redis.url(), port, self.logs.path());
                ready(
                    &self.http,
                    &self.instances[victim].base(),
                    Duration::from_secs(30),
                )
                .await?;
                self.tally.down[victim].store(false, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Flips the global kill switch on a random instance; returns the time until every
    /// instance and every SDK obeys it.
    async fn flip_and_converge(&mut self) -> anyhow::Result<Duration> {
        self.kill_active = !self.kill_active;
        let active = self.kill_active;
        let on = fastrand::usize(..INSTANCES);
        let url = format!("{}/v1/kill-switch", self.instances[on].base());
        let body = json!({"active": active, "reason": "chaos"});
        until_accepted(&self.http, reqwest::Method::POST, url, body).await?;
        let acknowledged = Instant::now();
        let ctx = Context::new().user("u-1");
        loop {
            let mut behind = Vec::new();
            for (i, instance) in self.instances.iter().enumerate() {
                let body = json!({"flag": FLAG, "context": {"user_id": "u-1"}});
                let answer = self
                    .http
                    .post(format!("{}/v1/evaluate", instance.base()))
                    .bearer_auth(SDK)
                    .json(&body)
                    .send()
                    .await;
                let reason = match answer {
                    Ok(res) => res.json::<Value>().await.unwrap_or_default()["reason"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    Err(_) => String::new(),
                };
                if (reason == "GLOBAL_KILL_SWITCH") != active {
                    behind.push(format!("instance {i} ({reason})"));
                }
            }
            for (i, sdk) in self.sdks.iter().enumerate() {
                let obeys = sdk.evaluate(FLAG, &ctx).reason == Reason::GlobalKillSwitch;
                if obeys != active {
                    behind.push(format!("SDK {i}"));
                }
            }
            if behind.is_empty() {
                return Ok(acknowledged.elapsed());
            }
            ensure!(
                acknowledged.elapsed() < CONVERGE,
                "the kill switch (active: {active}) not obeyed within {CONVERGE:?} by {}",
                behind.join(", ")
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Every acknowledged write since the last data loss is in the flag's history.
    async fn lost_writes(&self) -> anyhow::Result<usize> {
        let url = format!("{}/v1/flags/{FLAG}/history", self.instances[0].base());
        let history = until_accepted(&self.http, reqwest::Method::GET, url, Value::Null).await?;
        let kept: std::collections::HashSet<(u64, String)> = history["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| {
                Some((
                    v["version"].as_u64()?,
                    v["description"].as_str()?.to_owned(),
                ))
            })
            .collect();
        let acknowledged = self.acknowledged.lock().await;
        let lost: Vec<_> = acknowledged[self.forgiven..]
            .iter()
            .filter(|w| !kept.contains(*w))
            .collect();
        for write in lost.iter().take(5) {
            eprintln!("lost an acknowledged write: {write:?}");
        }
        Ok(lost.len())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut opts = <Opts as clap::Parser>::parse();
    if opts.short {
        opts.rounds = 1;
    }
    let http = reqwest::Client::new();
    let redis = RedisServer::persistent();
    let logs = tempfile::tempdir()?;
    let mut instances = Vec::new();
    for _ in 0..INSTANCES {
        let bin = opts.bin_dir.join("switchyard-server");
        instances.push(instance(&bin, &redis.url(), free_port(), logs.path()));
    }
    for instance in &instances {
        ready(&http, &instance.base(), Duration::from_secs(60)).await?;
    }
    let mut sdks = Vec::new();
    for instance in &instances {
        let client = Client::builder(instance.base(), SDK)
            .retry_backoff(Duration::from_millis(20), Duration::from_millis(500))
            .build()?;
        client.wait_until_ready(Duration::from_secs(10)).await?;
        sdks.push(client);
    }
    let mut suite = Suite {
        opts,
        http: http.clone(),
        redis,
        instances,
        logs,
        sdks,
        tally: Arc::new(Tally::default()),
        acknowledged: Arc::new(Mutex::new(Vec::new())),
        writes_paused: Arc::new(AtomicBool::new(false)),
        forgiven: 0,
        kill_active: false,
    };
    suite.create_flag().await?;

    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    // Some history before the first fault, so a store that comes back empty is well behind.
    for i in 0..100 {
        let url = format!("{}/v1/flags/{FLAG}", suite.instances[i % INSTANCES].base());
        let body = json!({"description": format!("warm-up {i}")});
        until_accepted(&http, reqwest::Method::PATCH, url, body).await?;
    }
    for (i, base) in suite.bases().into_iter().enumerate() {
        let (tally, stop) = (suite.tally.clone(), stop.clone());
        load.push(spawn_evaluator(
            http.clone(),
            base.clone(),
            i,
            tally.clone(),
            stop.clone(),
        ));
        load.push(spawn_reader(http.clone(), base, i, tally, stop));
    }
    load.push(spawn_writer(
        http.clone(),
        suite.bases(),
        suite.acknowledged.clone(),
        suite.writes_paused.clone(),
        stop.clone(),
    ));

    let started = Instant::now();
    let mut converged: BTreeMap<Fault, Vec<Duration>> = BTreeMap::new();
    let mut failures = Vec::new();
    for round in 1..=suite.opts.rounds {
        for fault in Fault::ALL {
            tokio::time::sleep(Duration::from_millis(500)).await;
            suite.writes_paused.store(true, Ordering::Relaxed);
            let outcome = async {
                suite.apply(fault).await?;
                suite.flip_and_converge().await
            }
            .await;
            suite.writes_paused.store(false, Ordering::Relaxed);
            match outcome {
                Ok(took) => {
                    println!("round {round}: {} — converged in {took:?}", fault.name());
                    converged.entry(fault).or_default().push(took);
                }
                Err(e) => {
                    println!("round {round}: {} — FAILED: {e:#}", fault.name());
                    failures.push(format!("{}: {e:#}", fault.name()));
                }
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await?;
    }
    let lost = suite.lost_writes().await?;
    let tally = &suite.tally;
    let (evaluations, failed) = (
        tally.evaluations.load(Ordering::Relaxed),
        tally.failed_evaluations.load(Ordering::Relaxed),
    );
    let (reads, backwards) = (
        tally.reads.load(Ordering::Relaxed),
        tally.backwards.load(Ordering::Relaxed),
    );
    let writes = suite.acknowledged.lock().await.len();
    let survived: usize = converged.values().map(Vec::len).sum();
    let faults = suite.opts.rounds * Fault::ALL.len();
    let summary = format!(
        "faults survived: {survived}/{faults}; writes acknowledged: {writes}, lost: {lost} \
         (checked: {} after the last empty restart); evaluations: {evaluations}, failed: \
         {failed}; snapshot reads: {reads}, versions backwards: {backwards}; {:.0} s",
        writes - suite.forgiven,
        started.elapsed().as_secs_f64()
    );
    println!("{summary}");
    let mut sorted: Vec<(&str, Vec<Duration>)> = converged
        .into_iter()
        .map(|(fault, mut samples)| {
            samples.sort();
            (fault.name(), samples)
        })
        .collect();
    sorted.sort_by_key(|(name, _)| *name);
    let rows: Vec<(&str, &[Duration])> = sorted.iter().map(|(n, s)| (*n, s.as_slice())).collect();
    if !suite.opts.short {
        let body = format!(
            "Measured: `scripts/chaos` ({} rounds; 3 release instances on one Redis with \
             AOF, an SDK on each, evaluations, snapshot readers and a writer running \
             throughout). Time to converge: from the kill switch's acknowledgement, right \
             after the fault, until every instance and every SDK obeys it.\n\n{}\n{summary}\n",
            suite.opts.rounds,
            latency_table(&rows)
        );
        write_section(&benchmarks_md(), "chaos", &body)?;
    }
    let broken = !failures.is_empty() || lost > 0 || failed > 0 || backwards > 0;
    ensure!(!broken, "a promise was broken: {}", failures.join("; "));
    ensure!(
        evaluations > 0 && reads > 0 && writes > 0,
        "the load did not run"
    );
    println!("chaos: {survived} passed, 0 failed");
    Ok(())
}
