//! Guards against a real Prometheus (Debian's package), scraping a small app inside the test
//! whose request and 5xx counters the test drives; three instances on a real Redis; a real
//! webhook receiver. A 5xx spike trips the guard once, the kill switch is served by every
//! instance, and the audit and the webhooks name the guard; a Prometheus that does not
//! answer holds the plan (it never advances on missing data).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_testkit::http::{App, Receiver};
use switchyard_testkit::prometheus::Prometheus;
use switchyard_testkit::redis::RedisServer;

use crate::helpers::{SDK, TestApp, spawn_with};
use crate::plans::{audit, events, plan, start};
use crate::redis::{eventually, eventually_within};

/// The app's traffic: 100 requests every 100 ms, all 5xx while `failing`.
struct Traffic {
    failing: Arc<AtomicBool>,
}

fn traffic(app: &App) -> Traffic {
    let failing = Arc::new(AtomicBool::new(false));
    let (requests, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (app, flag) = (app.clone(), failing.clone());
    std::thread::spawn(move || {
        loop {
            requests.fetch_add(100, Ordering::Relaxed);
            if flag.load(Ordering::Relaxed) {
                errors.fetch_add(100, Ordering::Relaxed);
            }
            let (r, e) = (
                requests.load(Ordering::Relaxed),
                errors.load(Ordering::Relaxed),
            );
            app.set(&format!(
                "# TYPE app_requests_total counter\napp_requests_total{{code=\"200\"}} {}\napp_requests_total{{code=\"500\"}} {e}\n",
                r - e
            ));
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    Traffic { failing }
}

const RATIO: &str =
    "sum(rate(app_requests_total{code=\"500\"}[2s])) / sum(rate(app_requests_total[2s]))";

async fn guarded(redis: &RedisServer, prometheus: &str, hooks: &str) -> TestApp {
    let (url, prometheus, hooks) = (redis.url(), prometheus.to_owned(), hooks.to_owned());
    spawn_with(move |s| {
        s.store.redis_url = Some(url);
        s.store.redis_prefix = "guards".into();
        s.plans.tick_ms = 100;
        s.guards.prometheus_url = Some(prometheus);
        s.notify.webhooks = vec![hooks];
    })
    .await
}

async fn answers(app: &TestApp, flag: &str) -> String {
    let (_, answer) = app
        .call(
            Method::POST,
            "/v1/evaluate",
            Some(SDK),
            Some(json!({"flag": flag, "context": {"user_id": "u1"}})),
        )
        .await;
    answer["reason"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_spike_trips_the_guard_once_and_every_instance_serves_the_kill() {
    let app = App::start();
    let load = traffic(&app);
    let prometheus = Prometheus::start(app.port);
    let redis = RedisServer::start();
    let hooks = Receiver::start();
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(guarded(&redis, &prometheus.url(), &hooks.url()).await);
    }
    let first = &instances[0];
    first.create("checkout-v2", json!({"enabled": true})).await;
    start(
        first,
        "checkout-v2",
        json!({
            "stages": [{"rollout_percentage": 5, "hold": "1h"}, {"rollout_percentage": 100}],
            "guards": [{"name": "5xx", "prometheus": {"query": RATIO, "above": 0.05}, "for": "1s"}],
            "on_trip": "kill"
        }),
    )
    .await;
    eventually_within("the guard reads ok", Duration::from_secs(20), || async {
        let shown = plan(first, "checkout-v2").await;
        shown["guards"][0]["status"] == "ok" && shown["guards"][0]["value"] == json!(0.0)
    })
    .await;
    load.failing.store(true, Ordering::Relaxed);
    eventually_within("the guard trips", Duration::from_secs(20), || async {
        plan(first, "checkout-v2").await["state"] == "tripped"
    })
    .await;
    for app in &instances {
        eventually("every instance serves the kill", || async {
            answers(app, "checkout-v2").await == "KILL_SWITCH"
        })
        .await;
    }
    let tripped = plan(&instances[2], "checkout-v2").await;
    assert_eq!(tripped["tripped_by"]["guard"], "5xx");
    assert!(
        tripped["tripped_by"]["value"].as_f64().unwrap() > 0.05,
        "{tripped}"
    );
    // Exactly once, though three instances watched: one audit entry, one webhook of each.
    let trips: Vec<_> = audit(first, "checkout-v2")
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "plan.trip")
        .collect();
    assert_eq!(trips.len(), 1, "{trips:?}");
    let (_, actor, reason) = &trips[0];
    assert_eq!(actor, "guard:5xx");
    assert!(
        reason.starts_with("guard 5xx: ") && reason.ends_with(" above 0.05"),
        "{reason}"
    );
    eventually("the webhooks", || async {
        let seen = events(&hooks);
        seen.contains(&"plan.tripped".to_owned()) && seen.contains(&"kill_switch".to_owned())
    })
    .await;
    // Not a wait for something to happen: time for a second trip to show, if there were one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = events(&hooks);
    assert_eq!(
        seen.iter().filter(|e| *e == "plan.tripped").count(),
        1,
        "{seen:?}"
    );
    assert_eq!(
        seen.iter().filter(|e| *e == "kill_switch").count(),
        1,
        "{seen:?}"
    );
    let kill: Value = hooks
        .bodies()
        .iter()
        .map(|b| serde_json::from_str::<Value>(b).unwrap())
        .find(|b| b["event"] == "kill_switch")
        .unwrap();
    assert!(
        kill["text"]
            .as_str()
            .unwrap()
            .starts_with("checkout-v2 was killed by guard:5xx: guard 5xx: ")
    );
    assert!(
        first
            .metrics()
            .await
            .contains("switchyard_guard_value{flag=\"checkout-v2\",guard=\"5xx\"}")
    );
}

#[tokio::test]
async fn a_prometheus_that_does_not_answer_holds_the_plan() {
    // Held by the test, so no other test's server can take the port meanwhile.
    let silent = switchyard_testkit::http::Silent::start();
    let dead = silent.url();
    let app = spawn_with(move |s| {
        s.plans.tick_ms = 50;
        s.guards.prometheus_url = Some(dead);
        s.guards.query_timeout_ms = 200;
    })
    .await;
    app.create("f", json!({"enabled": true})).await;
    start(
        &app,
        "f",
        json!({
            "stages": [{"rollout_percentage": 5, "hold": "200ms"}, {"rollout_percentage": 100}],
            "guards": [{"name": "errors", "prometheus": {"query": "up", "above": 1}}]
        }),
    )
    .await;
    eventually("the guard reads unknown", || async {
        plan(&app, "f").await["guards"][0]["status"] == "unknown"
    })
    .await;
    // Not a wait for something to happen: two seconds of `unknown` must move the plan nowhere.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = plan(&app, "f").await;
    assert_eq!(
        (held["state"].clone(), held["stage"].clone()),
        (json!("running"), json!(0)),
        "{held}"
    );
    assert_eq!(held["rollout_percentage"], 5);
    assert_eq!(
        held["hold_left_ms"], 0,
        "the hold has passed; only the guard holds it"
    );
}
