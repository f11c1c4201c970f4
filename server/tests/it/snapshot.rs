//! The served snapshot after a write: made in place from the one before and the commit's
//! changes, on the instance that wrote and (on Redis) on the others, and identical to what a
//! fresh load of the store gives.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN, SDK, TestApp, spawn_with};
use crate::redis::{eventually, instances_reconciling, snapshot_version};
use switchyard_testkit::redis::RedisServer;

/// `switchyard_snapshot_builds_total{how}`.
async fn builds(app: &TestApp, how: &str) -> u64 {
    let line = format!("switchyard_snapshot_builds_total{{how=\"{how}\"}} ");
    let metrics = app.metrics().await;
    let value = metrics
        .lines()
        .find_map(|l| l.strip_prefix(line.as_str()))
        .unwrap_or_else(|| panic!("no {line} in the metrics"));
    value.trim().parse().expect("a count")
}

/// What the instance serves, beside what the store holds (`/v1/export` loads it afresh):
/// the flags and the global kill switch of each.
async fn served_and_stored(app: &TestApp) -> (Value, Value) {
    let (status, served) = app.call(Method::GET, "/v1/snapshot", Some(SDK), None).await;
    assert_eq!(status, StatusCode::OK, "{served}");
    let (status, stored) = app.call(Method::GET, "/v1/export", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let parts = |v: &Value| json!([v["global_kill_switch"], v["flags"]]);
    (parts(&served), parts(&stored))
}

/// Makes each write on `writer`; after each, once `reader` serves the writer's version,
/// checks that what `reader` serves equals a fresh load of the store.
async fn write_and_check(writer: &TestApp, reader: &TestApp, writes: Vec<(Method, &str, Value)>) {
    for (method, path, body) in writes {
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = writer.call(method.clone(), path, Some(ADMIN), body).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        eventually("the reader serves the write", || async {
            snapshot_version(reader).await == snapshot_version(writer).await
        })
        .await;
        let (served, stored) = served_and_stored(reader).await;
        assert_eq!(served, stored, "after {method} {path}");
    }
}

/// One write of every kind: PATCH, PUT (create), a flag's kill switch on and off, the global
/// kill switch on and off, a delete, a merging import and a replacing one (which leaves
/// flags `b` and `c`).
fn every_kind_of_write() -> Vec<(Method, &'static str, Value)> {
    let backup = json!({"format": 1, "flags": [
        {"key": "b", "enabled": true, "rollout_percentage": 10},
        {"key": "c", "enabled": false, "markets": ["fr"], "whitelist": ["u1", "u2"]},
    ]});
    vec![
        (
            Method::PATCH,
            "/v1/flags/b",
            json!({"rollout_percentage": 75}),
        ),
        (Method::PUT, "/v1/flags/a", json!({"markets": ["DE"]})),
        (Method::PUT, "/v1/flags/z", json!({"whitelist": ["x"]})),
        (
            Method::POST,
            "/v1/flags/d/kill",
            json!({"active": true, "reason": "r"}),
        ),
        (
            Method::POST,
            "/v1/kill-switch",
            json!({"active": true, "reason": "r"}),
        ),
        (Method::DELETE, "/v1/flags/f", Value::Null),
        (Method::POST, "/v1/kill-switch", json!({"active": false})),
        (Method::POST, "/v1/import?mode=merge", backup.clone()),
        (Method::POST, "/v1/flags/d/kill", json!({"active": false})),
        (Method::POST, "/v1/import", backup),
    ]
}

#[tokio::test]
async fn every_kind_of_write_is_served_in_place_exactly_as_a_fresh_load_serves_it() {
    // No periodic reconcile: on a loaded machine one could load a commit before the writer
    // applies it (the writer then rightly leaves it), and this test counts what writes do.
    let app = spawn_with(|s| s.server.reconcile_interval_secs = 3600).await;
    for key in ["b", "d", "f"] {
        app.create(key, json!({"enabled": true, "rollout_percentage": 50}))
            .await;
    }
    let full_before = builds(&app, "full").await;
    let in_place_before = builds(&app, "in_place").await;
    let writes = every_kind_of_write();
    let count = writes.len() as u64;
    write_and_check(&app, &app, writes).await;
    assert_eq!(builds(&app, "in_place").await - in_place_before, count);
    assert_eq!(builds(&app, "full").await, full_before);
    // A replacing import left exactly the backup's flags.
    let (_, served) = app.call(Method::GET, "/v1/snapshot", Some(SDK), None).await;
    let keys: Vec<&str> = served["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["b", "c"]);

    // A token changes no flag but is loaded with them: that commit is served by a full load.
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/tokens",
            Some(ADMIN),
            Some(json!({"name": "v", "role": "viewer"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(builds(&app, "full").await, full_before + 1);
}

#[tokio::test]
async fn another_instance_reads_only_what_a_commit_changed_and_serves_it_in_place() {
    let redis = RedisServer::start();
    // A reconcile interval of an hour: every change below reaches `b` through pub/sub.
    let apps = instances_reconciling(&redis, "told", 2, 3600).await;
    let (a, b) = (&apps[0], &apps[1]);
    for key in ["b", "d", "f"] {
        a.create(key, json!({"enabled": true, "rollout_percentage": 50}))
            .await;
    }
    let caught_up = || async { snapshot_version(b).await == snapshot_version(a).await };
    eventually("b serves a's flags", caught_up).await;
    let in_place_before = builds(b, "in_place").await;
    let writes = every_kind_of_write();
    let count = writes.len() as u64;
    write_and_check(a, b, writes).await;
    assert_eq!(builds(b, "in_place").await - in_place_before, count);
}
