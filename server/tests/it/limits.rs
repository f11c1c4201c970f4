//! docs/flags.md#limits-and-safety-rules's limits and rules, each tried the way a hostile or careless client would: huge
//! contexts, junk methods, slow bodies, versions at the edge, kill switches changed by the
//! back door, arrays for objects, unknown import fields, NUL bytes, anonymous probing.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{ADMIN, SDK, TestApp, problem, read, spawn_app, spawn_with};

const MAX_VERSION: u64 = (1 << 53) - 1;

async fn post_raw(app: &TestApp, path: &str, token: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_context_over_the_limits_is_refused_before_it_is_hashed() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true, "rollout_percentage": 50}))
        .await;
    let at_limit = "u".repeat(1024);
    let over = "u".repeat(1025);
    let huge = "u".repeat(1 << 20);
    for user in [&over, &huge] {
        let body = json!({"flag": "f", "context": {"user_id": user}});
        let res = app
            .send(Method::POST, "/v1/evaluate", Some(SDK), Some(body))
            .await;
        let answer = problem(res, StatusCode::BAD_REQUEST).await;
        assert!(
            answer["detail"].as_str().unwrap().contains("1024"),
            "{answer}"
        );
        let body = json!({"context": {"user_id": user}});
        let res = app
            .send(Method::POST, "/v1/evaluate/bulk", Some(SDK), Some(body))
            .await;
        problem(res, StatusCode::BAD_REQUEST).await;
        for path in ["/ofrep/v1/evaluate/flags/f", "/ofrep/v1/evaluate/flags"] {
            let body = json!({"context": {"targetingKey": user}});
            let (status, answer) = app.call(Method::POST, path, Some(SDK), Some(body)).await;
            assert_eq!(
                (status, answer["errorCode"].as_str()),
                (StatusCode::BAD_REQUEST, Some("INVALID_CONTEXT")),
                "{path}: {answer}"
            );
        }
    }
    let body = json!({"flag": "f", "context": {"user_id": at_limit}});
    let (status, _) = app
        .call(Method::POST, "/v1/evaluate", Some(SDK), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK);
    for bad in [json!({"market": "F"}), json!({"user_id": "a\u{0}b"})] {
        let body = json!({"flag": "f", "context": bad});
        let res = app
            .send(Method::POST, "/v1/evaluate", Some(SDK), Some(body))
            .await;
        problem(res, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn a_context_with_too_many_or_too_large_attributes_is_refused() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true})).await;
    let many = |n: usize| {
        let mut ctx = serde_json::Map::new();
        ctx.insert("user_id".into(), json!("u1"));
        for i in 0..n {
            ctx.insert(format!("attr{i}"), json!(i));
        }
        Value::Object(ctx)
    };
    let cases = [
        (many(1000), "100 context attributes"),
        (many(101), "100 context attributes"),
        (json!({"plan": "p".repeat(1 << 20)}), "1024"),
        (json!({"plan": "p".repeat(1025)}), "1024"),
        (json!({"n".repeat(129): "x"}), "128"),
    ];
    for (ctx, says) in cases {
        for path in ["/v1/evaluate", "/v1/evaluate/bulk"] {
            let body = json!({"flag": "f", "context": ctx});
            let res = app.send(Method::POST, path, Some(SDK), Some(body)).await;
            let answer = problem(res, StatusCode::BAD_REQUEST).await;
            assert!(
                answer["detail"].as_str().unwrap().contains(says),
                "{path}: {answer}"
            );
        }
        let body = json!({"context": ctx});
        let (status, answer) = app
            .call(
                Method::POST,
                "/ofrep/v1/evaluate/flags/f",
                Some(SDK),
                Some(body),
            )
            .await;
        assert_eq!(
            (status, answer["errorCode"].as_str()),
            (StatusCode::BAD_REQUEST, Some("INVALID_CONTEXT")),
            "{answer}"
        );
    }
    // At the limits the context is served.
    for ctx in [
        many(100),
        json!({"plan": "p".repeat(1024), "n".repeat(128): "x"}),
    ] {
        let body = json!({"flag": "f", "context": ctx});
        let (status, answer) = app
            .call(Method::POST, "/v1/evaluate", Some(SDK), Some(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
}

#[tokio::test]
async fn junk_methods_add_no_metric_series() {
    let app = spawn_app().await;
    for i in 0..50 {
        let method = Method::from_bytes(format!("M{i:08}X").as_bytes()).unwrap();
        let res = app.send(method, "/health/live", None, None).await;
        assert!(res.status().is_client_error());
    }
    let metrics = app.metrics().await;
    assert!(
        !metrics.contains("M00000001X"),
        "a junk method became a label"
    );
    assert!(
        metrics.contains("method=\"OTHER\""),
        "junk methods are counted as OTHER"
    );
}

#[tokio::test]
async fn a_slow_body_times_out_with_408() {
    let app = spawn_with(|s| s.server.body_timeout_secs = 1).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SDK}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"flag\""
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer));
    assert!(read.await.is_ok(), "the server kept waiting for the body");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    assert!(
        app.metrics()
            .await
            .contains("switchyard_http_body_timeouts_total 1")
    );
}

#[tokio::test]
async fn versions_stop_below_two_to_the_53() {
    let app = spawn_app().await;
    let backup = |version: u64| json!({"format": 1, "flags": [{"key": "f", "version": version}]});
    let res = app
        .send(
            Method::POST,
            "/v1/import",
            Some(ADMIN),
            Some(backup(u64::MAX)),
        )
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(answer.to_string().contains("2^53"), "{answer}");
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/import",
            Some(ADMIN),
            Some(backup(MAX_VERSION)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let res = app
        .send(
            Method::PATCH,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"enabled": true})),
        )
        .await;
    problem(res, StatusCode::BAD_REQUEST).await;
    let (_, flag) = app
        .call(Method::GET, "/v1/flags/f", Some(ADMIN), None)
        .await;
    assert_eq!(flag["version"], MAX_VERSION, "nothing wrapped: {flag}");
}

async fn kill(app: &TestApp, key: &str) {
    let body = json!({"active": true, "reason": "incident"});
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/v1/flags/{key}/kill"),
            Some(ADMIN),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn killed(app: &TestApp, key: &str) -> bool {
    let (_, flag) = app
        .call(Method::GET, &format!("/v1/flags/{key}"), Some(ADMIN), None)
        .await;
    flag["kill_switch"].as_bool().unwrap()
}

#[tokio::test]
async fn only_the_kill_endpoints_change_a_kill_switch() {
    let app = spawn_app().await;
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"kill_switch": true})),
        )
        .await;
    problem(res, StatusCode::BAD_REQUEST).await;
    app.create("f", json!({"enabled": true, "rollout_percentage": 100}))
        .await;
    let res = app
        .send(
            Method::PATCH,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"kill_switch": true})),
        )
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(
        answer["detail"].as_str().unwrap().contains("/kill"),
        "{answer}"
    );
    assert!(!killed(&app, "f").await);

    kill(&app, "f").await;
    // A flag read with GET and sent back as it is keeps its kill switch; one that says off
    // is refused.
    let (_, mut flag) = app
        .call(Method::GET, "/v1/flags/f", Some(ADMIN), None)
        .await;
    flag["description"] = json!("edited");
    let (status, _) = app
        .call(Method::PUT, "/v1/flags/f", Some(ADMIN), Some(flag.clone()))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, mut flag) = app
        .call(Method::GET, "/v1/flags/f", Some(ADMIN), None)
        .await;
    flag["kill_switch"] = json!(false);
    let res = app
        .send(Method::PUT, "/v1/flags/f", Some(ADMIN), Some(flag))
        .await;
    problem(res, StatusCode::BAD_REQUEST).await;
    // Rolling back to version 1 (before the kill) restores the rest, not the kill switch.
    let body = json!({"to_version": 1});
    let (status, flag) = app
        .call(
            Method::POST,
            "/v1/flags/f/rollback",
            Some(ADMIN),
            Some(body),
        )
        .await;
    assert_eq!(
        (status, flag["kill_switch"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{flag}"
    );
    assert_eq!(app.eval("f", Some("u"), None).await.1, "KILL_SWITCH");
    // An import that says off, for the flag or globally, lifts nothing.
    let (_, switch) = app
        .call(
            Method::POST,
            "/v1/kill-switch",
            Some(ADMIN),
            Some(json!({"active": true, "reason": "incident"})),
        )
        .await;
    assert_eq!(switch["active"], true);
    let backup = json!({"format": 1, "global_kill_switch": {"active": false},
        "flags": [{"key": "f", "enabled": true, "rollout_percentage": 100, "kill_switch": false}]});
    let (status, _) = app
        .call(Method::POST, "/v1/import", Some(ADMIN), Some(backup))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(killed(&app, "f").await);
    let (_, switch) = app
        .call(Method::GET, "/v1/kill-switch", Some(ADMIN), None)
        .await;
    assert_eq!(switch["active"], true, "{switch}");
    // An import that turns one on records a reason.
    let backup = json!({"format": 1, "global_kill_switch": {"active": true},
        "flags": [{"key": "f", "kill_switch": true}, {"key": "g", "kill_switch": true}]});
    let (status, _) = app
        .call(Method::POST, "/v1/import", Some(ADMIN), Some(backup))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, audit) = app
        .call(Method::GET, "/v1/audit?flag=g", Some(ADMIN), None)
        .await;
    assert!(audit["entries"][0]["reason"].as_str().is_some(), "{audit}");
}

#[tokio::test]
async fn objects_only_unknown_import_fields_named_and_one_limit_everywhere() {
    let app = spawn_app().await;
    app.create(
        "dark-mode",
        json!({"enabled": true, "rollout_percentage": 100}),
    )
    .await;
    let res = post_raw(
        &app,
        "/v1/evaluate",
        SDK,
        br#"["dark-mode", ["u1", "FR"]]"#.to_vec(),
    )
    .await;
    problem(res, StatusCode::BAD_REQUEST).await;
    let res = post_raw(
        &app,
        "/v1/evaluate",
        SDK,
        br#"{"flag": "dark-mode", "context": ["u1", "FR"]}"#.to_vec(),
    )
    .await;
    problem(res, StatusCode::BAD_REQUEST).await;
    let res = app
        .client
        .put(format!("{}/v1/flags/x", app.base))
        .bearer_auth(ADMIN)
        .body("[]")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;
    let (status, _) = app
        .call(Method::GET, "/v1/flags/x", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an array created nothing");

    let backup = json!({"format": 1, "flags": [{"key": "a", "kill_swich": true}], "tokens": []});
    let res = app
        .send(Method::POST, "/v1/import", Some(ADMIN), Some(backup))
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    let detail = answer["detail"].as_str().unwrap();
    assert!(
        detail.contains("tokens") && detail.contains("kill_swich"),
        "{detail}"
    );
    // A flag written as an array (which serde would read as a struct) is refused too.
    let backup = json!({"format": 1, "flags": [["a", "", true, 100]]});
    let res = app
        .send(Method::POST, "/v1/import", Some(ADMIN), Some(backup))
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("flags[0] must be a JSON object"),
        "{answer}"
    );
    let backup =
        json!({"format": 1, "global_kill_switch": {"active": true, "reason": "r".repeat(5000)}});
    let res = app
        .send(Method::POST, "/v1/import", Some(ADMIN), Some(backup))
        .await;
    problem(res, StatusCode::BAD_REQUEST).await;
    for body in [
        json!({"description": "a\u{0}b"}),
        json!({"whitelist": ["ok", "n\u{0}l"]}),
    ] {
        let res = app
            .send(Method::PUT, "/v1/flags/nul", Some(ADMIN), Some(body))
            .await;
        problem(res, StatusCode::BAD_REQUEST).await;
    }
    let body = json!({"active": true, "reason": "a\u{0}b"});
    let res = app
        .send(Method::POST, "/v1/kill-switch", Some(ADMIN), Some(body))
        .await;
    problem(res, StatusCode::BAD_REQUEST).await;
    let (_, flags) = app.call(Method::GET, "/v1/flags", Some(ADMIN), None).await;
    assert_eq!(
        flags["flags"].as_array().unwrap().len(),
        1,
        "nothing was written: {flags}"
    );
}

#[tokio::test]
async fn anonymous_callers_learn_nothing_and_new_tokens_are_not_cached() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/v1/audit?bogus=1"),
        (Method::GET, "/v1/audit?limit=x"),
        (Method::POST, "/v1/import?mode=bogus"),
    ] {
        let res = app.send(method, path, None, None).await;
        let answer = problem(res, StatusCode::UNAUTHORIZED).await;
        assert!(!answer.to_string().contains("bogus"), "{path}: {answer}");
    }
    let res = app
        .send(
            Method::POST,
            "/v1/tokens",
            Some(ADMIN),
            Some(json!({"name": "ci", "role": "viewer"})),
        )
        .await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let (status, issued): (StatusCode, Value) = read(res).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
}
