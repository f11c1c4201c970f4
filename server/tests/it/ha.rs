//! Redis that stays up: a primary with replicas behind real `redis-sentinel`s, failed over by
//! SIGKILL under load with `MIN_REPLICAS_ACKED=1`; writes refused as not durable when no
//! replica confirms them; a real three-primary Redis Cluster; and a TLS Redis that asks for a
//! client certificate, with certificates this test makes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchyard_sdk::{Client, Context, Reason};
use switchyard_server::Settings;
use switchyard_testkit::ha::{Certificates, MASTER, RedisCluster, RedisHa};
use switchyard_testkit::redis::RedisServer;

use crate::helpers::{ADMIN, SDK, TestApp, spawn_with};
use crate::redis::{eventually, eventually_within};

/// Longer than any test here runs: changes arrive through pub/sub or the write path.
const NO_RECONCILE: u64 = 600;

/// `n` instances configured by `configure`, each with its own instance id.
async fn instances(n: usize, configure: impl Fn(&mut Settings) + Clone) -> Vec<TestApp> {
    let mut apps = Vec::new();
    for _ in 0..n {
        let configure = configure.clone();
        apps.push(
            spawn_with(move |s| {
                s.server.reconcile_interval_secs = NO_RECONCILE;
                configure(s);
            })
            .await,
        );
    }
    apps
}

async fn global_kill(app: &TestApp, active: bool, reason: &str) -> StatusCode {
    let body = json!({"active": active, "reason": reason});
    app.call(Method::POST, "/v1/kill-switch", Some(ADMIN), Some(body))
        .await
        .0
}

/// The reason `app` gives for `flag` and user `u`, or the status when it cannot answer (an
/// instance still connecting).
async fn reason(app: &TestApp, flag: &str) -> String {
    let body = json!({"flag": flag, "context": {"user_id": "u"}});
    let (status, answer) = app
        .call(Method::POST, "/v1/evaluate", Some(SDK), Some(body))
        .await;
    match answer["reason"].as_str() {
        Some(reason) if status.is_success() => reason.to_owned(),
        _ => status.to_string(),
    }
}

/// Creates flag `f` (on for everyone) through `apps[0]` once the store takes writes (a
/// Sentinel or Cluster link connects in the background), then waits until every other
/// instance serves it: through pub/sub, since none reconciles during a test.
async fn create_everywhere(apps: &[TestApp], what: &str) {
    eventually(what, || async {
        let body = json!({"enabled": true, "rollout_percentage": 100});
        let (status, _) = apps[0]
            .call(Method::PUT, "/v1/flags/f", Some(ADMIN), Some(body))
            .await;
        status == StatusCode::CREATED
    })
    .await;
    for app in &apps[1..] {
        eventually_within(
            "another instance serves the new flag (pub/sub)",
            Duration::from_secs(3),
            || async { reason(app, "f").await == "ROLLOUT" },
        )
        .await;
    }
}

#[tokio::test]
async fn a_sentinel_failover_under_load_loses_no_acknowledged_write() {
    let mut ha = RedisHa::start(2, 3);
    let sentinels = ha.sentinel_addrs();
    let apps = instances(2, move |s| {
        s.store.redis_sentinels = sentinels.clone();
        s.store.redis_master = Some(MASTER.into());
        s.store.redis_prefix = "ha".into();
        s.store.redis_min_replicas_acked = 1;
        s.retention.history_versions = 100_000;
    })
    .await;
    create_everywhere(&apps, "a first write through the primary Sentinel names").await;
    let sdk = Client::builder(&apps[1].base, SDK)
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .stream_idle_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    sdk.wait_until_ready(Duration::from_secs(10)).await.unwrap();

    // Load: evaluations on both instances, and writes (descriptions and the global kill
    // switch) through both, each acknowledged write remembered.
    let stop = Arc::new(AtomicBool::new(false));
    let failed_evaluations = Arc::new(AtomicU64::new(0));
    let evaluations = Arc::new(AtomicU64::new(0));
    let mut evaluators = Vec::new();
    for app in &apps {
        let (base, client) = (app.base.clone(), app.client.clone());
        let (stop, failed, done) = (
            stop.clone(),
            failed_evaluations.clone(),
            evaluations.clone(),
        );
        evaluators.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let body = json!({"flag": "f", "context": {"user_id": "u"}});
                let answer = client
                    .post(format!("{base}/v1/evaluate"))
                    .bearer_auth(SDK)
                    .json(&body)
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status() == StatusCode::OK => done.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let progress = Arc::new(AtomicU64::new(0));
    let written = |n: u64, what: &'static str| {
        let progress = progress.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while progress.load(Ordering::Relaxed) < n {
                assert!(
                    Instant::now() < deadline,
                    "{what}: the load did not progress"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let writer = {
        let apps: Vec<(String, reqwest::Client)> = apps
            .iter()
            .map(|a| (a.base.clone(), a.client.clone()))
            .collect();
        let (stop, progress) = (stop.clone(), progress.clone());
        tokio::spawn(async move {
            // (write number, version) of every acknowledged description.
            let mut acknowledged: Vec<(u64, u64)> = Vec::new();
            let mut refused = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (base, client) = &apps[(i % 2) as usize];
                let (path, method, body) = if i.is_multiple_of(5) {
                    let active = i.is_multiple_of(10);
                    let body = json!({"active": active, "reason": format!("kill {i}")});
                    ("/v1/kill-switch", Method::POST, body)
                } else {
                    let body = json!({"description": format!("write {i}")});
                    ("/v1/flags/f", Method::PATCH, body)
                };
                let answer = client
                    .request(method, format!("{base}{path}"))
                    .bearer_auth(ADMIN)
                    .json(&body)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                let Ok(answer) = answer else {
                    refused.push(format!("{i}: no answer"));
                    continue;
                };
                let status = answer.status();
                let reply: Value = answer.json().await.unwrap_or(Value::Null);
                match (status, i % 5) {
                    (StatusCode::OK, 0) => {}
                    (StatusCode::OK, _) => {
                        acknowledged.push((i, reply["version"].as_u64().expect("a version")));
                        progress.fetch_add(1, Ordering::Relaxed);
                    }
                    (StatusCode::SERVICE_UNAVAILABLE, _) => refused.push(format!("{i}: {reply}")),
                    (other, _) => panic!("write {i}: unexpected {other} {reply}"),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (acknowledged, refused)
        })
    };

    // At least 20 writes acknowledged before the fault, and 10 more after it.
    written(20, "before the failover").await;
    let killed_at = Instant::now();
    let old = ha.kill_primary();
    let promoted = ha.wait_for_failover(old, Duration::from_secs(30));
    let failover = killed_at.elapsed();
    // Writes through the new primary, then stop the load.
    let before = sdk.snapshot_version();
    eventually_within(
        "a write acknowledged after the failover",
        Duration::from_secs(15),
        || async { global_kill(&apps[0], false, "after failover").await == StatusCode::OK },
    )
    .await;
    let recovered = killed_at.elapsed();
    let so_far = progress.load(Ordering::Relaxed);
    written(so_far + 10, "after the failover").await;
    stop.store(true, Ordering::Relaxed);
    for evaluator in evaluators {
        evaluator.await.unwrap();
    }
    let (acknowledged, refused) = writer.await.unwrap();
    assert_ne!(promoted, old);

    // The kill switch acknowledged last is served by both instances and the SDK.
    assert_eq!(global_kill(&apps[1], true, "final").await, StatusCode::OK);
    for app in &apps {
        eventually_within(
            "every instance serves the last kill switch",
            Duration::from_secs(3),
            || async { reason(app, "f").await == "GLOBAL_KILL_SWITCH" },
        )
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while sdk.evaluate("f", &Context::new().user("u")).reason != Reason::GlobalKillSwitch {
        assert!(
            Instant::now() < deadline,
            "the SDK does not serve the last kill switch (it was at {before:?})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Every acknowledged description is in the flag's history, at its version.
    let (status, history) = apps[0]
        .call(Method::GET, "/v1/flags/f/history", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let versions = history["versions"].as_array().unwrap();
    for (i, version) in &acknowledged {
        let kept = versions
            .iter()
            .find(|v| v["version"].as_u64() == Some(*version));
        assert_eq!(
            kept.and_then(|v| v["description"].as_str()),
            Some(format!("write {i}").as_str()),
            "acknowledged write {i} (version {version}) was lost in the failover"
        );
    }
    assert_eq!(
        failed_evaluations.load(Ordering::Relaxed),
        0,
        "evaluations failed during the failover (of {})",
        evaluations.load(Ordering::Relaxed)
    );
    println!(
        "failover: promoted after {failover:?}, first write acknowledged after {recovered:?}; \
         {} writes acknowledged, {} refused, {} evaluations",
        acknowledged.len(),
        refused.len(),
        evaluations.load(Ordering::Relaxed)
    );
    sdk.shutdown().await;
}

#[tokio::test]
async fn a_write_no_replica_confirms_is_answered_503_as_maybe_not_durable() {
    let primary = RedisServer::start();
    let mut replica = RedisServer::replica_of(&primary);
    replica.wait_replicating();
    let url = primary.url();
    let apps = instances(1, move |s| {
        s.store.redis_url = Some(url.clone());
        s.store.redis_min_replicas_acked = 1;
        s.store.redis_wait_timeout_ms = 200;
    })
    .await;
    let app = &apps[0];
    app.create("f", json!({"enabled": true})).await;

    replica.kill();
    let body = json!({"description": "unconfirmed"});
    let response = app
        .send(Method::PATCH, "/v1/flags/f", Some(ADMIN), Some(body))
        .await;
    let problem = crate::helpers::problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("may not be durable"), "{detail}");
    assert!(detail.contains("0 of the 1 replicas"), "{detail}");

    // With the replica back, writes are acknowledged again.
    replica.restart();
    replica.wait_replicating();
    eventually(
        "writes acknowledged once a replica confirms them",
        || async {
            let body = json!({"description": "confirmed"});
            let (status, _) = app
                .call(Method::PATCH, "/v1/flags/f", Some(ADMIN), Some(body))
                .await;
            status == StatusCode::OK
        },
    )
    .await;
}

#[tokio::test]
async fn instances_on_a_redis_cluster_share_every_change_from_one_hash_slot() {
    let cluster = RedisCluster::start(3);
    let nodes = cluster.urls();
    let apps = instances(2, move |s| {
        s.store.redis_cluster_nodes = nodes.clone();
        s.store.redis_prefix = "cl".into();
    })
    .await;
    create_everywhere(&apps, "the cluster takes a first write").await;
    assert_eq!(
        global_kill(&apps[1], true, "incident").await,
        StatusCode::OK
    );
    eventually_within(
        "the first instance serves the kill switch",
        Duration::from_secs(3),
        || async { reason(&apps[0], "f").await == "GLOBAL_KILL_SWITCH" },
    )
    .await;
    let (status, history) = apps[1]
        .call(Method::GET, "/v1/flags/f/history", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let (status, audit) = apps[0]
        .call(Method::GET, "/v1/audit?flag=f", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert!(!audit["entries"].as_array().unwrap().is_empty(), "{audit}");

    // Every key of the deployment lives on one node: one hash slot.
    let keys = cluster.keys_per_node();
    let holding: Vec<&usize> = keys.iter().filter(|n| **n > 0).collect();
    assert_eq!(holding.len(), 1, "keys per node: {keys:?}");
    assert!(*holding[0] >= 5, "keys per node: {keys:?}");
}

#[tokio::test]
async fn tls_with_a_client_certificate_reaches_redis_and_nothing_less_does() {
    let certs = Certificates::generate();
    let redis = RedisServer::tls(&certs);
    let url = redis.tls_url();
    let (ca, cert, key) = (
        certs.ca.clone(),
        certs.client_cert.clone(),
        certs.client_key.clone(),
    );
    let apps = instances(2, move |s| {
        s.store.redis_url = Some(url.clone());
        s.store.redis_prefix = "tls".into();
        s.store.redis_ca_file = Some(ca.clone());
        s.store.redis_client_cert = Some(cert.clone());
        s.store.redis_client_key = Some(key.clone());
    })
    .await;
    create_everywhere(&apps, "a first write over TLS").await;

    // Without the client certificate, or trusting another CA, nothing is written.
    let refused = |tweak: fn(&mut Settings, &Certificates)| {
        let url = redis.tls_url();
        let certs = &certs;
        async move {
            let mut settings = Settings::default();
            settings.store.redis_url = Some(url);
            tweak(&mut settings, certs);
            let app = spawn_with(move |s| {
                s.store = settings.store;
            })
            .await;
            let body = json!({"enabled": true});
            let (status, problem) = app
                .call(Method::PUT, "/v1/flags/g", Some(ADMIN), Some(body))
                .await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
        }
    };
    refused(|s, c| s.store.redis_ca_file = Some(c.ca.clone())).await;
    refused(|s, c| {
        s.store.redis_ca_file = Some(c.other_ca.clone());
        s.store.redis_client_cert = Some(c.client_cert.clone());
        s.store.redis_client_key = Some(c.client_key.clone());
    })
    .await;
    let (_, flags) = apps[0]
        .call(Method::GET, "/v1/flags", Some(ADMIN), None)
        .await;
    assert!(!flags.to_string().contains("\"g\""), "{flags}");
}

#[tokio::test]
async fn a_failover_to_a_lagging_replica_moves_no_version_backwards_and_takes_the_next_kill() {
    let mut ha = RedisHa::start(1, 3);
    let sentinels = ha.sentinel_addrs();
    let apps = instances(2, move |s| {
        s.store.redis_sentinels = sentinels.clone();
        s.store.redis_master = Some(MASTER.into());
        s.store.redis_prefix = "lag".into();
    })
    .await;
    create_everywhere(&apps, "a first write through the primary Sentinel names").await;
    ha.servers[1].wait_replicating();

    // The replica stops following (frozen, its link cut): what the primary acknowledges from
    // now on, on its word alone (MIN_REPLICAS_ACKED=0), never reaches it.
    ha.servers[1].signal("STOP");
    switchyard_testkit::redis::cli(ha.servers[0].port, &["CLIENT", "KILL", "TYPE", "replica"]);
    for i in 0..5 {
        let body = json!({"description": format!("lost {i}")});
        let (status, _) = apps[i % 2]
            .call(Method::PATCH, "/v1/flags/f", Some(ADMIN), Some(body))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    for app in &apps {
        eventually("both instances serve the last write", || async {
            crate::redis::snapshot_version(app).await >= 6
        })
        .await;
    }
    let mut seen = [0, 0];
    for (app, seen) in apps.iter().zip(seen.iter_mut()) {
        *seen = crate::redis::snapshot_version(app).await;
    }

    // The primary dies; Sentinel promotes the replica, which lacks those writes.
    let old = ha.kill_primary();
    ha.servers[1].signal("CONT");
    ha.wait_for_failover(old, Duration::from_secs(30));
    let watch_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch_until {
        for (app, seen) in apps.iter().zip(seen.iter_mut()) {
            let now = crate::redis::snapshot_version(app).await;
            assert!(
                now >= *seen,
                "{} went back from v{seen} to v{now}",
                app.base
            );
            *seen = now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Once the instances have moved the store past what they served, a kill switch
    // acknowledged now is served everywhere at once, under a version newer than any seen.
    let highest = seen.into_iter().max().unwrap();
    eventually(
        "a kill switch acknowledged on the promoted replica",
        || async { global_kill(&apps[0], true, "after the failover").await == StatusCode::OK },
    )
    .await;
    for app in &apps {
        eventually_within(
            "every instance serves the kill switch",
            Duration::from_secs(3),
            || async { reason(app, "f").await == "GLOBAL_KILL_SWITCH" },
        )
        .await;
        assert!(crate::redis::snapshot_version(app).await > highest);
        eventually("ready again", || async {
            app.call(Method::GET, "/health/ready", None, None).await.0 == StatusCode::OK
        })
        .await;
    }
    // The store is the promoted replica's: the writes it never received are gone, which is
    // what MIN_REPLICAS_ACKED=1 prevents (see the failover test above).
    let (_, flag) = apps[1]
        .call(Method::GET, "/v1/flags/f", Some(ADMIN), None)
        .await;
    assert!(
        !flag["description"]
            .as_str()
            .unwrap_or_default()
            .starts_with("lost"),
        "{flag}"
    );
}
