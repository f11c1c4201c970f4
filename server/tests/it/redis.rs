//! Several instances on one Redis: changes reach every instance, concurrent writers lose
//! nothing, and a real Redis crash under load fails no evaluation and loses no acknowledged
//! write; an instance started while Redis is down waits and then serves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN, SDK, TestApp, problem, spawn_with};
use switchyard_testkit::redis::RedisServer;

pub async fn instances(redis: &RedisServer, prefix: &str, n: usize) -> Vec<TestApp> {
    instances_reconciling(redis, prefix, n, 1).await
}

/// `n` instances on `redis` under `prefix` that reconcile every `every` seconds (a long
/// interval shows that a change arrived through pub/sub, not through the reconcile).
pub async fn instances_reconciling(
    redis: &RedisServer,
    prefix: &str,
    n: usize,
    every: u64,
) -> Vec<TestApp> {
    let mut apps = Vec::new();
    for _ in 0..n {
        let url = redis.url();
        let prefix = prefix.to_owned();
        apps.push(
            spawn_with(move |s| {
                s.store.redis_url = Some(url);
                s.store.redis_prefix = prefix;
                s.server.reconcile_interval_secs = every;
            })
            .await,
        );
    }
    apps
}

/// Polls `check` until it holds, for at most 10 s.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(what, Duration::from_secs(10), check).await;
}

/// Polls `check` until it holds, for at most `limit`.
pub async fn eventually_within<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn flag(app: &TestApp, key: &str) -> Value {
    app.call(Method::GET, &format!("/v1/flags/{key}"), Some(ADMIN), None)
        .await
        .1
}

pub async fn snapshot_version(app: &TestApp) -> u64 {
    let (_, snap) = app.call(Method::GET, "/v1/snapshot", Some(SDK), None).await;
    snap["version"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_change_on_one_instance_is_served_by_all() {
    let redis = RedisServer::start();
    let apps = instances(&redis, "prop", 3).await;
    apps[0]
        .create("f", json!({"enabled": true, "rollout_percentage": 100}))
        .await;
    for app in &apps[1..] {
        eventually("the new flag on every instance", || async {
            app.eval("f", Some("u"), None).await.0
        })
        .await;
    }
    apps[1]
        .call(
            Method::PATCH,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"markets": ["FR"]})),
        )
        .await;
    for app in &apps {
        eventually("the market change everywhere", || async {
            app.eval("f", Some("u"), Some("DE")).await.1 == "MARKET_EXCLUDED"
        })
        .await;
    }
    apps[2]
        .call(
            Method::POST,
            "/v1/kill-switch",
            Some(ADMIN),
            Some(json!({"active": true, "reason": "r"})),
        )
        .await;
    for app in &apps {
        eventually("the global kill switch everywhere", || async {
            app.eval("f", Some("u"), Some("FR")).await.1 == "GLOBAL_KILL_SWITCH"
        })
        .await;
    }
    // Same data, same snapshot version, on every instance.
    let versions = futures_util::future::join_all(apps.iter().map(snapshot_version)).await;
    assert!(
        versions.iter().all(|v| *v == versions[0] && *v > 0),
        "{versions:?}"
    );
    // A token made on one instance works on the others.
    let (_, issued) = apps[0]
        .call(
            Method::POST,
            "/v1/tokens",
            Some(ADMIN),
            Some(json!({"name": "v", "role": "viewer"})),
        )
        .await;
    let token = issued["token"].as_str().unwrap().to_owned();
    eventually("the token on another instance", || async {
        apps[2]
            .send(Method::GET, "/v1/flags", Some(&token), None)
            .await
            .status()
            == StatusCode::OK
    })
    .await;
}

#[tokio::test]
async fn concurrent_writers_on_two_instances_lose_nothing() {
    let redis = RedisServer::start();
    let apps = instances(&redis, "race", 2).await;
    apps[0].create("f", json!({"enabled": true})).await;
    eventually("f on both", || async {
        flag(&apps[1], "f").await["version"] == 1
    })
    .await;

    // Conditional writes: each reads the version, then writes with it. Every write either
    // lands or gets 409; the final version counts exactly the landed ones.
    let attempts = (0..20).map(|i| {
        let app = &apps[i % 2];
        async move {
            let version = flag(app, "f").await["version"].as_u64().unwrap();
            let body = json!({"description": format!("writer {i}"), "expected_version": version});
            app.call(Method::PATCH, "/v1/flags/f", Some(ADMIN), Some(body))
                .await
                .0
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let landed = statuses.iter().filter(|s| **s == StatusCode::OK).count() as u64;
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count() as u64;
    assert_eq!(landed + refused, 20, "{statuses:?}");
    assert!(landed >= 1);
    assert_eq!(
        flag(&apps[0], "f").await["version"].as_u64(),
        Some(1 + landed)
    );

    // Unconditional adds from both instances at once: every one lands.
    let adds = (0..20).map(|i| {
        let app = &apps[i % 2];
        async move {
            let body = json!({"whitelist_add": [format!("user-{i}")]});
            app.call(Method::PATCH, "/v1/flags/f", Some(ADMIN), Some(body))
                .await
                .0
        }
    });
    for status in futures_util::future::join_all(adds).await {
        assert_eq!(status, StatusCode::OK);
    }
    let whitelist = flag(&apps[1], "f").await;
    eventually("all 20 users on both instances", || async {
        flag(&apps[1], "f").await["whitelist"]
            .as_array()
            .map_or(0, Vec::len)
            == 20
    })
    .await;
    let _ = whitelist;
}

#[tokio::test]
async fn a_redis_crash_under_load_fails_no_evaluation_and_loses_no_acknowledged_write() {
    let mut redis = RedisServer::persistent();
    let apps = instances(&redis, "crash", 2).await;
    apps[0]
        .create("f", json!({"enabled": true, "rollout_percentage": 100}))
        .await;
    eventually("f on both", || async {
        apps[1].eval("f", Some("u"), None).await.0
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let (evaluations, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for app in &apps {
        let (client, base) = (app.client.clone(), app.base.clone());
        let (stop, evaluations, failures) = (stop.clone(), evaluations.clone(), failures.clone());
        load.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = json!({"flag": "f", "context": {"user_id": format!("user-{i}")}});
                let res = client
                    .post(format!("{base}/v1/evaluate"))
                    .bearer_auth(SDK)
                    .json(&body)
                    .send()
                    .await;
                let ok = match res {
                    Ok(r) if r.status() == StatusCode::OK => r
                        .json::<Value>()
                        .await
                        .map(|v| v["enabled"] == true)
                        .unwrap_or(false),
                    _ => false,
                };
                evaluations.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // How many writes the writer has had acknowledged, and refused: what the steps below
    // wait on, so each phase holds writes of its own whatever the machine's speed.
    let (acked, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let writer = {
        let (client, base, stop) = (apps[0].client.clone(), apps[0].base.clone(), stop.clone());
        let (acked, refused) = (acked.clone(), refused.clone());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = json!({"description": format!("write {i}")});
                let res = client
                    .patch(format!("{base}/v1/flags/f"))
                    .bearer_auth(ADMIN)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                if res.status() == StatusCode::OK {
                    let flag: Value = res.json().await.unwrap();
                    acknowledged.push((flag["version"].as_u64().unwrap(), format!("write {i}")));
                    acked.fetch_add(1, Ordering::Relaxed);
                } else {
                    assert_eq!(
                        res.status(),
                        StatusCode::SERVICE_UNAVAILABLE,
                        "a write during the outage"
                    );
                    refused.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            acknowledged
        })
    };

    let writes_acked = |n: usize| {
        let acked = acked.clone();
        move || {
            let acked = acked.clone();
            async move { acked.load(Ordering::Relaxed) >= n }
        }
    };
    eventually("writes acknowledged before the crash", writes_acked(5)).await;
    redis.kill();
    for app in &apps {
        eventually("readiness says degraded", || async {
            let (status, body) = app.call(Method::GET, "/health/ready", None, None).await;
            status == StatusCode::SERVICE_UNAVAILABLE
                && body["reason"]
                    .as_str()
                    .unwrap_or("")
                    .contains("store unreachable")
        })
        .await;
    }
    let res = apps[1]
        .send(
            Method::PATCH,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"description": "during"})),
        )
        .await;
    let body = problem(res, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was written")
    );
    let refused_before = refused.load(Ordering::Relaxed);
    eventually("writes refused during the outage", || async {
        refused.load(Ordering::Relaxed) >= refused_before + 5
    })
    .await;

    redis.restart();
    for app in &apps {
        eventually("ready again", || async {
            app.call(Method::GET, "/health/ready", None, None).await.0 == StatusCode::OK
        })
        .await;
    }
    let (status, after) = apps[0]
        .call(
            Method::PATCH,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"description": "after"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let after = after["version"].as_u64().unwrap();
    eventually(
        "a write after recovery reaches the other instance",
        || async {
            // The writer keeps going, so the other instance may already be past it.
            flag(&apps[1], "f").await["version"].as_u64().unwrap_or(0) >= after
        },
    )
    .await;
    let acked_after = acked.load(Ordering::Relaxed);
    eventually(
        "writes acknowledged after the recovery",
        writes_acked(acked_after + 5),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let acknowledged = writer.await.unwrap();

    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "of {} evaluations",
        evaluations.load(Ordering::Relaxed)
    );
    assert!(evaluations.load(Ordering::Relaxed) > 100);
    assert!(!acknowledged.is_empty());
    let (_, history) = apps[1]
        .call(Method::GET, "/v1/flags/f/history", Some(ADMIN), None)
        .await;
    let kept: Vec<(u64, String)> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["description"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for write in &acknowledged {
        assert!(kept.contains(write), "acknowledged write {write:?} lost");
    }
}

#[tokio::test]
async fn an_instance_started_while_redis_is_down_waits_then_serves() {
    let mut redis = RedisServer::start();
    redis.kill();
    let app = instances(&redis, "late", 1).await.pop().unwrap();
    let (status, ready) = app.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(
        (status, ready["snapshot_loaded"].as_bool()),
        (StatusCode::SERVICE_UNAVAILABLE, Some(false))
    );
    let res = app
        .send(
            Method::POST,
            "/v1/evaluate",
            Some(SDK),
            Some(json!({"flag": "f"})),
        )
        .await;
    problem(res, StatusCode::SERVICE_UNAVAILABLE).await;
    let res = app
        .send(Method::PUT, "/v1/flags/f", Some(ADMIN), Some(json!({})))
        .await;
    problem(res, StatusCode::SERVICE_UNAVAILABLE).await;
    redis.restart();
    eventually("ready once Redis is up", || async {
        app.call(Method::GET, "/health/ready", None, None).await.0 == StatusCode::OK
    })
    .await;
    app.create("f", json!({"enabled": true, "rollout_percentage": 100}))
        .await;
    assert_eq!(
        app.eval("f", Some("u"), None).await,
        (true, "ROLLOUT".into())
    );
}
