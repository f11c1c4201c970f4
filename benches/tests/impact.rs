//! Impact end to end with real processes (docs/api.md#release-plans): applications built on the SDK, each its
//! own process (`impact_app`), evaluate two flags in release plans for thousands of simulated
//! users and track errors at a rate that depends on the variant: on `worse`, users who got
//! the feature err 5× as often; on `alike`, as often as the others. The impact guard trips
//! `worse` and every instance serves its kill switch; `alike` keeps running. Once on one
//! server, once on two servers sharing a Redis (an app on each).

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_benches::{ADMIN, SDK, instances_on_redis, start_instance};
use switchyard_testkit::redis::RedisServer;

const GUARD: &str = r#"{"name": "errors", "impact": {"event": "error", "max_ratio": 1.5, "min_exposures": 2000, "confidence": 0.95}}"#;

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> Value {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.expect("the server answers");
    assert!(answer.status().is_success(), "{}", answer.status());
    answer.json().await.unwrap_or(Value::Null)
}

async fn prepare(base: &str) {
    let guard: Value = serde_json::from_str(GUARD).unwrap();
    for flag in ["worse", "alike"] {
        call(
            reqwest::Method::PUT,
            format!("{base}/v1/flags/{flag}"),
            Some(json!({"enabled": true})),
        )
        .await;
        let plan = json!({
            "stages": [{"rollout_percentage": 50, "hold": "1h"}, {"rollout_percentage": 100}],
            "guards": [guard.clone()],
            "on_trip": "kill"
        });
        call(
            reqwest::Method::PUT,
            format!("{base}/v1/flags/{flag}/plan"),
            Some(plan),
        )
        .await;
    }
}

fn app(base: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_impact_app"))
        .args([
            "--url",
            base,
            "--token",
            SDK,
            "--users",
            "3000",
            "--seconds",
            "8",
        ])
        .args(["--flag", "worse:0.10:0.02", "--flag", "alike:0.05:0.05"])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start impact_app")
}

async fn reason(base: &str, flag: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/v1/evaluate"))
        .bearer_auth(SDK)
        .json(&json!({"flag": flag, "context": {"user_id": "someone"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["reason"].as_str().unwrap_or_default().to_owned()
}

async fn run(bases: Vec<String>) {
    prepare(&bases[0]).await;
    let mut apps: Vec<_> = bases.iter().map(|b| app(b)).collect();
    let started = Instant::now();
    for base in &bases {
        while reason(base, "worse").await != "KILL_SWITCH" {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "worse was never killed on {base}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let worse = call(
        reqwest::Method::GET,
        format!("{}/v1/flags/worse/plan", bases[0]),
        None,
    )
    .await;
    assert_eq!(worse["state"], "tripped", "{worse}");
    assert_eq!(worse["tripped_by"]["guard"], "errors");
    for app in &mut apps {
        let status = app.wait().await.expect("impact_app ran");
        assert!(status.success(), "impact_app failed: {status}");
    }
    // Every app has sent its last counts: the alike flag, with both cohorts well past their
    // minimum, is still running and its guard reads ok.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let alike = call(
        reqwest::Method::GET,
        format!("{}/v1/flags/alike/plan", bases[0]),
        None,
    )
    .await;
    assert_eq!(alike["state"], "running", "{alike}");
    assert_eq!(alike["guards"][0]["status"], "ok", "{alike}");
    assert_eq!(alike["guards"][0]["impact"]["enough"], true, "{alike}");
    let sums = call(
        reqwest::Method::GET,
        format!("{}/v1/flags/alike/impact", bases[0]),
        None,
    )
    .await;
    assert!(
        sums["off"]["exposures"].as_u64().unwrap() > 50_000,
        "{sums}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worse_on_cohort_trips_the_guard_on_one_server() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_owned();
    let base = start_instance(move |s| {
        s.store.data_dir = dir;
        s.plans.tick_ms = 200;
    })
    .await
    .unwrap();
    run(vec![base]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worse_on_cohort_trips_the_guard_on_two_servers_sharing_redis() {
    let redis = RedisServer::start();
    let bases = instances_on_redis(&redis.url(), "impact-e2e", 2, |s| s.plans.tick_ms = 200)
        .await
        .unwrap();
    run(bases).await;
}
