//! Export and import over HTTP: a round trip, a dry run, validation of the whole backup
//! before anything is written, and the import size limit.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN, problem, spawn_app, spawn_with};

#[tokio::test]
async fn export_then_import_restores() {
    let source = spawn_app().await;
    source
        .create(
            "a",
            json!({"enabled": true, "rollout_percentage": 25, "markets": ["FR"]}),
        )
        .await;
    source.create("b", json!({"whitelist": ["x"]})).await;
    source
        .call(
            Method::POST,
            "/v1/kill-switch",
            Some(ADMIN),
            Some(json!({"active": true, "reason": "r"})),
        )
        .await;
    let (status, backup) = source
        .call(Method::GET, "/v1/export", Some(ADMIN), None)
        .await;
    assert_eq!(
        (status, backup["format"].as_u64()),
        (StatusCode::OK, Some(2))
    );

    let target = spawn_app().await;
    target.create("old", json!({})).await;
    target.create("a", json!({"enabled": false})).await;
    let (status, plan) = target
        .call(
            Method::POST,
            "/v1/import?dry_run=true",
            Some(ADMIN),
            Some(backup.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        plan,
        json!({"created": ["b"], "updated": ["a"], "deleted": ["old"], "unchanged": 0, "global_kill_switch_changed": true, "dry_run": true})
    );
    let (_, flags) = target
        .call(Method::GET, "/v1/flags", Some(ADMIN), None)
        .await;
    assert_eq!(
        flags["flags"].as_array().unwrap().len(),
        2,
        "a dry run writes nothing"
    );

    let (_, plan) = target
        .call(
            Method::POST,
            "/v1/import",
            Some(ADMIN),
            Some(backup.clone()),
        )
        .await;
    assert_eq!(plan["dry_run"], false);
    let (_, restored) = target
        .call(Method::GET, "/v1/export", Some(ADMIN), None)
        .await;
    let strip = |v: &serde_json::Value| {
        v["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["key"].clone(),
                    f["rollout_percentage"].clone(),
                    f["markets"].clone(),
                    f["whitelist"].clone(),
                    f["enabled"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&restored), strip(&backup));
    assert_eq!(restored["global_kill_switch"]["active"], true);
    let (_, plan) = target
        .call(
            Method::POST,
            "/v1/import?mode=merge",
            Some(ADMIN),
            Some(backup),
        )
        .await;
    assert_eq!(plan["unchanged"], 2);
}

#[tokio::test]
async fn a_bad_backup_changes_nothing() {
    let app = spawn_app().await;
    app.create("keep", json!({"enabled": true})).await;
    let bad = json!({"format": 1, "flags": [{"key": "ok"}, {"key": "ok"}, {"key": "x", "rollout_percentage": 101}]});
    let res = app
        .send(Method::POST, "/v1/import", Some(ADMIN), Some(bad))
        .await;
    let body = problem(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["problems"].as_array().unwrap().len(), 2, "{body}");
    let res = app
        .send(
            Method::POST,
            "/v1/import",
            Some(ADMIN),
            Some(json!({"format": 3, "flags": []})),
        )
        .await;
    problem(res, StatusCode::BAD_REQUEST).await;
    let res = app
        .send(
            Method::POST,
            "/v1/import?mode=everything",
            Some(ADMIN),
            Some(json!({"format": 1})),
        )
        .await;
    problem(res, StatusCode::BAD_REQUEST).await;
    let (_, flags) = app.call(Method::GET, "/v1/flags", Some(ADMIN), None).await;
    assert_eq!(flags["flags"][0]["key"], "keep");
    assert_eq!(flags["flags"].as_array().unwrap().len(), 1);
    let (_, page) = app.call(Method::GET, "/v1/audit", Some(ADMIN), None).await;
    assert_eq!(
        page["entries"].as_array().unwrap().len(),
        1,
        "nothing audited either"
    );
}

#[tokio::test]
async fn import_has_its_own_size_limit() {
    let app = spawn_with(|s| s.server.import_limit_bytes = 2048).await;
    let flags: Vec<_> = (0..300)
        .map(|i| json!({"key": format!("flag-{i}")}))
        .collect();
    let res = app
        .send(
            Method::POST,
            "/v1/import",
            Some(ADMIN),
            Some(json!({"format": 1, "flags": flags})),
        )
        .await;
    problem(res, StatusCode::PAYLOAD_TOO_LARGE).await;
}
