//! Tokens over HTTP: issued once in plain, stored hashed, enforced by role, revocable.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN, SDK, problem, spawn_app};

#[tokio::test]
async fn roles_are_enforced_on_every_area() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true})).await;
    let mut tokens = std::collections::HashMap::new();
    for role in ["viewer", "responder", "editor"] {
        let (status, issued) = app
            .call(
                Method::POST,
                "/v1/tokens",
                Some(ADMIN),
                Some(json!({"name": format!("{role}-1"), "role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(issued["token"].as_str().unwrap().starts_with("sy_"));
        tokens.insert(role, issued["token"].as_str().unwrap().to_owned());
    }
    tokens.insert("sdk", SDK.to_owned());
    tokens.insert("admin", ADMIN.to_owned());
    let rank = |role: &str| {
        ["sdk", "viewer", "responder", "editor", "admin"]
            .iter()
            .position(|r| *r == role)
            .unwrap()
    };
    // (method, path, body, lowest role admitted)
    let calls = [
        (
            Method::POST,
            "/v1/evaluate",
            Some(json!({"flag": "f"})),
            "sdk",
        ),
        (Method::GET, "/v1/snapshot", None, "sdk"),
        (
            Method::POST,
            "/ofrep/v1/evaluate/flags/f",
            Some(json!({"context": {}})),
            "sdk",
        ),
        (Method::GET, "/v1/flags", None, "viewer"),
        (Method::GET, "/v1/flags/f", None, "viewer"),
        (Method::GET, "/v1/flags/f/history", None, "viewer"),
        (Method::GET, "/v1/audit", None, "viewer"),
        (Method::GET, "/v1/export", None, "viewer"),
        (Method::GET, "/v1/kill-switch", None, "viewer"),
        (Method::GET, "/v1/fleet", None, "viewer"),
        (Method::GET, "/v1/plans", None, "viewer"),
        (
            Method::GET,
            "/v1/fleet/wait?version=1&timeout_ms=0",
            None,
            "viewer",
        ),
        (
            Method::POST,
            "/v1/flags/f/kill",
            Some(json!({"active": false})),
            "responder",
        ),
        (
            Method::PATCH,
            "/v1/flags/f",
            Some(json!({"description": "x"})),
            "editor",
        ),
        (Method::GET, "/v1/tokens", None, "admin"),
        (
            Method::POST,
            "/v1/import?dry_run=true",
            Some(json!({"format": 1})),
            "admin",
        ),
    ];
    for (method, path, body, lowest) in calls {
        for (role, token) in &tokens {
            let res = app
                .send(method.clone(), path, Some(token), body.clone())
                .await;
            if rank(role) >= rank(lowest) {
                assert!(
                    res.status().is_success(),
                    "{role} on {method} {path}: {}",
                    res.status()
                );
            } else {
                let p = problem(res, StatusCode::FORBIDDEN).await;
                assert_eq!(p["required_role"], lowest, "{method} {path}");
            }
        }
        problem(
            app.send(method.clone(), path, None, body.clone()).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
}

#[tokio::test]
async fn tokens_are_listed_without_secrets_and_revocable() {
    let app = spawn_app().await;
    let (_, issued) = app
        .call(
            Method::POST,
            "/v1/tokens",
            Some(ADMIN),
            Some(json!({"name": "ci", "role": "editor"})),
        )
        .await;
    let (token, id) = (
        issued["token"].as_str().unwrap(),
        issued["id"].as_str().unwrap(),
    );
    let res = app
        .send(
            Method::POST,
            "/v1/tokens",
            Some(ADMIN),
            Some(json!({"name": "ci", "role": "viewer"})),
        )
        .await;
    problem(res, StatusCode::CONFLICT).await;
    for bad in [
        json!({"name": "env-admin", "role": "admin"}),
        json!({"name": "a b", "role": "admin"}),
        json!({"name": "x", "role": "root"}),
    ] {
        problem(
            app.send(Method::POST, "/v1/tokens", Some(ADMIN), Some(bad))
                .await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let (_, list) = app.call(Method::GET, "/v1/tokens", Some(ADMIN), None).await;
    assert_eq!(list["tokens"][0]["name"], "ci");
    assert!(!list.to_string().contains(token) && !list.to_string().contains("hash"));
    assert_eq!(
        app.send(Method::GET, "/v1/flags", Some(token), None)
            .await
            .status(),
        StatusCode::OK
    );
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    problem(
        app.send(Method::GET, "/v1/flags", Some(token), None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        app.send(
            Method::DELETE,
            &format!("/v1/tokens/{id}"),
            Some(ADMIN),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// A connection that keeps presenting one token has it verified once, then remembered
/// (`auth::ConnectionToken`): revoking the token must still close that connection's door at
/// once, and another token on the same connection is verified as itself.
#[tokio::test]
async fn a_token_remembered_by_its_connection_is_refused_once_revoked() {
    let app = spawn_app().await;
    let (_, issued) = app
        .call(
            Method::POST,
            "/v1/tokens",
            Some(ADMIN),
            Some(json!({"name": "kept-alive", "role": "viewer"})),
        )
        .await;
    let token = issued["token"].as_str().unwrap().to_owned();
    let id = issued["id"].as_str().unwrap().to_owned();
    // One connection, kept alive, for the token's requests only.
    let conn = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let get = |bearer: String| {
        let request = conn
            .get(format!("{}/v1/flags", app.base))
            .bearer_auth(bearer);
        async move { request.send().await.unwrap().status() }
    };
    for _ in 0..3 {
        assert_eq!(get(token.clone()).await, StatusCode::OK);
    }
    // An SDK token on the same connection is who it is: a viewer route refuses it.
    assert_eq!(get(SDK.to_owned()).await, StatusCode::FORBIDDEN);
    assert_eq!(get(token.clone()).await, StatusCode::OK);
    assert_eq!(
        get("not-a-token".to_owned()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get(token.clone()).await, StatusCode::OK);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(get(token.clone()).await, StatusCode::UNAUTHORIZED);
}
