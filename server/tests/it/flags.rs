//! Flag administration over HTTP: versions and 409s, validation, deletes, history, rollback.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN, SDK, problem, read, spawn_app};

#[tokio::test]
async fn create_read_replace_with_versions() {
    let app = spawn_app().await;
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/checkout",
            Some(ADMIN),
            Some(json!({"enabled": true, "description": "d"})),
        )
        .await;
    assert_eq!(res.headers()["location"], "/v1/flags/checkout");
    assert_eq!(res.headers()["etag"], "\"1\"");
    let (status, flag) = read(res).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (flag["version"].as_u64(), flag["updated_by"].as_str()),
        (Some(1), Some("env-admin"))
    );

    // Creating it again is a conflict, and says the current version.
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/checkout",
            Some(ADMIN),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(
        problem(res, StatusCode::CONFLICT).await["current_version"],
        1
    );

    // Replace with If-Match, then a stale If-Match changes nothing.
    let replace = |version: &str, body: serde_json::Value| {
        app.client
            .put(format!("{}/v1/flags/checkout", app.base))
            .bearer_auth(ADMIN)
            .header("If-Match", version.to_owned())
            .json(&body)
            .send()
    };
    let (status, flag) = read(
        replace("\"1\"", json!({"enabled": true, "rollout_percentage": 10}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, flag["version"].as_u64()),
        (StatusCode::OK, Some(2))
    );
    let res = replace("\"1\"", json!({"enabled": false})).await.unwrap();
    assert_eq!(
        problem(res, StatusCode::CONFLICT).await["current_version"],
        2
    );
    // A flag read with GET can be sent back as it is: its version is the expected one.
    let (_, mut read_back) = app
        .call(Method::GET, "/v1/flags/checkout", Some(ADMIN), None)
        .await;
    read_back["rollout_percentage"] = json!(30);
    let (status, flag) = app
        .call(
            Method::PUT,
            "/v1/flags/checkout",
            Some(ADMIN),
            Some(read_back),
        )
        .await;
    assert_eq!(
        (
            status,
            flag["version"].as_u64(),
            flag["rollout_percentage"].as_u64()
        ),
        (StatusCode::OK, Some(3), Some(30))
    );

    // GET with If-None-Match → 304.
    let res = app
        .client
        .get(format!("{}/v1/flags/checkout", app.base))
        .bearer_auth(ADMIN)
        .header("If-None-Match", "\"3\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let (_, list) = app.call(Method::GET, "/v1/flags", Some(ADMIN), None).await;
    assert_eq!(list["flags"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn patch_is_atomic_conditional_and_validated() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true, "rollout_percentage": 5}))
        .await;
    let (status, flag) = app
        .call(
            Method::PATCH,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"rollout_percentage": 25, "expected_version": 1})),
        )
        .await;
    assert_eq!(
        (status, flag["version"].as_u64()),
        (StatusCode::OK, Some(2))
    );
    let res = app
        .send(
            Method::PATCH,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"rollout_percentage": 50, "expected_version": 1})),
        )
        .await;
    assert_eq!(
        problem(res, StatusCode::CONFLICT).await["current_version"],
        2
    );

    // Every problem at once, and nothing changes.
    let bad =
        json!({"rollout_percentage": 150, "markets": ["F", "toolongmarket"], "whitelist": [""]});
    let res = app
        .send(Method::PATCH, "/v1/flags/f", Some(ADMIN), Some(bad))
        .await;
    let body = problem(res, StatusCode::BAD_REQUEST).await;
    let fields: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "rollout_percentage",
            "markets[0]",
            "markets[1]",
            "whitelist"
        ]
    );
    let (_, flag) = app
        .call(Method::GET, "/v1/flags/f", Some(ADMIN), None)
        .await;
    assert_eq!(
        (
            flag["version"].as_u64(),
            flag["rollout_percentage"].as_u64()
        ),
        (Some(2), Some(25))
    );

    for (body, why) in [
        (json!({"rolout_percentage": 5}), "unknown field"),
        (json!({}), "nothing to change"),
        (json!({"rollout_percentage": -1}), "negative"),
    ] {
        let res = app
            .send(Method::PATCH, "/v1/flags/f", Some(ADMIN), Some(body))
            .await;
        problem(res, StatusCode::BAD_REQUEST).await;
        let _ = why;
    }
    let res = app
        .send(
            Method::PATCH,
            "/v1/flags/nope",
            Some(ADMIN),
            Some(json!({"enabled": true})),
        )
        .await;
    problem(res, StatusCode::NOT_FOUND).await;
    // PUT names the fields it does not know, and creates nothing.
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/typo",
            Some(ADMIN),
            Some(json!({"enabled": true, "rolout_percentage": 5})),
        )
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("rolout_percentage"),
        "{answer}"
    );
    let res = app
        .send(Method::GET, "/v1/flags/typo", Some(ADMIN), None)
        .await;
    problem(res, StatusCode::NOT_FOUND).await;
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/bad%20key",
            Some(ADMIN),
            Some(json!({})),
        )
        .await;
    problem(res, StatusCode::BAD_REQUEST).await;
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/a",
            Some(ADMIN),
            Some(json!({"key": "b"})),
        )
        .await;
    problem(res, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn concurrent_unconditional_patches_lose_nothing() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true})).await;
    let adds = (0..8).map(|i| {
        let body = json!({"whitelist_add": [format!("user-{i}")]});
        app.call(Method::PATCH, "/v1/flags/f", Some(ADMIN), Some(body))
    });
    for (status, body) in futures_util::future::join_all(adds).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, flag) = app
        .call(Method::GET, "/v1/flags/f", Some(ADMIN), None)
        .await;
    assert_eq!(flag["whitelist"].as_array().unwrap().len(), 8, "{flag}");
    assert_eq!(flag["version"], 9);
}

#[tokio::test]
async fn delete_history_rollback() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true, "rollout_percentage": 5}))
        .await;
    app.call(
        Method::PATCH,
        "/v1/flags/f",
        Some(ADMIN),
        Some(json!({"rollout_percentage": 50})),
    )
    .await;
    let (status, flag) = app
        .call(
            Method::POST,
            "/v1/flags/f/rollback",
            Some(ADMIN),
            Some(json!({"to_version": 1, "reason": "too fast"})),
        )
        .await;
    assert_eq!(
        (
            status,
            flag["version"].as_u64(),
            flag["rollout_percentage"].as_u64()
        ),
        (StatusCode::OK, Some(3), Some(5))
    );
    let res = app
        .send(
            Method::POST,
            "/v1/flags/f/rollback",
            Some(ADMIN),
            Some(json!({"to_version": 9})),
        )
        .await;
    problem(res, StatusCode::NOT_FOUND).await;
    let (_, history) = app
        .call(Method::GET, "/v1/flags/f/history", Some(ADMIN), None)
        .await;
    let versions: Vec<u64> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [3, 2, 1]);

    // Deleting is an admin's; a stale version is refused; the history stays.
    let res = app
        .client
        .delete(format!("{}/v1/flags/f", app.base))
        .bearer_auth(ADMIN)
        .header("If-Match", "\"2\"")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::CONFLICT).await;
    let (status, _) = app
        .call(
            Method::DELETE,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"reason": "done"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.eval("f", Some("u"), None).await,
        (false, "FLAG_NOT_FOUND".into())
    );
    let (_, history) = app
        .call(Method::GET, "/v1/flags/f/history", Some(ADMIN), None)
        .await;
    assert_eq!(history["deleted"], true);
    // Re-created, it continues the numbering; a rollback can also bring back a deleted flag.
    let created = app.create("f", json!({"enabled": false})).await;
    assert_eq!(created["version"], 4);
    app.call(Method::DELETE, "/v1/flags/f", Some(ADMIN), None)
        .await;
    let (status, flag) = app
        .call(
            Method::POST,
            "/v1/flags/f/rollback",
            Some(ADMIN),
            Some(json!({"to_version": 3})),
        )
        .await;
    assert_eq!(
        (status, flag["version"].as_u64(), flag["enabled"].as_bool()),
        (StatusCode::OK, Some(5), Some(true))
    );
    let _ = SDK;
}
