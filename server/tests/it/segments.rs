//! Segments through real sockets (docs/api.md#segments): viewers read, editors write, every
//! write versioned (a stale one is a 409) and audited; a rule that names a segment follows its
//! edits at once; one in use cannot be deleted; the backup carries them; and on Redis a
//! segment changed on one instance is served by the others.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchyard_testkit::redis::RedisServer;

use crate::helpers::{ADMIN, SDK, TestApp, problem, spawn_app};
use crate::redis::{eventually, instances};

fn beta(plans: &[&str]) -> Value {
    json!({"description": "beta testers",
           "constraints": [{"attribute": "plan", "operator": "IN", "values": plans}]})
}

async fn on_for(app: &TestApp, plan: &str) -> Value {
    let (status, answer) = evaluated(app, plan).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// The answer for a user on `plan`, whatever its status (another instance may not have the
/// flag yet).
async fn evaluated(app: &TestApp, plan: &str) -> (StatusCode, Value) {
    let body = json!({"flag": "checkout", "context": {"user_id": "u1", "plan": plan}});
    app.call(Method::POST, "/v1/evaluate", Some(SDK), Some(body))
        .await
}

fn checkout() -> Value {
    json!({"enabled": true, "rules": [{"name": "beta", "segments": ["beta-testers"]}]})
}

#[tokio::test]
async fn segments_are_versioned_audited_and_followed_by_rules() {
    let app = spawn_app().await;
    // A rule cannot name a segment that does not exist.
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/checkout",
            Some(ADMIN),
            Some(checkout()),
        )
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(answer.to_string().contains("does not exist"), "{answer}");

    let viewer = app.token("reader", "viewer").await;
    let editor = app.token("writer", "editor").await;
    let res = app
        .send(
            Method::PUT,
            "/v1/segments/beta-testers",
            Some(&viewer),
            Some(beta(&["beta"])),
        )
        .await;
    problem(res, StatusCode::FORBIDDEN).await;
    let (status, created) = app
        .call(
            Method::PUT,
            "/v1/segments/beta-testers",
            Some(&editor),
            Some(beta(&["beta"])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["version"].as_u64(), &created["updated_by"]),
        (Some(1), &json!("writer"))
    );
    // Bad input names the field and changes nothing.
    for (body, says) in [
        (
            json!({"expected_version": 1, "constraints": [{"attribute": "plan", "operator": "SOUNDS_LIKE", "values": ["x"]}]}),
            "unknown operator",
        ),
        (
            json!({"expected_version": 1, "constraints": [], "colour": "red"}),
            "colour",
        ),
    ] {
        let res = app
            .send(
                Method::PUT,
                "/v1/segments/beta-testers",
                Some(&editor),
                Some(body),
            )
            .await;
        let answer = problem(res, StatusCode::BAD_REQUEST).await;
        assert!(answer.to_string().contains(says), "{answer}");
    }
    let (_, one) = app
        .call(
            Method::GET,
            "/v1/segments/beta-testers",
            Some(&editor),
            None,
        )
        .await;
    assert_eq!(one["version"], 1, "nothing changed");
    // Replacing needs the version: none is a 409, a stale one too.
    let res = app
        .send(
            Method::PUT,
            "/v1/segments/beta-testers",
            Some(&editor),
            Some(beta(&["beta", "staff"])),
        )
        .await;
    problem(res, StatusCode::CONFLICT).await;

    app.create("checkout", checkout()).await;
    assert_eq!(on_for(&app, "beta").await["rule"], "beta");
    assert_eq!(on_for(&app, "staff").await["enabled"], false);
    let mut wider = beta(&["beta", "staff"]);
    wider["expected_version"] = json!(1);
    let (status, edited) = app
        .call(
            Method::PUT,
            "/v1/segments/beta-testers",
            Some(&editor),
            Some(wider.clone()),
        )
        .await;
    assert_eq!(
        (status, edited["version"].as_u64()),
        (StatusCode::OK, Some(2)),
        "{edited}"
    );
    let res = app
        .send(
            Method::PUT,
            "/v1/segments/beta-testers",
            Some(&editor),
            Some(wider),
        )
        .await;
    problem(res, StatusCode::CONFLICT).await;
    // The rule follows the segment's edit at once.
    assert_eq!(on_for(&app, "staff").await["rule"], "beta");

    let (status, list) = app
        .call(Method::GET, "/v1/segments", Some(&viewer), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["segments"][0]["key"], "beta-testers");
    let (status, one) = app
        .call(
            Method::GET,
            "/v1/segments/beta-testers",
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!((status, one["version"].as_u64()), (StatusCode::OK, Some(2)));
    // The snapshot SDKs read carries it.
    let (_, snapshot) = app.call(Method::GET, "/v1/snapshot", Some(SDK), None).await;
    assert_eq!(snapshot["segments"][0]["key"], "beta-testers", "{snapshot}");

    // In use: a 409 naming the flag. Unused: deleted, and audited.
    let res = app
        .send(
            Method::DELETE,
            "/v1/segments/beta-testers",
            Some(&editor),
            None,
        )
        .await;
    let answer = problem(res, StatusCode::CONFLICT).await;
    assert!(
        answer["detail"].as_str().unwrap().contains("checkout"),
        "{answer}"
    );
    app.call(
        Method::PATCH,
        "/v1/flags/checkout",
        Some(ADMIN),
        Some(json!({"rules": []})),
    )
    .await;
    let (status, _) = app
        .call(
            Method::DELETE,
            "/v1/segments/beta-testers",
            Some(&editor),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(
            Method::GET,
            "/v1/segments/beta-testers",
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, audit) = app
        .call(Method::GET, "/v1/audit?actor=writer", Some(ADMIN), None)
        .await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["segment.delete", "segment.update", "segment.create"],
        "{audit}"
    );
}

#[tokio::test]
async fn the_backup_carries_segments() {
    let source = spawn_app().await;
    source
        .call(
            Method::PUT,
            "/v1/segments/beta-testers",
            Some(ADMIN),
            Some(beta(&["beta"])),
        )
        .await;
    source.create("checkout", checkout()).await;
    let (_, backup) = source
        .call(Method::GET, "/v1/export", Some(ADMIN), None)
        .await;
    assert_eq!(backup["segments"][0]["key"], "beta-testers");
    let target = spawn_app().await;
    let (status, plan) = target
        .call(
            Method::POST,
            "/v1/import",
            Some(ADMIN),
            Some(backup.clone()),
        )
        .await;
    assert_eq!(
        (status, &plan["segments_created"]),
        (StatusCode::OK, &json!(["beta-testers"])),
        "{plan}"
    );
    assert_eq!(on_for(&target, "beta").await["rule"], "beta");
    // A backup whose rule names a segment it does not carry is refused whole.
    let mut orphan = backup;
    orphan["segments"] = json!([]);
    let fresh = spawn_app().await;
    let res = fresh
        .send(Method::POST, "/v1/import", Some(ADMIN), Some(orphan))
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(answer.to_string().contains("does not exist"), "{answer}");
    let (_, flags) = fresh
        .call(Method::GET, "/v1/flags", Some(ADMIN), None)
        .await;
    assert!(flags["flags"].as_array().unwrap().is_empty());
    // The number of segments is bounded: one over the limit is refused, and nothing written.
    let many: Vec<Value> = (0..=switchyard_core::segment::MAX_SEGMENTS)
        .map(|i| json!({"key": format!("s{i}")}))
        .collect();
    let body = json!({"format": 2, "segments": many});
    let res = fresh
        .send(Method::POST, "/v1/import", Some(ADMIN), Some(body))
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(
        answer.to_string().contains("the limit is 10000"),
        "{answer}"
    );
    let (_, list) = fresh
        .call(Method::GET, "/v1/segments", Some(ADMIN), None)
        .await;
    assert!(list["segments"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_segment_changed_on_one_instance_is_served_by_all() {
    let redis = RedisServer::start();
    let apps = instances(&redis, "segs", 2).await;
    apps[0]
        .call(
            Method::PUT,
            "/v1/segments/beta-testers",
            Some(ADMIN),
            Some(beta(&["beta"])),
        )
        .await;
    apps[0].create("checkout", checkout()).await;
    eventually("the rule on the other instance", || async {
        evaluated(&apps[1], "beta").await.1["rule"] == "beta"
    })
    .await;
    let mut wider = beta(&["beta", "staff"]);
    wider["expected_version"] = json!(1);
    let (status, _) = apps[1]
        .call(
            Method::PUT,
            "/v1/segments/beta-testers",
            Some(ADMIN),
            Some(wider),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    eventually("the segment's edit on the first instance", || async {
        evaluated(&apps[0], "staff").await.1["rule"] == "beta"
    })
    .await;
}
