//! Release plans through real sockets (docs/api.md#release-plans), on the embedded store: a plan walks its
//! stages on time and completes, a person's pause, resume, advance and abort, a person's
//! change to the flag pausing the plan (and the audit saying so), bad plans refused whole,
//! and webhooks for every transition and kill switch change received by a real receiver.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchyard_testkit::http::Receiver;

use crate::helpers::{ADMIN, TestApp, problem, spawn_with};
use crate::redis::{eventually, eventually_within};

/// A server whose scheduler looks every 50 ms, telling `hooks`.
pub async fn planned(hooks: &[String]) -> TestApp {
    let hooks = hooks.to_vec();
    spawn_with(move |s| {
        s.plans.tick_ms = 50;
        s.notify.webhooks = hooks;
    })
    .await
}

pub async fn plan(app: &TestApp, key: &str) -> Value {
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/v1/flags/{key}/plan"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub async fn start(app: &TestApp, key: &str, body: Value) -> Value {
    let (status, shown) = app
        .call(
            Method::PUT,
            &format!("/v1/flags/{key}/plan"),
            Some(ADMIN),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shown}");
    shown
}

async fn act(app: &TestApp, key: &str, action: &str) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        &format!("/v1/flags/{key}/plan/{action}"),
        Some(ADMIN),
        None,
    )
    .await
}

/// The audit's actions about `key`, oldest first, with actor and reason.
pub async fn audit(app: &TestApp, key: &str) -> Vec<(String, String, String)> {
    let (_, page) = app
        .call(
            Method::GET,
            &format!("/v1/audit?flag={key}&limit=100"),
            Some(ADMIN),
            None,
        )
        .await;
    let mut entries: Vec<(String, String, String)> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    entries.reverse();
    entries
}

/// The `event` field of every webhook received, in order.
pub fn events(hooks: &Receiver) -> Vec<String> {
    hooks
        .bodies()
        .iter()
        .map(|b| {
            serde_json::from_str::<Value>(b).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_plan_walks_its_stages_on_time_and_completes() {
    let hooks = Receiver::start();
    let app = planned(&[hooks.url()]).await;
    app.create("search", json!({"enabled": true, "rollout_percentage": 3}))
        .await;
    let started = Instant::now();
    let shown = start(
        &app,
        "search",
        json!({"stages": [
            {"rollout_percentage": 10, "hold": "1s"},
            {"rollout_percentage": 50, "hold": "1s"},
            {"rollout_percentage": 100}
        ]}),
    )
    .await;
    assert_eq!(shown["state"], "running");
    assert_eq!(shown["stage"], 0);
    assert_eq!(
        shown["rollout_percentage"], 10,
        "starting sets the first stage's percentage"
    );
    assert!(shown["next_at"].is_string(), "{shown}");
    eventually("stage 2 at 50 %", || async {
        plan(&app, "search").await["rollout_percentage"] == 50
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "moved on before its hold"
    );
    eventually("completed at 100 %", || async {
        plan(&app, "search").await["state"] == "completed"
    })
    .await;
    assert!(started.elapsed() >= Duration::from_secs(2));
    let done = plan(&app, "search").await;
    assert_eq!(
        (done["rollout_percentage"].clone(), done["stage"].clone()),
        (json!(100), json!(2))
    );
    let actions: Vec<(String, String)> = audit(&app, "search")
        .await
        .into_iter()
        .map(|(action, actor, _)| (action, actor))
        .collect();
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        actions,
        [
            pair("flag.create", "env-admin"),
            pair("plan.start", "env-admin"),
            pair("plan.stage", "plan"),
            pair("plan.complete", "plan")
        ]
    );
    eventually("three webhooks", || async { hooks.bodies().len() >= 3 }).await;
    assert_eq!(
        events(&hooks),
        ["plan.started", "plan.stage", "plan.completed"]
    );
    let last: Value = serde_json::from_str(&hooks.bodies()[2]).unwrap();
    assert_eq!(last["flag"], "search");
    assert_eq!(
        last["text"],
        "The release plan of search is complete: 100 % of users have it"
    );
    let (_, list) = app.call(Method::GET, "/v1/plans", Some(ADMIN), None).await;
    assert_eq!(list["plans"][0]["flag"], "search");
    eventually("the metrics count it completed", || async {
        app.metrics()
            .await
            .contains("switchyard_plan_state{state=\"completed\"} 1")
    })
    .await;
}

#[tokio::test]
async fn a_plan_that_names_a_rule_walks_that_rules_percentage() {
    let app = planned(&[]).await;
    app.create(
        "search",
        json!({"enabled": true, "rollout_percentage": 7, "rules": [
            {"name": "FR", "constraints": [{"attribute": "market", "operator": "IN", "values": ["FR"]}],
             "rollout_percentage": 0}]}),
    )
    .await;
    // A rule the flag does not have is refused.
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/search/plan",
            Some(ADMIN),
            Some(json!({"rule": "DE", "stages": [{"rollout_percentage": 10}]})),
        )
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(answer.to_string().contains("no rule named"), "{answer}");
    let shown = start(
        &app,
        "search",
        json!({"rule": "FR", "stages": [
            {"rollout_percentage": 10, "hold": "1s"},
            {"rollout_percentage": 100}
        ]}),
    )
    .await;
    assert_eq!(
        (&shown["rollout_percentage"], &shown["rule"]),
        (&json!(10), &json!("FR"))
    );
    let (_, flag) = app
        .call(Method::GET, "/v1/flags/search", Some(ADMIN), None)
        .await;
    assert_eq!(
        (
            &flag["rules"][0]["rollout_percentage"],
            &flag["rollout_percentage"]
        ),
        (&json!(10), &json!(7)),
        "the rule's percentage moves, the base rollout stays"
    );
    eventually("the rule at 100 %", || async {
        plan(&app, "search").await["state"] == "completed"
    })
    .await;
    let (_, flag) = app
        .call(Method::GET, "/v1/flags/search", Some(ADMIN), None)
        .await;
    assert_eq!(
        (
            &flag["rules"][0]["rollout_percentage"],
            &flag["rollout_percentage"]
        ),
        (&json!(100), &json!(7))
    );
    // While a plan walks a rule, the rule cannot be taken away.
    start(
        &app,
        "search",
        json!({"rule": "FR", "stages": [{"rollout_percentage": 20, "hold": "1h"}, {"rollout_percentage": 100}]}),
    )
    .await;
    let res = app
        .send(
            Method::PATCH,
            "/v1/flags/search",
            Some(ADMIN),
            Some(json!({"rules": []})),
        )
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(answer.to_string().contains("plan.rule"), "{answer}");
    // A person moving the rule's percentage pauses the plan, as for the base rollout.
    let rules = json!([{"name": "FR", "constraints": [{"attribute": "market", "operator": "IN", "values": ["FR"]}],
                        "rollout_percentage": 30}]);
    let (status, _) = app
        .call(
            Method::PATCH,
            "/v1/flags/search",
            Some(ADMIN),
            Some(json!({"rules": rules})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let paused = plan(&app, "search").await;
    assert_eq!(paused["state"], "paused", "{paused}");
    assert!(
        paused["note"].as_str().unwrap().contains("rule \"FR\""),
        "{paused}"
    );
}

#[tokio::test]
async fn a_person_pauses_resumes_advances_and_aborts() {
    let app = planned(&[]).await;
    app.create("f", json!({"enabled": true})).await;
    start(
        &app,
        "f",
        json!({"stages": [{"rollout_percentage": 5, "hold": "1h"}, {"rollout_percentage": 25, "hold": "1h"}, {"rollout_percentage": 100}]}),
    )
    .await;
    let (status, paused) = act(&app, "f", "pause").await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["state"], "paused");
    assert_eq!(paused["next_at"], Value::Null);
    let left = paused["hold_left_ms"].as_u64().unwrap();
    assert!(left > 3_500_000 && left <= 3_600_000, "{left}");
    let (status, _) = act(&app, "f", "pause").await;
    assert_eq!(status, StatusCode::CONFLICT, "pausing a paused plan");
    let (_, resumed) = act(&app, "f", "resume").await;
    assert_eq!(resumed["state"], "running");
    assert!(
        resumed["hold_left_ms"].as_u64().unwrap() <= left,
        "the hold left is kept"
    );
    let (status, advanced) = act(&app, "f", "advance").await;
    assert_eq!(status, StatusCode::OK, "{advanced}");
    assert_eq!(
        (
            advanced["stage"].clone(),
            advanced["rollout_percentage"].clone()
        ),
        (json!(1), json!(25))
    );
    let res = app
        .send(Method::DELETE, "/v1/flags/f/plan", Some(ADMIN), None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let aborted = plan(&app, "f").await;
    assert_eq!(aborted["state"], "aborted");
    assert_eq!(
        aborted["rollout_percentage"], 25,
        "the percentage stays where it is"
    );
    let (status, body) = act(&app, "f", "jump").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A plan ended can be replaced; an open one cannot.
    start(
        &app,
        "f",
        json!({"stages": [{"rollout_percentage": 30, "hold": "1h"}]}),
    )
    .await;
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/f/plan",
            Some(ADMIN),
            Some(json!({"stages": [{"rollout_percentage": 1}]})),
        )
        .await;
    let p = problem(res, StatusCode::CONFLICT).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("running release plan"),
        "{p}"
    );
}

#[tokio::test]
async fn a_persons_change_to_what_the_plan_steers_pauses_it() {
    let hooks = Receiver::start();
    let app = planned(&[hooks.url()]).await;
    app.create("f", json!({"enabled": true})).await;
    start(
        &app,
        "f",
        json!({"stages": [{"rollout_percentage": 5, "hold": "1h"}, {"rollout_percentage": 100}]}),
    )
    .await;
    // A change the plan does not steer leaves it running.
    let (status, _) = app
        .call(
            Method::PATCH,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"description": "new"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plan(&app, "f").await["state"], "running");
    let (status, flag) = app
        .call(
            Method::PATCH,
            "/v1/flags/f",
            Some(ADMIN),
            Some(json!({"rollout_percentage": 40})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{flag}");
    let paused = plan(&app, "f").await;
    assert_eq!(paused["state"], "paused");
    assert_eq!(
        paused["note"],
        "paused: env-admin changed the rollout percentage by hand"
    );
    let entries = audit(&app, "f").await;
    assert!(
        entries.contains(&(
            "plan.pause".into(),
            "env-admin".into(),
            "paused: env-admin changed the rollout percentage by hand".into()
        )),
        "{entries:?}"
    );
    // A kill switch flipped by a person pauses a resumed plan too, and is told.
    act(&app, "f", "resume").await;
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/flags/f/kill",
            Some(ADMIN),
            Some(json!({"active": true, "reason": "pager"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        plan(&app, "f").await["note"],
        "paused: env-admin changed the kill switch by hand"
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/kill-switch",
            Some(ADMIN),
            Some(json!({"active": true, "reason": "incident 9"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    eventually("the webhooks", || async {
        events(&hooks)
            .iter()
            .filter(|e| *e == "kill_switch")
            .count()
            == 2
    })
    .await;
    let bodies: Vec<Value> = hooks
        .bodies()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let texts: Vec<&str> = bodies.iter().map(|b| b["text"].as_str().unwrap()).collect();
    assert!(
        texts.contains(&"f was killed by env-admin: pager"),
        "{texts:?}"
    );
    assert!(
        texts.contains(
            &"The global kill switch was turned ON by env-admin: incident 9 (every flag is off)"
        ),
        "{texts:?}"
    );
    assert!(
        texts.contains(
            &"The release plan of f was paused: env-admin changed the kill switch by hand"
        )
    );
}

#[tokio::test]
async fn bad_plans_are_refused_whole_and_roles_hold() {
    let app = planned(&[]).await;
    app.create("f", json!({"enabled": true})).await;
    for (body, needle) in [
        (json!({"stages": []}), "stages"),
        (
            json!({"stages": [{"rollout_percentage": 101}]}),
            "stages[0].rollout_percentage",
        ),
        (
            json!({"stages": [{"rollout_percentage": 5, "hold": "5 weeks"}]}),
            "unit",
        ),
        (
            json!({"stages": [{"rollout_percentage": 5}], "color": 1}),
            "color",
        ),
        (json!({"template": "fast"}), "template"),
        (json!({"template": "standard"}), "PROMETHEUS_URL"),
        (
            json!({"stages": [{"rollout_percentage": 5}], "on_trip": "explode"}),
            "explode",
        ),
        (json!([1]), "object"),
    ] {
        let res = app
            .send(
                Method::PUT,
                "/v1/flags/f/plan",
                Some(ADMIN),
                Some(body.clone()),
            )
            .await;
        let p = problem(res, StatusCode::BAD_REQUEST).await;
        assert!(p.to_string().contains(needle), "{body} → {p}");
    }
    assert_eq!(
        app.call(Method::GET, "/v1/flags/f", Some(ADMIN), None)
            .await
            .1["plan"],
        Value::Null
    );
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/nope/plan",
            Some(ADMIN),
            Some(json!({"stages": [{"rollout_percentage": 5}]})),
        )
        .await;
    problem(res, StatusCode::NOT_FOUND).await;
    problem(
        app.send(Method::GET, "/v1/flags/f/plan", Some(ADMIN), None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let responder = &app.token("oncall", "responder").await;
    let res = app
        .send(
            Method::PUT,
            "/v1/flags/f/plan",
            Some(responder),
            Some(json!({"stages": [{"rollout_percentage": 5}]})),
        )
        .await;
    assert_eq!(
        problem(res, StatusCode::FORBIDDEN).await["required_role"],
        "editor"
    );
    let res = app
        .send(
            Method::POST,
            "/v1/flags/f/plan/pause",
            Some(responder),
            None,
        )
        .await;
    problem(res, StatusCode::FORBIDDEN).await;
    // Only the plan routes change a plan: a PUT of the flag as read keeps it.
    start(
        &app,
        "f",
        json!({"stages": [{"rollout_percentage": 7, "hold": "1h"}, {"rollout_percentage": 100}]}),
    )
    .await;
    let (_, mut flag) = app
        .call(Method::GET, "/v1/flags/f", Some(ADMIN), None)
        .await;
    flag["description"] = json!("read and sent back");
    flag["plan"] = json!(null);
    let (status, after) = app
        .call(Method::PUT, "/v1/flags/f", Some(ADMIN), Some(flag))
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["plan"]["state"], "running", "{after}");
}

#[tokio::test]
async fn webhook_failures_are_counted_and_never_delay_a_write() {
    // A receiver that refuses every delivery (404), on a port the test holds.
    let refusing = switchyard_testkit::http::App::start();
    let app = planned(&[format!("http://127.0.0.1:{}/hook", refusing.port)]).await;
    app.create("f", json!({"enabled": true})).await;
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/flags/f/kill",
            Some(ADMIN),
            Some(json!({"active": true, "reason": "r"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    eventually_within(
        "failures counted, with retries",
        Duration::from_secs(5),
        || async {
            let metrics = app.metrics().await;
            metrics
                .lines()
                .find_map(|l| l.strip_prefix("switchyard_webhook_failures_total "))
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|n| n >= 2)
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_make_each_transition_once() {
    let redis = switchyard_testkit::redis::RedisServer::start();
    let mut apps = Vec::new();
    for _ in 0..3 {
        let url = redis.url();
        apps.push(
            spawn_with(move |s| {
                s.store.redis_url = Some(url);
                s.store.redis_prefix = "once".into();
                s.plans.tick_ms = 50;
            })
            .await,
        );
    }
    apps[0].create("f", json!({"enabled": true})).await;
    start(
        &apps[1],
        "f",
        json!({"stages": [
            {"rollout_percentage": 10, "hold": "300ms"},
            {"rollout_percentage": 20, "hold": "300ms"},
            {"rollout_percentage": 30, "hold": "300ms"},
            {"rollout_percentage": 100}
        ]}),
    )
    .await;
    // Asked of the instance that took the PUT: the others may not serve the plan yet.
    eventually("completed", || async {
        plan(&apps[1], "f").await["state"] == "completed"
    })
    .await;
    // The transitions' entries are committed with them; this is time for a duplicate from
    // another instance to show, if there were one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let actions: Vec<String> = audit(&apps[0], "f")
        .await
        .into_iter()
        .map(|(a, _, _)| a)
        .collect();
    assert_eq!(
        actions,
        [
            "flag.create",
            "plan.start",
            "plan.stage",
            "plan.stage",
            "plan.complete"
        ],
        "one audit entry per transition, though three instances watched"
    );
}

#[tokio::test]
async fn every_instance_restarted_mid_hold_resumes_with_the_hold_left() {
    use switchyard_testkit::process::ServerProcess;
    let redis = switchyard_testkit::redis::RedisServer::start();
    let logs = tempfile::tempdir().unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_switchyard-server"));
    let launch = |n: usize| {
        let env = [
            ("SWITCHYARD_STORE__REDIS_URL", redis.url()),
            ("SWITCHYARD_STORE__REDIS_PREFIX", "restart".to_owned()),
            ("SWITCHYARD_PLANS__TICK_MS", "100".to_owned()),
            ("SWITCHYARD_SERVER__WORKERS", "1".to_owned()),
            ("SWITCHYARD_ADMIN_TOKEN", ADMIN.to_owned()),
            ("SWITCHYARD_SDK_TOKEN", crate::helpers::SDK.to_owned()),
        ];
        ServerProcess::start(bin, &env, &logs.path().join(format!("{n}.log")))
    };
    let http = reqwest::Client::new();
    let call = |base: String, method: Method, path: &str, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(ADMIN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let (mut a, mut b) = (launch(1), launch(2));
    call(
        a.base(),
        Method::PUT,
        "/v1/flags/f",
        Some(json!({"enabled": true})),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let res = call(
        b.base(),
        Method::PUT,
        "/v1/flags/f/plan",
        Some(json!({"stages": [{"rollout_percentage": 10, "hold": "6s"}, {"rollout_percentage": 100}]})),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    // Durations, not waits: a second of the hold passes with the fleet up, then one with it
    // down; the restarted fleet must count both.
    tokio::time::sleep(Duration::from_secs(1)).await;
    a.kill();
    b.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let c = launch(3);
    let _d = launch(4);
    let shown = |base: String| {
        let get = call(base, Method::GET, "/v1/flags/f/plan", None);
        async move { get.await.unwrap().json::<Value>().await.unwrap() }
    };
    let resumed = shown(c.base()).await;
    assert_eq!(resumed["state"], "running", "{resumed}");
    let left = resumed["hold_left_ms"].as_u64().unwrap();
    assert!(
        left < 4_500,
        "the hold left after the restart, not a new hold: {left} ms"
    );
    while shown(c.base()).await["state"] != "completed" {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never completed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let at = started.elapsed();
    assert!(
        at >= Duration::from_secs(6),
        "completed before its hold: {at:?}"
    );
}

#[tokio::test]
async fn an_import_that_turns_kill_switches_on_is_told_too() {
    let hooks = Receiver::start();
    let app = planned(&[hooks.url()]).await;
    app.create("f", json!({"enabled": true})).await;
    let backup = json!({
        "format": 1,
        "global_kill_switch": {"active": true, "reason": "restored incident"},
        "flags": [{"key": "f", "enabled": true, "kill_switch": true}]
    });
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/import?mode=merge",
            Some(ADMIN),
            Some(backup),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("two kill switch webhooks", || async {
        events(&hooks).len() == 2
    })
    .await;
    let texts: Vec<String> = hooks
        .bodies()
        .iter()
        .map(|b| {
            serde_json::from_str::<Value>(b).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        texts.contains(
            &"f was killed by env-admin: kill switch on as in the imported backup".to_owned()
        ),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"The global kill switch was turned ON by env-admin: restored incident (every flag is off)".to_owned()),
        "{texts:?}"
    );
}
