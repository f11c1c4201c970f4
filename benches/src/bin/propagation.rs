//! Propagation: the time from a write's acknowledgement on instance A until instance B serves
//! the new decision (two instances on one Redis, B polled over HTTP), beside its floor
//! measured in the same run: a Redis PUBLISH reaching a subscriber.
//!
//! Run: `cargo run --release -p switchyard-benches --bin propagation` (updates BENCHMARKS.md);
//! `-- --smoke` runs a few iterations and writes nothing (CI keeps it working).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};
use switchyard_benches::{
    ADMIN, SDK, latency_table, measured_here, percentile, report, start_instance,
};
use switchyard_testkit::redis::RedisServer;

/// How long one change may take to arrive before it counts as lost.
const GIVE_UP: Duration = Duration::from_secs(2);

async fn instance(redis_url: &str) -> anyhow::Result<String> {
    start_instance(|s| {
        s.store.redis_url = Some(redis_url.to_owned());
        s.store.redis_prefix = "bench".into();
    })
    .await
}

/// PUBLISH sent → message received by a subscriber, `n` times.
async fn pubsub_floor(url: &str, n: usize) -> anyhow::Result<Vec<Duration>> {
    let client = redis::Client::open(url)?;
    let mut subscriber = client.get_async_pubsub().await?;
    subscriber.subscribe("floor").await?;
    let mut messages = subscriber.on_message();
    let mut publisher = client.get_multiplexed_async_connection().await?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let sent = Instant::now();
        let _: i64 = redis::cmd("PUBLISH")
            .arg("floor")
            .arg(i)
            .query_async(&mut publisher)
            .await?;
        tokio::time::timeout(GIVE_UP, messages.next())
            .await?
            .context("subscription ended")?;
        samples.push(sent.elapsed());
    }
    Ok(samples)
}

/// Write on `a` (acknowledged) → `b` serves the new decision, `n` times.
async fn propagation(a: &str, b: &str, n: usize) -> anyhow::Result<(Vec<Duration>, usize)> {
    let http = reqwest::Client::new();
    let put = http
        .put(format!("{a}/v1/flags/propagation"))
        .bearer_auth(ADMIN);
    put.json(&json!({"enabled": true, "rollout_percentage": 0}))
        .send()
        .await?
        .error_for_status()?;
    let ask = json!({"flag": "propagation", "context": {"user_id": "u-1"}});
    let served = |want: bool| {
        let request = http
            .post(format!("{b}/v1/evaluate"))
            .bearer_auth(SDK)
            .json(&ask);
        async move {
            let answer: Value = request.send().await.ok()?.json().await.ok()?;
            Some(answer["enabled"] == want)
        }
    };
    let (mut samples, mut lost) = (Vec::with_capacity(n), 0);
    for i in 0..n {
        let want = i % 2 == 0;
        let body = json!({"rollout_percentage": if want { 100 } else { 0 }});
        let patch = http
            .patch(format!("{a}/v1/flags/propagation"))
            .bearer_auth(ADMIN);
        patch.json(&body).send().await?.error_for_status()?;
        let acknowledged = Instant::now();
        loop {
            if served(want).await == Some(true) {
                samples.push(acknowledged.elapsed());
                break;
            }
            if acknowledged.elapsed() > GIVE_UP {
                lost += 1;
                break;
            }
        }
    }
    Ok((samples, lost))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let n = if smoke { 20 } else { 1000 };
    let redis = RedisServer::start();
    let a = instance(&redis.url()).await?;
    let b = instance(&redis.url()).await?;
    let mut floor = pubsub_floor(&redis.url(), n).await?;
    let (mut samples, lost) = propagation(&a, &b, n).await?;
    floor.sort();
    samples.sort();
    if lost > 0 {
        bail!("{lost} of {n} changes never reached instance B within {GIVE_UP:?}");
    }
    let ratio = percentile(&samples, 50.0).as_secs_f64() / percentile(&floor, 50.0).as_secs_f64();
    let table = format!(
        "{here}, both instances and Redis on one host.\n\n\
         {}\n\
         Median propagation is {ratio:.1}× the pub/sub floor. Goal: p99 under 50 ms.",
        latency_table(&[
            ("**baseline**: Redis PUBLISH → subscriber", &floor),
            (
                "write acknowledged on A → new decision served by B",
                &samples
            ),
        ]),
        here = measured_here(),
    );
    report("propagation", &table, smoke)?;
    Ok(())
}
