//! Kill switches over HTTP: who may flip them, that they win at once, that they need a reason.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN, SDK, problem, spawn_app};

#[tokio::test]
async fn flag_and_global_kill_switches_win_at_once() {
    let app = spawn_app().await;
    app.create(
        "f",
        json!({"enabled": true, "rollout_percentage": 100, "whitelist": ["vip"]}),
    )
    .await;
    let responder = app.token("oncall", "responder").await;

    let res = app
        .send(
            Method::POST,
            "/v1/flags/f/kill",
            Some(&responder),
            Some(json!({"active": true})),
        )
        .await;
    assert!(
        problem(res, StatusCode::BAD_REQUEST).await["detail"]
            .as_str()
            .unwrap()
            .contains("reason")
    );
    let res = app
        .send(
            Method::POST,
            "/v1/flags/f/kill",
            Some(SDK),
            Some(json!({"active": true, "reason": "r"})),
        )
        .await;
    problem(res, StatusCode::FORBIDDEN).await;
    // A responder may not edit flags.
    let res = app
        .send(
            Method::PATCH,
            "/v1/flags/f",
            Some(&responder),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(
        problem(res, StatusCode::FORBIDDEN).await["required_role"],
        "editor"
    );

    let (status, flag) = app
        .call(
            Method::POST,
            "/v1/flags/f/kill",
            Some(&responder),
            Some(json!({"active": true, "reason": "errors spiking"})),
        )
        .await;
    assert_eq!(
        (status, flag["kill_switch"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    assert_eq!(
        app.eval("f", Some("vip"), None).await,
        (false, "KILL_SWITCH".into())
    );
    app.call(
        Method::POST,
        "/v1/flags/f/kill",
        Some(&responder),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(
        app.eval("f", Some("vip"), None).await,
        (true, "WHITELIST".into())
    );

    let (status, switch) = app
        .call(
            Method::POST,
            "/v1/kill-switch",
            Some(&responder),
            Some(json!({"active": true, "reason": "incident 42"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (switch["set_by"].as_str(), switch["reason"].as_str()),
        (Some("oncall"), Some("incident 42"))
    );
    assert_eq!(
        app.eval("f", Some("vip"), None).await,
        (false, "GLOBAL_KILL_SWITCH".into())
    );
    assert_eq!(
        app.eval("unknown", Some("vip"), None).await,
        (false, "GLOBAL_KILL_SWITCH".into())
    );
    let (_, state) = app
        .call(Method::GET, "/v1/kill-switch", Some(ADMIN), None)
        .await;
    assert_eq!(state["active"], true);
    app.call(
        Method::POST,
        "/v1/kill-switch",
        Some(&responder),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(
        app.eval("f", Some("someone"), None).await,
        (true, "ROLLOUT".into())
    );
}
