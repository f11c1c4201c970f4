//! The audit trail over HTTP: every change recorded with actor, before, after and reason;
//! filters and paging.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN, SDK, problem, spawn_app};

#[tokio::test]
async fn every_change_is_audited_and_queryable() {
    let app = spawn_app().await;
    app.create("a", json!({"enabled": true, "reason": "launch"}))
        .await;
    app.create("b", json!({})).await;
    app.call(
        Method::PATCH,
        "/v1/flags/a",
        Some(ADMIN),
        Some(json!({"rollout_percentage": 5, "reason": "stage 1"})),
    )
    .await;
    app.call(
        Method::POST,
        "/v1/flags/a/kill",
        Some(ADMIN),
        Some(json!({"active": true, "reason": "bad"})),
    )
    .await;
    app.call(
        Method::POST,
        "/v1/kill-switch",
        Some(ADMIN),
        Some(json!({"active": true, "reason": "drill"})),
    )
    .await;
    let (_, token) = app
        .call(
            Method::POST,
            "/v1/tokens",
            Some(ADMIN),
            Some(json!({"name": "viewer1", "role": "viewer"})),
        )
        .await;
    let viewer = token["token"].as_str().unwrap();

    let (status, page) = app.call(Method::GET, "/v1/audit", Some(viewer), None).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "token.create",
            "kill_switch.activate",
            "flag.kill",
            "flag.update",
            "flag.create",
            "flag.create"
        ]
    );
    // The token's hash is never in the audit trail.
    assert!(!page.to_string().contains("hash"));

    let (_, page) = app
        .call(Method::GET, "/v1/audit?flag=a", Some(viewer), None)
        .await;
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let update = &entries[1];
    assert_eq!(
        (update["actor"].as_str(), update["reason"].as_str()),
        (Some("env-admin"), Some("stage 1"))
    );
    assert_eq!(
        (
            update["before"]["rollout_percentage"].as_u64(),
            update["after"]["rollout_percentage"].as_u64()
        ),
        (Some(0), Some(5))
    );

    // Paging: two at a time, following next_before.
    let mut seen = Vec::new();
    let mut path = "/v1/audit?limit=2".to_owned();
    loop {
        let (_, page) = app.call(Method::GET, &path, Some(viewer), None).await;
        seen.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_u64().unwrap()),
        );
        let Some(next) = page["next_before"].as_u64() else {
            break;
        };
        path = format!("/v1/audit?limit=2&before={next}");
    }
    assert_eq!(seen, [6, 5, 4, 3, 2, 1]);

    let (_, page) = app
        .call(Method::GET, "/v1/audit?actor=nobody", Some(viewer), None)
        .await;
    assert_eq!(page["entries"], json!([]));
    let (_, page) = app
        .call(
            Method::GET,
            "/v1/audit?since=2999-01-01T00:00:00Z",
            Some(viewer),
            None,
        )
        .await;
    assert_eq!(page["entries"], json!([]));
    for bad in [
        "/v1/audit?since=yesterday",
        "/v1/audit?limit=0",
        "/v1/audit?limit=abc",
        "/v1/audit?bogus=1",
    ] {
        problem(
            app.send(Method::GET, bad, Some(viewer), None).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    problem(
        app.send(Method::GET, "/v1/audit", Some(SDK), None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
}
