//! Fleet verification: the time from a kill switch's acknowledgement until
//! `GET /v1/fleet/wait` answers "verified everywhere", with three instances on one Redis and
//! 1,000 real SDK clients streaming from them; beside, in the same run, the write's own round
//! trip and the ground truth: when the last of the 1,000 clients had in fact loaded the new
//! version (read from the clients themselves). The gap between the two is the cost of the
//! proof (heartbeats and the wait's polling).
//!
//! Run: `cargo run --release -p switchyard-benches --bin fleet` (updates BENCHMARKS.md);
//! `-- --smoke` uses 30 clients and a few flips, and writes nothing.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};
use switchyard_benches::{
    ADMIN, SDK, flip_kill, latency_table, measured_here, report, start_instance,
};
use switchyard_sdk::Client;
use switchyard_testkit::redis::RedisServer;

/// How long one flip may take to be verified before the run fails.
const GIVE_UP: Duration = Duration::from_secs(10);

async fn sdks_listed(http: &reqwest::Client, base: &str) -> anyhow::Result<u64> {
    let fleet: Value = http
        .get(format!("{base}/v1/fleet"))
        .bearer_auth(ADMIN)
        .send()
        .await?
        .json()
        .await?;
    Ok(fleet["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| i["sdks"].as_object().into_iter().flatten())
        .filter_map(|(_, n)| n.as_u64())
        .sum())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let (clients_n, flips) = if smoke { (30, 4) } else { (1000, 40) };
    let redis = RedisServer::start();
    let mut bases = Vec::new();
    for id in ["yard-a", "yard-b", "yard-c"] {
        bases.push(
            start_instance(|s| {
                s.server.instance_id = Some(id.into());
                s.store.redis_url = Some(redis.url());
                s.store.redis_prefix = "fleetbench".into();
                s.limits.streams_per_token = 100_000;
            })
            .await?,
        );
    }
    let http = reqwest::Client::new();
    http.put(format!("{}/v1/flags/checkout", bases[0]))
        .bearer_auth(ADMIN)
        .json(&json!({"enabled": true, "rollout_percentage": 100}))
        .send()
        .await?
        .error_for_status()?;
    let mut clients = Vec::with_capacity(clients_n);
    for i in 0..clients_n {
        let client = Client::builder(&bases[i % bases.len()], SDK)
            .app("bench")
            .client_id(&format!("sdk-{i}"))
            .build()?;
        clients.push(client);
    }
    for client in &clients {
        client.wait_until_ready(Duration::from_secs(30)).await?;
    }
    let listed_by = Instant::now() + Duration::from_secs(30);
    while sdks_listed(&http, &bases[0]).await? < clients_n as u64 {
        if Instant::now() > listed_by {
            bail!("the fleet never listed {clients_n} SDKs");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (mut writes, mut loaded, mut verified) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..flips {
        let base = &bases[i % bases.len()];
        let (sent, acknowledged, version) = flip_kill(&http, base, i % 2 == 0).await?;
        writes.push(acknowledged - sent);
        let truth = async {
            while clients
                .iter()
                .any(|c| c.snapshot_version().unwrap_or(0) < version)
            {
                if acknowledged.elapsed() > GIVE_UP {
                    bail!("flip {i}: the clients did not all load v{version}");
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Ok(acknowledged.elapsed())
        };
        let proof = async {
            let verdict: Value = http
                .get(format!(
                    "{base}/v1/fleet/wait?version={version}&timeout_ms={}",
                    GIVE_UP.as_millis()
                ))
                .bearer_auth(ADMIN)
                .send()
                .await?
                .json()
                .await?;
            if verdict["verified"] != true {
                bail!("flip {i}: not verified: {verdict}");
            }
            Ok(acknowledged.elapsed())
        };
        let (truth, proof) = tokio::join!(truth, proof);
        loaded.push(truth?);
        verified.push(proof?);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for client in &clients {
        client.shutdown().await;
    }
    writes.sort();
    loaded.sort();
    verified.sort();
    let table = format!(
        "{}: three instances (one worker \
         each) on one local Redis and {clients_n} SDK clients streaming from them, all in one \
         process; the kill switch is flipped on each instance in turn.\n\n{}",
        measured_here(),
        latency_table(&[
            (
                "**baseline**: the kill switch write's own round trip",
                &writes
            ),
            (
                &format!(
                    "write acknowledged → the last of the {clients_n} SDKs has loaded it (read from the clients)"
                ),
                &loaded
            ),
            (
                "write acknowledged → `/v1/fleet/wait` answers verified (3/3 instances, every SDK)",
                &verified
            ),
        ]),
    );
    report("fleet", &table, smoke)?;
    drop(redis);
    Ok(())
}
