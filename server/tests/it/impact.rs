//! Impact through real sockets (docs/api.md#release-plans): SDK reports validated and bounded, summed per flag,
//! plan stage and variant in the store (across instances on Redis), and an impact guard that
//! trips a plan when the on-cohort's error rate is worse than `max_ratio` × the off-cohort's,
//! and does not when they are alike.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN, SDK, TestApp, problem, spawn_with};
use crate::plans::{audit, plan, start};
use crate::redis::{eventually, eventually_within};

fn item(flag: &str, variant: &str, exposures: u64, errors: u64) -> Value {
    json!({"flag": flag, "variant": variant, "exposures": exposures, "counts": {"error": errors}})
}

async fn report(app: &TestApp, events: Vec<Value>) -> StatusCode {
    app.send(
        Method::POST,
        "/v1/impact",
        Some(SDK),
        Some(json!({ "events": events })),
    )
    .await
    .status()
}

async fn sums(app: &TestApp, flag: &str) -> Value {
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/v1/flags/{flag}/impact"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn reports_are_validated_and_summed_per_stage() {
    let app = spawn_with(|s| s.plans.tick_ms = 50).await;
    app.create("f", json!({"enabled": true, "rollout_percentage": 50}))
        .await;
    let too_many: Vec<Value> = (0..1001).map(|_| item("f", "on", 1, 0)).collect();
    for (body, needle) in [
        (json!({"events": too_many}), "limit is 1000"),
        (
            json!({"events": [{"flag": "f", "variant": "maybe", "exposures": 1}]}),
            "maybe",
        ),
        (
            json!({"events": [{"flag": "f", "variant": "on", "counts": {"bad name": 1}}]}),
            "bad name",
        ),
        (
            json!({"events": [{"flag": "f", "variant": "on", "exposures": 2_000_000_000u64}]}),
            "above",
        ),
        (
            json!({"events": [{"flag": "a/b", "variant": "on"}]}),
            "events[0].flag",
        ),
        (json!({"events": [], "extra": 1}), "extra"),
        (json!([]), "object"),
    ] {
        let res = app
            .send(Method::POST, "/v1/impact", Some(SDK), Some(body.clone()))
            .await;
        let p = problem(res, StatusCode::BAD_REQUEST).await;
        assert!(p.to_string().contains(needle), "{body} → {p}");
    }
    let viewer = app.token("v", "viewer").await;
    let res = app
        .send(
            Method::POST,
            "/v1/impact",
            None,
            Some(json!({"events": []})),
        )
        .await;
    problem(res, StatusCode::UNAUTHORIZED).await;
    let res = app
        .send(Method::GET, "/v1/flags/f/impact", Some(SDK), None)
        .await;
    problem(res, StatusCode::FORBIDDEN).await;
    let res = app
        .send(
            Method::POST,
            "/v1/impact",
            Some(&viewer),
            Some(json!({"events": []})),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::ACCEPTED,
        "a higher role may report too"
    );

    assert_eq!(
        report(
            &app,
            vec![
                item("f", "on", 100, 3),
                item("f", "off", 80, 1),
                item("f", "on", 20, 0)
            ]
        )
        .await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        report(&app, vec![item("gone", "on", 5, 5)]).await,
        StatusCode::ACCEPTED,
        "an unknown flag is dropped, not refused"
    );
    eventually("the sums", || async {
        let s = sums(&app, "f").await;
        s["on"] == json!({"exposures": 120, "counts": {"error": 3}})
            && s["off"] == json!({"exposures": 80, "counts": {"error": 1}})
    })
    .await;
    assert_eq!(sums(&app, "f").await["stage"], Value::Null, "no plan yet");
    // A plan's stage starts its own sums.
    start(
        &app,
        "f",
        json!({"stages": [{"rollout_percentage": 50, "hold": "1h"}, {"rollout_percentage": 100}]}),
    )
    .await;
    let fresh = sums(&app, "f").await;
    assert_eq!(
        (fresh["stage"].clone(), fresh["on"]["exposures"].clone()),
        (json!(0), json!(0))
    );
    report(&app, vec![item("f", "off", 7, 0)]).await;
    eventually("the stage's sums", || async {
        sums(&app, "f").await["off"]["exposures"] == 7
    })
    .await;
    let metrics = app.metrics().await;
    // Received: 120 for f and 5 for the unknown flag, dropped when the buffer went to the store.
    assert!(
        metrics.contains("switchyard_impact_exposures_total{variant=\"on\"} 125"),
        "{metrics}"
    );
    assert!(metrics.contains("switchyard_impact_dropped_total 1"));
}

#[tokio::test]
async fn an_impact_guard_trips_on_a_worse_on_cohort_and_not_on_a_like_one() {
    let app = spawn_with(|s| s.plans.tick_ms = 50).await;
    let guard = json!({"name": "errors", "impact": {"event": "error", "max_ratio": 1.5, "min_exposures": 1000, "confidence": 0.95}});
    for flag in ["worse", "alike"] {
        app.create(flag, json!({"enabled": true})).await;
        start(
            &app,
            flag,
            json!({"stages": [{"rollout_percentage": 50, "hold": "1h"}, {"rollout_percentage": 100}],
                   "guards": [guard.clone()], "on_trip": "kill"}),
        )
        .await;
    }
    let shown = plan(&app, "worse").await;
    assert_eq!(shown["guards"][0]["impact"]["event"], "error", "{shown}");
    for _ in 0..5 {
        report(
            &app,
            vec![
                item("worse", "on", 1000, 100),
                item("worse", "off", 1000, 20),
                item("alike", "on", 1000, 50),
                item("alike", "off", 1000, 50),
            ],
        )
        .await;
    }
    eventually_within("the worse flag trips", Duration::from_secs(10), || async {
        plan(&app, "worse").await["state"] == "tripped"
    })
    .await;
    let tripped = plan(&app, "worse").await;
    assert_eq!(tripped["tripped_by"]["guard"], "errors");
    assert!(
        tripped["tripped_by"]["value"].as_f64().unwrap() > 4.0,
        "{tripped}"
    );
    assert!(
        tripped["guards"][0]["impact"]["p_value"].as_f64().unwrap() < 0.05,
        "{tripped}"
    );
    assert_eq!(app.eval("worse", Some("u1"), None).await.1, "KILL_SWITCH");
    let trips: Vec<_> = audit(&app, "worse")
        .await
        .into_iter()
        .filter(|e| e.0 == "plan.trip")
        .collect();
    assert_eq!(trips.len(), 1);
    assert_eq!(trips[0].1, "guard:errors");
    assert!(
        trips[0].2.starts_with("guard errors: ") && trips[0].2.ends_with(" above 1.5"),
        "{trips:?}"
    );
    eventually("the alike flag's guard has read its sums", || async {
        plan(&app, "alike").await["guards"][0]["impact"]["enough"] == true
    })
    .await;
    let alike = plan(&app, "alike").await;
    assert_eq!(
        (alike["state"].clone(), alike["guards"][0]["status"].clone()),
        (json!("running"), json!("ok")),
        "{alike}"
    );
    assert_eq!(alike["guards"][0]["impact"]["p_value"], 1.0);
}

#[tokio::test]
async fn reports_to_every_instance_meet_in_the_same_sums() {
    let redis = switchyard_testkit::redis::RedisServer::start();
    let apps = crate::redis::instances(&redis, "impact", 2).await;
    apps[0].create("f", json!({"enabled": true})).await;
    eventually("both serve f", || async {
        apps[1].eval("f", None, None).await.1 != "FLAG_NOT_FOUND"
    })
    .await;
    report(&apps[0], vec![item("f", "on", 3000, 30)]).await;
    report(
        &apps[1],
        vec![item("f", "on", 2000, 20), item("f", "off", 10, 0)],
    )
    .await;
    for app in &apps {
        eventually("the sums add up", || async {
            sums(app, "f").await["on"] == json!({"exposures": 5000, "counts": {"error": 50}})
        })
        .await;
    }
}

/// Many reports naming ever new events: each flag's sums keep a bounded number of names.
async fn names_stay_bounded(apps: &[TestApp]) {
    for round in 0..5 {
        let counts: serde_json::Map<String, Value> = (0..20)
            .map(|i| (format!("event-{round}-{i}"), json!(1)))
            .collect();
        let body =
            json!({"events": [{"flag": "f", "variant": "on", "exposures": 1, "counts": counts}]});
        let app = &apps[round % apps.len()];
        let res = app
            .send(Method::POST, "/v1/impact", Some(SDK), Some(body))
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        // Spaced past the one-second flush, so each report reaches the store in a flush of its own.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    eventually("all five reports counted", || async {
        sums(&apps[0], "f").await["on"]["exposures"] == 5
    })
    .await;
    let names = sums(&apps[0], "f").await["on"]["counts"]
        .as_object()
        .unwrap()
        .len();
    // Redis bounds the hash's fields (2 × MAX_EVENTS + the two exposures), redb each cohort;
    // five reports named 100 events.
    let cap = switchyard_core::impact::MAX_EVENTS * 2 + 2;
    assert!(names <= cap, "{names} event names kept");
}

#[tokio::test]
async fn event_names_are_bounded_per_flag_in_both_stores() {
    let app = spawn_with(|_| {}).await;
    app.create("f", json!({"enabled": true})).await;
    names_stay_bounded(std::slice::from_ref(&app)).await;
    assert_eq!(
        sums(&app, "f").await["on"]["counts"]
            .as_object()
            .unwrap()
            .len(),
        switchyard_core::impact::MAX_EVENTS
    );
    let redis = switchyard_testkit::redis::RedisServer::start();
    let apps = crate::redis::instances(&redis, "bounded", 2).await;
    apps[0].create("f", json!({"enabled": true})).await;
    eventually("both serve f", || async {
        apps[1].eval("f", None, None).await.1 != "FLAG_NOT_FOUND"
    })
    .await;
    names_stay_bounded(&apps).await;
}
