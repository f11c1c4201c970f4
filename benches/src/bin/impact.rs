//! Impact guard to kill switch: the time from the moment the store's impact sums first show
//! the on-cohort worse (the guard's test, run here on the same sums, says harmful) until
//! every instance serves the flag's kill switch; two instances on one Redis, reports posted
//! as SDKs post them. Beside it, in the same run, the bound it should stay within: one
//! scheduler tick (and the store read and the write that follow).
//!
//! Run: `cargo run --release -p switchyard-benches --bin impact` (updates BENCHMARKS.md);
//! `-- --smoke` runs a few rounds and writes nothing.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};
use switchyard_benches::{ADMIN, SDK, instances_on_redis, latency_table, measured_here, report};
use switchyard_core::impact::{ImpactSums, assess};
use switchyard_testkit::redis::RedisServer;

const TICK: Duration = Duration::from_millis(200);
const GIVE_UP: Duration = Duration::from_secs(30);

async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await?;
    if !answer.status().is_success() {
        bail!("{}", answer.status());
    }
    Ok(answer.json().await.unwrap_or(Value::Null))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let rounds = if smoke { 2 } else { 15 };
    let redis = RedisServer::start();
    let bases = instances_on_redis(&redis.url(), "impactbench", 2, |s| {
        s.plans.tick_ms = TICK.as_millis() as u64;
    })
    .await?;
    let http = reqwest::Client::new();
    let (put, get, post) = (
        reqwest::Method::PUT,
        reqwest::Method::GET,
        reqwest::Method::POST,
    );
    let mut samples = Vec::new();
    for i in 0..rounds {
        let flag = format!("impact-{i}");
        send(
            &http,
            put.clone(),
            format!("{}/v1/flags/{flag}", bases[0]),
            ADMIN,
            Some(json!({"enabled": true})),
        )
        .await?;
        let plan = json!({
            "stages": [{"rollout_percentage": 50, "hold": "1h"}, {"rollout_percentage": 100}],
            "guards": [{"name": "errors", "impact": {"event": "error", "max_ratio": 1.5, "min_exposures": 1000, "confidence": 0.95}}],
            "on_trip": "kill"
        });
        send(
            &http,
            put.clone(),
            format!("{}/v1/flags/{flag}/plan", bases[0]),
            ADMIN,
            Some(plan),
        )
        .await?;
        let started = Instant::now();
        let mut crossed: Option<Instant> = None;
        let mut next_report = Instant::now();
        'watch: loop {
            if started.elapsed() > GIVE_UP {
                bail!("{flag}: no kill within {GIVE_UP:?}");
            }
            if crossed.is_none() && Instant::now() >= next_report {
                // What a few SDKs report every 100 ms: on errs 5× as often as off.
                let events = json!([
                    {"flag": flag, "variant": "on", "exposures": 100, "counts": {"error": 10}},
                    {"flag": flag, "variant": "off", "exposures": 100, "counts": {"error": 2}},
                ]);
                send(
                    &http,
                    post.clone(),
                    format!("{}/v1/impact", bases[i % 2]),
                    SDK,
                    Some(json!({"events": events})),
                )
                .await?;
                next_report += Duration::from_millis(100);
            }
            if crossed.is_none() {
                let raw = send(
                    &http,
                    get.clone(),
                    format!("{}/v1/flags/{flag}/impact", bases[0]),
                    ADMIN,
                    None,
                )
                .await?;
                let sums = ImpactSums {
                    on: serde_json::from_value(raw["on"].clone())?,
                    off: serde_json::from_value(raw["off"].clone())?,
                };
                if assess(&sums, "error", 1.5, 1000, 0.95).harmful {
                    crossed = Some(Instant::now());
                }
            }
            if let Some(at) = crossed {
                let mut killed = true;
                for base in &bases {
                    let answer = send(
                        &http,
                        post.clone(),
                        format!("{base}/v1/evaluate"),
                        SDK,
                        Some(json!({"flag": flag, "context": {"user_id": "u"}})),
                    )
                    .await?;
                    killed &= answer["reason"] == "KILL_SWITCH";
                }
                if killed {
                    samples.push(at.elapsed());
                    break 'watch;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    samples.sort();
    let bound = vec![TICK; samples.len()];
    let table = format!(
        "{}: two instances (one worker each) on one local Redis, scheduler tick {} ms, impact \
         reports posted every 100 ms (on-cohort errors 5× the off-cohort's), the store's sums \
         and both instances polled every 5 ms.\n\n{}",
        measured_here(),
        TICK.as_millis(),
        latency_table(&[
            ("**bound**: one tick", &bound),
            (
                "the store's sums first show harm → every instance serves the kill",
                &samples
            ),
        ]),
    );
    report("impact", &table, smoke)?;
    drop(redis);
    Ok(())
}
