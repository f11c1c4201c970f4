//! The web console in a real headless Chromium (docs/api.md#console), against a real server, through the
//! accessible names a screen reader would use: sign in, walk a rollout with the stage
//! buttons, kill and lift a flag with a reason, the global switch and its banner in a second
//! browser within a second, a concurrent change's 409 shown and retried, a viewer without
//! write controls (and its forced request refused), rollback from history, evaluation.
//! With `SWITCHYARD_SCREENSHOTS=DIR`, the main pages are saved there as PNGs (docs/).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{ADMIN, TestApp, spawn_app};

async fn signed_in(app: &TestApp, token: &str, width: u32) -> Browser {
    let browser = Browser::start(width).await;
    browser.open(&format!("{}/console", app.base)).await;
    let field = browser.find("textbox", "Token").await;
    browser.type_into(&field, token).await;
    browser
        .click(&browser.find("button", "Sign in").await)
        .await;
    browser.find("table", "Flags").await;
    browser
}

async fn flag(app: &TestApp, key: &str) -> Value {
    app.call(Method::GET, &format!("/v1/flags/{key}"), Some(ADMIN), None)
        .await
        .1
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "not within 5 s: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn screenshot(browser: &Browser, name: &str) {
    if let Ok(dir) = std::env::var("SWITCHYARD_SCREENSHOTS") {
        browser
            .screenshot(&std::path::Path::new(&dir).join(name))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_walk_a_rollout_kill_and_lift_with_a_reason() {
    let app = spawn_app().await;
    app.create(
        "new-onboarding",
        json!({"enabled": true, "description": "The new sign-up flow", "whitelist": ["qa-1"]}),
    )
    .await;
    app.create(
        "checkout-v2",
        json!({"enabled": true, "rollout_percentage": 100, "markets": ["FR", "US"]}),
    )
    .await;
    let b = signed_in(&app, ADMIN, 1280).await;
    screenshot(&b, "console-flags.png").await;
    b.click(&b.find("link", "new-onboarding").await).await;
    for percent in [5, 25, 50] {
        b.click(&b.find("button", &format!("{percent} %")).await)
            .await;
        until("the rollout", async || {
            flag(&app, "new-onboarding").await["rollout_percentage"] == percent
        })
        .await;
    }
    b.click(&b.find("button", "100 %").await).await;
    b.accept_alert().await;
    until("100 %", async || {
        flag(&app, "new-onboarding").await["rollout_percentage"] == 100
    })
    .await;
    let slider = b.find("slider", "Rollout percentage").await;
    until("the slider follows", async || {
        b.property(&slider, "value").await == "100"
    })
    .await;

    b.click(&b.find("button", "Kill switch").await).await;
    b.find("dialog", "Kill switch").await;
    b.type_into(
        &b.find("textbox", "Reason").await,
        "5xx spike after deploy 4711",
    )
    .await;
    b.click(&b.find("button", "Confirm kill").await).await;
    until("killed", async || {
        flag(&app, "new-onboarding").await["kill_switch"] == true
    })
    .await;
    let (_, page) = app
        .call(
            Method::GET,
            "/v1/audit?flag=new-onboarding&limit=1",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(page["entries"][0]["reason"], "5xx spike after deploy 4711");
    b.wait_for_text(Duration::from_secs(5), |t| t.contains("KILLED"))
        .await;
    screenshot(&b, "console-flag.png").await;
    b.click(&b.find("button", "Lift kill switch").await).await;
    until("lifted", async || {
        flag(&app, "new-onboarding").await["kill_switch"] == false
    })
    .await;

    // Evaluate, and the whole flags table by keyboard-reachable links.
    b.type_into(&b.find("textbox", "User").await, "qa-1").await;
    b.type_into(&b.find("textbox", "Market").await, "FR").await;
    b.click(&b.find("button", "Evaluate").await).await;
    b.wait_for_text(Duration::from_secs(5), |t| t.contains("ON (WHITELIST"))
        .await;
    b.click(&b.find("link", "Audit").await).await;
    b.find("table", "Audit").await;
    b.wait_for_text(Duration::from_secs(5), |t| {
        t.contains("5xx spike after deploy 4711")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_switch_and_its_banner_reach_a_second_browser_within_a_second() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true})).await;
    let (one, two) = (
        signed_in(&app, ADMIN, 1280).await,
        signed_in(&app, ADMIN, 390).await,
    );
    assert!(
        two.all("alert", "Global kill switch is ON")
            .await
            .is_empty()
    );
    one.click(&one.find("button", "Global kill switch").await)
        .await;
    one.type_into(&one.find("textbox", "Reason").await, "incident 42")
        .await;
    let confirm = one.find("button", "Confirm kill").await;
    one.click(&confirm).await;
    let clicked = Instant::now();
    let deadline = clicked + Duration::from_secs(1);
    while two
        .all("alert", "Global kill switch is ON")
        .await
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "no banner in the second browser within a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    screenshot(&two, "console-global-390px.png").await;
    one.click(&one.find("button", "Lift global kill switch").await)
        .await;
    two.wait_for_text(Duration::from_secs(5), |t| {
        !t.contains("Global kill switch is ON")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_change_is_a_409_shown_plainly_and_retried() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true})).await;
    let other = app.token("cli-operator", "editor").await;
    let b = signed_in(&app, ADMIN, 1280).await;
    b.click(&b.find("link", "f").await).await;
    // While this operator types, another changes the flag (as `switchyard rollout f 40` does).
    let markets = b.find("textbox", "Markets").await;
    b.type_into(&markets, "FR").await;
    let (status, _) = app
        .call(
            Method::PATCH,
            "/v1/flags/f",
            Some(&other),
            Some(json!({"rollout_percentage": 40})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    b.click(&b.find("button", "Save markets").await).await;
    let shown = b
        .wait_for_text(Duration::from_secs(5), |t| t.contains("meanwhile"))
        .await;
    assert!(
        shown.contains("Changed by cli-operator to v2 meanwhile: now on at 40 %"),
        "{shown}"
    );
    assert_eq!(
        flag(&app, "f").await["markets"],
        json!([]),
        "nothing applied"
    );
    b.click(&b.find("button", "Retry").await).await;
    until("retried", async || {
        flag(&app, "f").await["markets"] == json!(["FR"])
    })
    .await;
    assert_eq!(
        flag(&app, "f").await["rollout_percentage"],
        40,
        "the other change kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_no_write_control_and_a_forced_write_is_refused() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true})).await;
    let viewer = app.token("watcher", "viewer").await;
    let b = signed_in(&app, &viewer, 1280).await;
    assert!(b.all("button", "Global kill switch").await.is_empty());
    b.click(&b.find("link", "f").await).await;
    b.find("table", "History").await;
    for (role, name) in [
        ("button", "Kill switch"),
        ("button", "25 %"),
        ("checkbox", "Enabled"),
        ("slider", "Rollout percentage"),
    ] {
        assert!(
            b.all(role, name).await.is_empty(),
            "a viewer sees {role} {name:?}"
        );
    }
    let forced = b
        .run(
            "const done = arguments[arguments.length - 1];
             fetch('/v1/flags/f/kill', {method: 'POST', headers: {'Authorization': 'Bearer ' + sessionStorage.getItem('switchyard-token'), 'Content-Type': 'application/json'}, body: JSON.stringify({active: true, reason: 'forced'})})
               .then((r) => done(r.status));",
        )
        .await;
    assert_eq!(forced, 403);
    assert_eq!(flag(&app, "f").await["kill_switch"], false);
    // Sign out forgets the token.
    b.click(&b.find("button", "Sign out").await).await;
    b.find("textbox", "Token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_from_history() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true, "rollout_percentage": 10}))
        .await;
    app.call(
        Method::PATCH,
        "/v1/flags/f",
        Some(ADMIN),
        Some(json!({"rollout_percentage": 60})),
    )
    .await;
    let b = signed_in(&app, ADMIN, 1280).await;
    b.click(&b.find("link", "f").await).await;
    b.find("table", "History").await;
    b.wait_for_text(Duration::from_secs(5), |t| t.contains("rollout 10 → 60 %"))
        .await;
    screenshot(&b, "console-history.png").await;
    b.click(&b.find("button", "Roll back to v1").await).await;
    until("rolled back", async || {
        flag(&app, "f").await["rollout_percentage"] == 10
    })
    .await;
    assert_eq!(flag(&app, "f").await["version"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_is_shown_and_paused_from_the_console() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true})).await;
    crate::plans::start(
        &app,
        "f",
        json!({"stages": [{"rollout_percentage": 5, "hold": "24h"}, {"rollout_percentage": 100}]}),
    )
    .await;
    let b = signed_in(&app, ADMIN, 1280).await;
    b.wait_for_text(Duration::from_secs(5), |t| t.contains("running, stage 1/2"))
        .await;
    b.click(&b.find("link", "f").await).await;
    b.wait_for_text(Duration::from_secs(5), |t| {
        t.contains("running: stage 1 of 2 at 5 %")
    })
    .await;
    b.click(&b.find("button", "Pause plan").await).await;
    until("paused", async || {
        crate::plans::plan(&app, "f").await["state"] == "paused"
    })
    .await;
    b.find("button", "Resume plan").await;
}

#[tokio::test]
async fn the_console_is_served_from_the_binary_under_a_strict_policy() {
    let app = spawn_app().await;
    for (path, kind) in [
        ("/console", "text/html"),
        ("/console/app.js", "text/javascript"),
        ("/console/app.css", "text/css"),
    ] {
        let res = app.send(Method::GET, path, None, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let header = |name: &str| res.headers()[name].to_str().unwrap().to_owned();
        assert!(header("content-type").starts_with(kind), "{path}");
        let csp = header("content-security-policy");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
    let page = app
        .send(Method::GET, "/console", None, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("<script>") && !page.contains("style="),
        "no inline script or style"
    );
    // The API keeps its own stricter policy.
    let api = app.send(Method::GET, "/v1/me", Some(ADMIN), None).await;
    assert_eq!(
        api.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(
        api.json::<Value>().await.unwrap(),
        json!({"name": "env-admin", "role": "admin"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variants_rules_segments_and_evaluation_from_the_console() {
    let app = spawn_app().await;
    app.create(
        "checkout",
        json!({"enabled": true, "rollout_percentage": 100,
               "variants": [{"name": "blue", "value": "#0055ff", "weight": 500},
                            {"name": "green", "value": "#00aa55", "weight": 500}],
               "off_value": "#888888"}),
    )
    .await;
    let b = signed_in(&app, ADMIN, 1280).await;

    // A segment made on the segments page.
    b.click(&b.find("link", "Segments").await).await;
    b.find("table", "Segments").await;
    b.type_into(&b.find("textbox", "Segment key").await, "beta-testers")
        .await;
    b.type_into(
        &b.find("textbox", "Segment constraints").await,
        "plan IN beta,staff",
    )
    .await;
    b.click(&b.find("button", "Save segment").await).await;
    b.wait_for_text(Duration::from_secs(5), |t| t.contains("plan IN beta,staff"))
        .await;
    until("the segment stored", async || {
        app.call(Method::GET, "/v1/segments/beta-testers", Some(ADMIN), None)
            .await
            .0
            == StatusCode::OK
    })
    .await;

    // Weights keep their sum: moving blue up moves green down.
    b.click(&b.find("link", "Flags").await).await;
    b.click(&b.find("link", "checkout").await).await;
    let blue = b.find("slider", "Variant 1 weight").await;
    b.keys(&blue, "\u{E014}\u{E014}\u{E014}").await;
    let green = b.find("slider", "Variant 2 weight").await;
    until("the sum kept", async || {
        b.property(&b.find("slider", "Variant 1 weight").await, "value")
            .await
            == "530"
            && b.property(&green, "value").await == "470"
    })
    .await;
    b.wait_for_text(Duration::from_secs(5), |t| {
        t.contains("53 %") && t.contains("47 %")
    })
    .await;
    b.click(&b.find("button", "Save variants").await).await;
    until("the weights saved", async || {
        let f = flag(&app, "checkout").await;
        f["variants"][0]["weight"] == 530 && f["variants"][1]["weight"] == 470
    })
    .await;

    // A rule with a constraint and the segment, pinning green.
    b.type_into(&b.find("textbox", "Rule name").await, "beta on app 2.3+")
        .await;
    b.type_into(
        &b.find("textbox", "Rule constraints").await,
        "app_version SEMVER_GT 2.2.9",
    )
    .await;
    b.type_into(&b.find("textbox", "Rule segments").await, "beta-testers")
        .await;
    b.type_into(&b.find("textbox", "Rule variant").await, "green")
        .await;
    b.click(&b.find("button", "Add rule").await).await;
    until("the rule saved", async || {
        flag(&app, "checkout").await["rules"][0]["segments"][0] == "beta-testers"
    })
    .await;
    b.wait_for_text(Duration::from_secs(5), |t| {
        t.contains("app_version SEMVER_GT 2.2.9")
    })
    .await;
    // A bad constraint is shown plainly and changes nothing.
    b.type_into(&b.find("textbox", "Rule name").await, "broken")
        .await;
    b.type_into(
        &b.find("textbox", "Rule constraints").await,
        "plan SOUNDS_LIKE beta",
    )
    .await;
    b.click(&b.find("button", "Add rule").await).await;
    b.wait_for_text(Duration::from_secs(5), |t| t.contains("unknown operator"))
        .await;
    assert_eq!(
        flag(&app, "checkout").await["rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Evaluate with any attribute: the value, the variant and the rule.
    b.type_into(&b.find("textbox", "User").await, "u1").await;
    b.type_into(
        &b.find("textbox", "Attributes").await,
        "plan=beta\napp_version=2.4.0",
    )
    .await;
    b.click(&b.find("button", "Evaluate").await).await;
    b.wait_for_text(Duration::from_secs(5), |t| {
        t.contains(
            r##"ON · value "#00aa55" · variant green · rule "beta on app 2.3+" (RULE_MATCH"##,
        )
    })
    .await;

    // The segment is in use: its delete is refused, and said so.
    b.click(&b.find("link", "Segments").await).await;
    b.click(&b.find("button", "Delete segment beta-testers").await)
        .await;
    b.wait_for_text(Duration::from_secs(5), |t| {
        t.contains("used by the rules of checkout")
    })
    .await;
}
