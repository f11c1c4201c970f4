//! `/v1/stream` under pressure (docs/flags.md#limits-and-safety-rules): a cap of open streams per token with a clear 429,
//! and a revoked token's streams closed on every instance; what an event carries.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;
use switchyard_testkit::redis::RedisServer;

use crate::helpers::{ADMIN, SDK, TestApp, problem, spawn_with};
use crate::redis::{eventually_within, instances};

/// Opens a stream with `token` and reads its first event; returns the response.
async fn open(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/v1/stream", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Reads `res` until it ends, or gives up after `limit`: true when it ended.
async fn ends_within(res: reqwest::Response, limit: Duration) -> bool {
    let mut events = res.bytes_stream();
    tokio::time::timeout(limit, async {
        while let Some(Ok(_)) = events.next().await {}
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn a_token_holds_at_most_its_cap_of_streams() {
    let app = spawn_with(|s| {
        s.limits.streams_per_token = 2;
        // A client that went away is noticed at the next write: the heartbeat.
        s.server.stream_heartbeat_secs = 1;
    })
    .await;
    let first = open(&app, SDK).await;
    let second = open(&app, SDK).await;
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let body = problem(open(&app, SDK).await, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("STREAMS_PER_TOKEN"),
        "{body}"
    );
    assert!(
        app.metrics()
            .await
            .contains("switchyard_stream_rejections_total 1")
    );
    // Another token is counted apart.
    let (_, issued) = app
        .call(
            Method::POST,
            "/v1/tokens",
            Some(ADMIN),
            Some(json!({"name": "other-app", "role": "sdk"})),
        )
        .await;
    let other = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(open(&app, &other).await.status(), StatusCode::OK);
    // A closed stream gives its place back.
    drop(first);
    eventually_within(
        "a place freed by a closed stream",
        Duration::from_secs(5),
        || async {
            let res = open(&app, SDK).await;
            res.status() == StatusCode::OK
        },
    )
    .await;
}

#[tokio::test]
async fn a_revoked_token_loses_its_streams_and_requests_on_every_instance() {
    let redis = RedisServer::start();
    let apps = instances(&redis, "revoke", 2).await;
    let (_, issued) = apps[0]
        .call(
            Method::POST,
            "/v1/tokens",
            Some(ADMIN),
            Some(json!({"name": "mobile", "role": "sdk"})),
        )
        .await;
    let token = issued["token"].as_str().unwrap().to_owned();
    let id = issued["id"].as_str().unwrap().to_owned();
    eventually_within(
        "the token on the other instance",
        Duration::from_secs(5),
        || async {
            apps[1]
                .send(Method::GET, "/v1/snapshot", Some(&token), None)
                .await
                .status()
                == StatusCode::OK
        },
    )
    .await;
    let on_a = open(&apps[0], &token).await;
    let on_b = open(&apps[1], &token).await;
    let kept = open(&apps[1], SDK).await;
    assert_eq!(
        (on_a.status(), on_b.status()),
        (StatusCode::OK, StatusCode::OK)
    );

    let res = apps[0]
        .send(
            Method::DELETE,
            &format!("/v1/tokens/{id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // docs/flags.md#limits-and-safety-rules: closed within a second, on the instance that revoked it and on the other.
    let (a, b) = tokio::join!(
        ends_within(on_a, Duration::from_secs(1)),
        ends_within(on_b, Duration::from_secs(1))
    );
    assert!(a && b, "streams still open after the revoke: A {a}, B {b}");
    assert_eq!(
        apps[1]
            .send(Method::GET, "/v1/snapshot", Some(&token), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Another token's stream is untouched.
    assert!(!ends_within(kept, Duration::from_millis(300)).await);
    assert!(
        apps[1]
            .metrics()
            .await
            .contains("switchyard_stream_revocations_total 1")
    );
}

/// The data of the next event on `events` (heartbeats skipped), within 5 s.
async fn next_data(
    events: &mut (impl futures_util::Stream<Item = reqwest::Result<actix_web::web::Bytes>> + Unpin),
    pending: &mut String,
) -> serde_json::Value {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            while let Some(end) = pending.find("\n\n") {
                let event: String = pending.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    return serde_json::from_str(data).expect("event data is JSON");
                }
            }
            let chunk = events.next().await.expect("the stream is open").unwrap();
            pending.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    })
    .await
    .expect("an event within 5 s")
}

#[tokio::test]
async fn an_event_carries_a_change_made_here_and_only_announces_a_reload() {
    let app = spawn_with(|_| {}).await;
    app.create("f", json!({"enabled": true})).await;
    let mut events = open(&app, SDK).await.bytes_stream();
    let mut pending = String::new();
    let first = next_data(&mut events, &mut pending).await;
    let v0 = first["version"].as_u64().unwrap();
    assert_eq!(first, json!({"version": v0}));

    app.call(
        Method::PATCH,
        "/v1/flags/f",
        Some(ADMIN),
        Some(json!({"rollout_percentage": 30})),
    )
    .await;
    let change = next_data(&mut events, &mut pending).await;
    assert_eq!(change["version"], v0 + 1);
    assert_eq!(change["base"], v0);
    assert_eq!(change["changes"]["flags"][0]["key"], "f");
    assert_eq!(change["changes"]["flags"][0]["rollout_percentage"], 30);
    assert_eq!(change["changes"]["deleted"], json!([]));

    // A token changes no flag: the instance reloads, and the event names the version only.
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/tokens",
            Some(ADMIN),
            Some(json!({"name": "t", "role": "viewer"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        next_data(&mut events, &mut pending).await,
        json!({"version": v0 + 2})
    );

    let (status, _) = app
        .call(
            Method::POST,
            "/v1/kill-switch",
            Some(ADMIN),
            Some(json!({"active": true, "reason": "r"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let change = next_data(&mut events, &mut pending).await;
    assert_eq!(change["base"], v0 + 2);
    assert_eq!(change["changes"]["global_kill_switch"]["active"], true);
    assert_eq!(change["changes"]["flags"], json!([]));
}
