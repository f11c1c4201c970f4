//! Evaluation over HTTP: the README's walk (create, 0 → 5 → 25 → 100 %, whitelist, markets),
//! bulk evaluation and the snapshot, with their ETags.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN, SDK, problem, read, spawn_app};

#[tokio::test]
async fn a_rollout_walk_is_served_at_once() {
    let app = spawn_app().await;
    app.create(
        "new-onboarding",
        json!({"enabled": true, "rollout_percentage": 0}),
    )
    .await;
    let users: Vec<String> = (0..200).map(|i| format!("user-{i}")).collect();
    let mut on_before = vec![false; users.len()];
    for pct in [0, 5, 25, 50, 100] {
        let (status, flag) = app
            .call(
                Method::PATCH,
                "/v1/flags/new-onboarding",
                Some(ADMIN),
                Some(json!({"rollout_percentage": pct})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{flag}");
        let mut on = 0;
        for (i, user) in users.iter().enumerate() {
            let (enabled, reason) = app.eval("new-onboarding", Some(user), None).await;
            assert_eq!(reason, "ROLLOUT");
            assert!(
                !on_before[i] || enabled,
                "{user} turned off when raising to {pct} %"
            );
            on_before[i] = enabled;
            on += usize::from(enabled);
        }
        match pct {
            0 => assert_eq!(on, 0),
            100 => assert_eq!(on, users.len()),
            _ => assert!(on > 0 && on < users.len(), "{on} of 200 on at {pct} %"),
        }
    }
}

#[tokio::test]
async fn whitelist_and_markets() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true, "rollout_percentage": 100, "markets": ["fr", "US"], "whitelist": ["vip"]})).await;
    assert_eq!(
        app.eval("f", Some("someone"), Some("FR")).await,
        (true, "ROLLOUT".into())
    );
    assert_eq!(
        app.eval("f", Some("someone"), Some("us")).await,
        (true, "ROLLOUT".into())
    );
    assert_eq!(
        app.eval("f", Some("someone"), Some("DE")).await,
        (false, "MARKET_EXCLUDED".into())
    );
    assert_eq!(
        app.eval("f", Some("someone"), None).await,
        (false, "MARKET_EXCLUDED".into())
    );
    assert_eq!(
        app.eval("f", Some("vip"), Some("DE")).await,
        (true, "WHITELIST".into())
    );
    let (status, flag) = app
        .call(
            Method::PATCH,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"whitelist_add": ["vip2"], "whitelist_remove": ["vip"], "markets": []})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(flag["whitelist"], json!(["vip2"]));
    assert_eq!(
        app.eval("f", Some("someone"), Some("DE")).await,
        (true, "ROLLOUT".into())
    );
    let (_, flag) = app
        .call(
            Method::PATCH,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(flag["enabled"], false);
    assert_eq!(
        app.eval("f", Some("vip2"), None).await,
        (false, "DISABLED".into())
    );
}

#[tokio::test]
async fn evaluate_errors() {
    let app = spawn_app().await;
    let body = json!({"flag": "missing", "context": {"user_id": "u"}});
    let res = app
        .send(Method::POST, "/v1/evaluate", Some(SDK), Some(body.clone()))
        .await;
    let p = problem(res, StatusCode::NOT_FOUND).await;
    assert_eq!(
        (p["reason"].as_str(), p["enabled"].as_bool()),
        (Some("FLAG_NOT_FOUND"), Some(false))
    );
    let res = app
        .send(Method::POST, "/v1/evaluate", None, Some(body.clone()))
        .await;
    assert!(res.headers().contains_key("www-authenticate"));
    problem(res, StatusCode::UNAUTHORIZED).await;
    let res = app
        .send(
            Method::POST,
            "/v1/evaluate",
            Some("not-a-token"),
            Some(body),
        )
        .await;
    problem(res, StatusCode::UNAUTHORIZED).await;
    for bad in [
        json!({"context": {}}),
        json!({"flag": 3}),
        json!({"flag": "f", "context": {"user_id": 42}}),
    ] {
        let res = app
            .send(Method::POST, "/v1/evaluate", Some(SDK), Some(bad))
            .await;
        problem(res, StatusCode::BAD_REQUEST).await;
    }
    let res = app
        .client
        .post(format!("{}/v1/evaluate", app.base))
        .bearer_auth(SDK)
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;
    // JSON is UTF-8: a body that is not (a Latin-1 user id) is a 400 that says so.
    let res = app
        .client
        .post(format!("{}/v1/evaluate", app.base))
        .bearer_auth(SDK)
        .body(b"{\"flag\":\"f\",\"context\":{\"user_id\":\"Jos\xe9\"}}".to_vec())
        .send()
        .await
        .unwrap();
    let p = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(p["detail"].as_str().unwrap().contains("not UTF-8"), "{p}");
}

#[tokio::test]
async fn bulk_evaluation_with_etag() {
    let app = spawn_app().await;
    app.create("a", json!({"enabled": true, "rollout_percentage": 100}))
        .await;
    app.create("b", json!({"enabled": false})).await;
    let body = json!({"context": {"user_id": "u1"}});
    let res = app
        .send(
            Method::POST,
            "/v1/evaluate/bulk",
            Some(SDK),
            Some(body.clone()),
        )
        .await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let (status, answer) = read(res).await;
    assert_eq!(status, StatusCode::OK);
    let reasons: Vec<(&str, &str)> = answer["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["flag"].as_str().unwrap(), f["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(reasons, [("a", "ROLLOUT"), ("b", "DISABLED")]);

    let conditional = |body: serde_json::Value, etag: String| {
        app.client
            .post(format!("{}/v1/evaluate/bulk", app.base))
            .bearer_auth(SDK)
            .header("If-None-Match", etag)
            .json(&body)
            .send()
    };
    assert_eq!(
        conditional(body.clone(), etag.clone())
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_MODIFIED
    );
    // Another context, or a change, is another ETag.
    let other = json!({"context": {"user_id": "u2"}});
    assert_eq!(
        conditional(other, etag.clone()).await.unwrap().status(),
        StatusCode::OK
    );
    app.call(
        Method::PATCH,
        "/v1/flags/b",
        Some(ADMIN),
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(
        conditional(body, etag).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn snapshot_with_etag_follows_changes() {
    let app = spawn_app().await;
    app.create("a", json!({"enabled": true})).await;
    let res = app.send(Method::GET, "/v1/snapshot", Some(SDK), None).await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let (_, snap) = read(res).await;
    assert_eq!(snap["flags"][0]["key"], "a");
    let version = snap["version"].as_u64().unwrap();
    let again = app
        .client
        .get(format!("{}/v1/snapshot", app.base))
        .bearer_auth(SDK)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    app.call(
        Method::POST,
        "/v1/kill-switch",
        Some(ADMIN),
        Some(json!({"active": true, "reason": "drill"})),
    )
    .await;
    let after = app
        .client
        .get(format!("{}/v1/snapshot", app.base))
        .bearer_auth(SDK)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    let (status, snap) = read(after).await;
    assert_eq!(status, StatusCode::OK);
    assert!(snap["version"].as_u64().unwrap() > version);
    assert_eq!(snap["global_kill_switch"]["active"], true);
}
