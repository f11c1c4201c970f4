//! Release plans: how late a stage moves on after its hold ends, and how long a guard's trip
//! takes to be served as a kill by every instance — three instances on one Redis, a real
//! Prometheus (Debian's package) scraping an app whose error ratio the bench sets. Beside
//! each, in the same run, the bound it should stay within: one scheduler tick for a
//! transition; one tick plus one scrape interval for a trip.
//!
//! Run: `cargo run --release -p switchyard-benches --bin plans` (updates BENCHMARKS.md);
//! `-- --smoke` runs a few rounds and writes nothing.

use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchyard_benches::{ADMIN, SDK, instances_on_redis, latency_table, measured_here, report};
use switchyard_testkit::http::App;
use switchyard_testkit::prometheus::{Prometheus, SCRAPE};
use switchyard_testkit::redis::RedisServer;

/// The scheduler's tick in this run.
const TICK: Duration = Duration::from_millis(200);
const GIVE_UP: Duration = Duration::from_secs(20);

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = http.request(method, url).bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await?;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{status}: {body}");
    }
    Ok(body)
}

/// Polls until every instance serves `flag` with `check`; returns when the last did.
async fn served_everywhere(
    http: &reqwest::Client,
    bases: &[String],
    flag: &str,
    check: impl Fn(&Value) -> bool,
) -> anyhow::Result<Instant> {
    let started = Instant::now();
    for base in bases {
        loop {
            let answer: Value = http
                .post(format!("{base}/v1/evaluate"))
                .bearer_auth(SDK)
                .json(&json!({"flag": flag, "context": {"user_id": "u-1"}}))
                .send()
                .await?
                .json()
                .await?;
            let flag_now: Value = http
                .get(format!("{base}/v1/flags/{flag}"))
                .bearer_auth(ADMIN)
                .send()
                .await?
                .json()
                .await?;
            if check(&json!({"answer": answer, "flag": flag_now})) {
                break;
            }
            if started.elapsed() > GIVE_UP {
                bail!("{flag} not served everywhere within {GIVE_UP:?}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    Ok(Instant::now())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let (trips, stages) = if smoke { (2, 3) } else { (15, 15) };
    let app = App::start();
    app.set("app_error_ratio 0\n");
    let prometheus = Prometheus::start(app.port);
    let redis = RedisServer::start();
    let prom = prometheus.url();
    let bases = instances_on_redis(&redis.url(), "planbench", 3, |s| {
        s.plans.tick_ms = TICK.as_millis() as u64;
        s.guards.prometheus_url = Some(prom.clone());
    })
    .await?;
    let http = reqwest::Client::new();
    let put = reqwest::Method::PUT;

    // Transitions: a stage's hold ends → every instance serves the next percentage.
    call(
        &http,
        put.clone(),
        format!("{}/v1/flags/walk", bases[0]),
        Some(json!({"enabled": true})),
    )
    .await?;
    let plan_stages: Vec<Value> = (1..=stages)
        .map(|i| json!({"rollout_percentage": i, "hold": "300ms"}))
        .chain([json!({"rollout_percentage": 100})])
        .collect();
    let mut shown = call(
        &http,
        put.clone(),
        format!("{}/v1/flags/walk/plan", bases[1]),
        Some(json!({"stages": plan_stages})),
    )
    .await?;
    let mut late = Vec::new();
    for i in 0..stages {
        let next_at: DateTime<Utc> = serde_json::from_value(shown["next_at"].clone())?;
        let want = i as u64 + 2;
        let want = if i + 1 == stages { 100 } else { want };
        let at = served_everywhere(&http, &bases, "walk", |v| {
            v["flag"]["rollout_percentage"] == want
        })
        .await?;
        let now = Utc::now();
        let lateness = (now - next_at)
            .to_std()
            .unwrap_or_default()
            .saturating_sub(at.elapsed());
        late.push(lateness);
        shown = call(
            &http,
            reqwest::Method::GET,
            format!("{}/v1/flags/walk/plan", bases[2]),
            None,
        )
        .await?;
    }

    // Trips: the app's error ratio jumps → every instance serves the kill.
    let mut tripped = Vec::new();
    for i in 0..trips {
        let flag = format!("trip-{i}");
        call(
            &http,
            put.clone(),
            format!("{}/v1/flags/{flag}", bases[0]),
            Some(json!({"enabled": true, "rollout_percentage": 100})),
        )
        .await?;
        let body = json!({
            "stages": [{"rollout_percentage": 5, "hold": "1h"}, {"rollout_percentage": 100}],
            "guards": [{"name": "errors", "prometheus": {"query": "app_error_ratio", "above": 0.05}}],
            "on_trip": "kill"
        });
        call(
            &http,
            put.clone(),
            format!("{}/v1/flags/{flag}/plan", bases[i % 3]),
            Some(body),
        )
        .await?;
        let ready = Instant::now();
        loop {
            let mut ok = true;
            for base in &bases {
                // Not yet propagated to this instance: a 404, not ok yet.
                let p = call(
                    &http,
                    reqwest::Method::GET,
                    format!("{base}/v1/flags/{flag}/plan"),
                    None,
                )
                .await;
                ok &= p.is_ok_and(|p| p["guards"][0]["status"] == "ok");
            }
            if ok {
                break;
            }
            if ready.elapsed() > GIVE_UP {
                bail!("the guard never read ok");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let spike = Instant::now();
        app.set("app_error_ratio 0.5\n");
        let at = served_everywhere(&http, &bases, &flag, |v| {
            v["answer"]["reason"] == "KILL_SWITCH"
        })
        .await?;
        tripped.push(at - spike);
        app.set("app_error_ratio 0\n");
        tokio::time::sleep(SCRAPE * 2).await;
    }
    late.sort();
    tripped.sort();
    let bound_trip = vec![TICK + SCRAPE; tripped.len()];
    let bound_stage = vec![TICK; late.len()];
    let table = format!(
        "{}: three instances (one worker each) on one local Redis, scheduler tick {} ms, a real \
         Prometheus scraping every {} ms; each value polled on all three instances every 2 ms.\n\n{}",
        measured_here(),
        TICK.as_millis(),
        SCRAPE.as_millis(),
        latency_table(&[
            ("**bound**: one tick", &bound_stage),
            (
                "a stage's hold ends → every instance serves the next percentage",
                &late
            ),
            ("**bound**: one tick + one scrape interval", &bound_trip),
            (
                "the error ratio jumps in the app → every instance serves the kill (guard without `for`)",
                &tripped
            ),
        ]),
    );
    report("plans", &table, smoke)?;
    drop(prometheus);
    Ok(())
}
