//! `switchyard plan` against a real server whose scheduler looks every 50 ms: start (with
//! confirmation), status lines, pause, resume, advance, abort, and bad input refused before
//! any request.

use crate::helpers::{ADMIN, ok, run_as, server_with};

#[tokio::test]
async fn a_plan_from_the_terminal() {
    let s = server_with(|s| s.plans.tick_ms = 50).await;
    ok(&s, &["flags", "create", "search-v3", "--enabled"]).await;
    let refused = run_as(
        &s,
        Some(ADMIN),
        &["plan", "start", "search-v3", "--stages", "10:1h,100"],
    )
    .await;
    assert_eq!(refused.code, 1, "asks for confirmation: {}", refused.stderr);
    let started = ok(
        &s,
        &[
            "plan",
            "start",
            "search-v3",
            "--stages",
            "10:1h,50:1h,100",
            "--on-trip",
            "rollback",
            "--yes",
        ],
    )
    .await;
    assert!(
        started
            .stdout
            .starts_with("plan started: search-v3  running  stage 1/3 at 10 %, next stage in 59m"),
        "{}",
        started.stdout
    );
    let status = ok(&s, &["plan", "status"]).await;
    assert!(
        status
            .stdout
            .starts_with("search-v3  running  stage 1/3 at 10 %"),
        "{}",
        status.stdout
    );
    let paused = ok(
        &s,
        &[
            "plan",
            "pause",
            "search-v3",
            "--reason",
            "looking at a graph",
        ],
    )
    .await;
    assert!(
        paused.stdout.contains("paused  stage 1/3 at 10 %, 59m"),
        "{}",
        paused.stdout
    );
    assert!(
        paused.stdout.contains("of hold left (paused by env-admin)"),
        "{}",
        paused.stdout
    );
    ok(&s, &["plan", "resume", "search-v3"]).await;
    let advanced = ok(&s, &["plan", "advance", "search-v3"]).await;
    assert!(
        advanced.stdout.contains("stage 2/3 at 50 %"),
        "{}",
        advanced.stdout
    );
    let done = ok(&s, &["plan", "advance", "search-v3"]).await;
    assert!(
        done.stdout
            .starts_with("search-v3  completed  stage 3/3 at 100 %"),
        "{}",
        done.stdout
    );
    let late = run_as(&s, Some(ADMIN), &["plan", "abort", "search-v3"]).await;
    assert_eq!(late.code, 5, "{}", late.stderr);
    assert!(
        late.stderr.contains("the plan is completed already"),
        "{}",
        late.stderr
    );
    let json = ok(&s, &["plan", "status", "search-v3", "--json"])
        .await
        .json();
    assert_eq!(json["plans"][0]["state"], "completed");
}

#[tokio::test]
async fn bad_plans_are_refused_with_a_message() {
    let s = server_with(|_| {}).await;
    ok(&s, &["flags", "create", "f"]).await;
    for (args, code, needle) in [
        (vec!["--stages", "101"], 2, "PERCENT (0-100)"),
        (vec!["--stages", "5:1w,100"], 2, "unit"),
        (
            vec!["--stages", "5:1h", "--guard", "5xx:q"],
            2,
            "NAME:QUERY>THRESHOLD",
        ),
        (vec![], 2, "--stages"),
        (vec!["--template", "standard"], 2, "PROMETHEUS_URL"),
        (
            vec!["--stages", "5:1h", "--guard", "e:up>1 for 1m"],
            2,
            "PROMETHEUS_URL",
        ),
    ] {
        let mut all = vec!["plan", "start", "f", "--yes"];
        all.extend(args.iter().copied());
        let run = run_as(&s, Some(ADMIN), &all).await;
        assert_eq!(run.code, code, "{all:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{all:?}: {}", run.stderr);
    }
    let none = ok(&s, &["plan", "status"]).await;
    assert_eq!(none.stdout.trim(), "no release plans");
    let missing = run_as(&s, Some(ADMIN), &["plan", "pause", "f"]).await;
    assert_eq!(missing.code, 4, "{}", missing.stderr);
}
