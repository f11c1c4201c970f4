//! Hardening over HTTP: security headers, body limits, the write rate limit, problem+json for
//! every rejection, health and metrics, and junk input that must never cause a 5xx.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN, SDK, problem, read, spawn_app, spawn_with};

#[tokio::test]
async fn security_headers_on_every_answer() {
    let app = spawn_with(|s| s.server.hsts = true).await;
    for path in ["/health/live", "/v1/flags", "/nowhere"] {
        let res = app.send(Method::GET, path, None, None).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        assert!(
            h["strict-transport-security"]
                .to_str()
                .unwrap()
                .contains("max-age=")
        );
    }
    let plain = spawn_app().await;
    let res = plain.send(Method::GET, "/health/live", None, None).await;
    assert!(!res.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn body_limit_gives_413() {
    let app = spawn_with(|s| s.server.body_limit_bytes = 4096).await;
    let users: Vec<String> = (0..1000).map(|i| format!("user-{i}")).collect();
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/big",
            Some(ADMIN),
            Some(json!({"whitelist": users})),
        )
        .await;
    problem(res, StatusCode::PAYLOAD_TOO_LARGE).await;
    problem(
        app.send(Method::GET, "/v1/flags/big", Some(ADMIN), None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn whitelist_limit_is_enforced() {
    let app = spawn_with(|s| s.limits.max_whitelist = 3).await;
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"whitelist": ["a", "b", "c", "d"]})),
        )
        .await;
    let body = problem(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["problems"][0]["field"], "whitelist");
}

#[tokio::test]
async fn admin_writes_are_rate_limited_per_token() {
    let app = spawn_with(|s| s.server.writes_per_minute = 3).await;
    for i in 0..3 {
        app.create(&format!("f{i}"), json!({})).await;
    }
    let res = app
        .send(Method::PUT, "/v1/flags/f3", Some(ADMIN), Some(json!({})))
        .await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    problem(res, StatusCode::TOO_MANY_REQUESTS).await;
    // Reads and evaluations are not limited.
    assert_eq!(
        app.send(Method::GET, "/v1/flags", Some(ADMIN), None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(app.eval("f0", Some("u"), None).await.1, "DISABLED");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("switchyard_ratelimit_rejections_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn framework_rejections_are_problems_too() {
    let app = spawn_app().await;
    problem(
        app.send(Method::DELETE, "/v1/evaluate", Some(SDK), None)
            .await,
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    problem(
        app.send(Method::GET, "/v2/nothing", Some(SDK), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let res = app
        .client
        .get(format!("{}/v1/flags/f", app.base))
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::UNAUTHORIZED).await;
    let res = app
        .client
        .put(format!("{}/v1/flags/f", app.base))
        .bearer_auth(ADMIN)
        .header("If-Match", "yesterday")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn tokens_are_read_from_either_header_in_any_scheme_case() {
    let app = spawn_app().await;
    let status = |name: &'static str, value: String| {
        let request = app
            .client
            .get(format!("{}/v1/snapshot", app.base))
            .header(name, value);
        async move { request.send().await.unwrap().status() }
    };
    let accepted = [
        ("Authorization", format!("Bearer {SDK}")),
        ("Authorization", format!("bearer   {SDK}  ")),
        ("X-API-Key", SDK.to_owned()),
    ];
    for (name, value) in accepted {
        assert_eq!(status(name, value.clone()).await, StatusCode::OK, "{value}");
    }
    let refused = [
        ("Authorization", format!("Basic {SDK}")),
        ("Authorization", format!("Bearer{SDK}")),
        ("Authorization", format!("Bearer {SDK}x")),
        ("X-API-Key", format!("{SDK}x")),
    ];
    for (name, value) in refused {
        let got = status(name, value.clone()).await;
        assert_eq!(got, StatusCode::UNAUTHORIZED, "{value}");
    }
}

#[tokio::test]
async fn health_and_metrics() {
    let app = spawn_app().await;
    let (status, live) = app.call(Method::GET, "/health/live", None, None).await;
    assert_eq!(
        (status, live["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, ready) = app.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(
        (status, ready["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    app.create("f", json!({"enabled": true, "rollout_percentage": 100}))
        .await;
    app.eval("f", Some("u"), None).await;
    let metrics = app.metrics().await;
    for line in [
        "switchyard_eval_decisions_total{reason=\"ROLLOUT\"} 1",
        "switchyard_snapshot_flags 1",
        "switchyard_store_up 1",
        "switchyard_kill_switch_global_active 0",
        "switchyard_http_requests_total{method=\"POST\",route=\"/v1/evaluate\",status=\"200\"} 1",
        "switchyard_http_request_duration_seconds_bucket{route=\"/v1/evaluate\"",
    ] {
        assert!(metrics.contains(line), "missing {line}");
    }
}

#[tokio::test]
async fn junk_input_never_causes_a_server_error() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true, "rollout_percentage": 100}))
        .await;
    let junk: [&[u8]; 9] = [
        b"",
        b"null",
        b"[]",
        b"{\"flag\": null}",
        b"\xff\xfe\x00",
        b"{\"context\": []}",
        b"{\"flag\": \"f\", \"context\": {\"user_id\": \"\\ud800\"}}",
        b"9999999999999999999999",
        b"{\"a\":",
    ];
    let routes = [
        (Method::POST, "/v1/evaluate"),
        (Method::POST, "/v1/evaluate/bulk"),
        (Method::PUT, "/v1/flags/f"),
        (Method::PATCH, "/v1/flags/f"),
        (Method::POST, "/v1/flags/f/kill"),
        (Method::POST, "/v1/kill-switch"),
        (Method::POST, "/v1/flags/f/rollback"),
        (Method::POST, "/v1/import"),
        (Method::POST, "/v1/tokens"),
        (Method::POST, "/ofrep/v1/evaluate/flags/f"),
        (Method::POST, "/ofrep/v1/evaluate/flags"),
        (Method::DELETE, "/v1/flags/f"),
    ];
    // An empty body is a valid DELETE: junk there is what is not empty.
    let junk_for = |method: &Method| {
        if *method == Method::DELETE {
            &junk[1..]
        } else {
            &junk[..]
        }
    };
    for (method, path) in routes {
        for body in junk_for(&method) {
            let res = app
                .client
                .request(method.clone(), format!("{}{path}", app.base))
                .bearer_auth(ADMIN)
                .body(body.to_vec())
                .send()
                .await
                .unwrap();
            let status = res.status();
            let (_, answer) = read(res).await;
            assert!(
                status.is_client_error() || status.is_success(),
                "{method} {path} {body:?}: {status} {answer}"
            );
        }
    }
    let (_, flag) = app
        .call(Method::GET, "/v1/flags/f", Some(ADMIN), None)
        .await;
    assert_eq!(flag["version"], 1, "junk changed nothing: {flag}");
    assert_eq!(
        app.eval("f", Some("u"), None).await,
        (true, "ROLLOUT".into())
    );
}
