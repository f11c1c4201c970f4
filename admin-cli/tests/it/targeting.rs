//! Variants, rules and prerequisites edited from the terminal, end to end against a real
//! server: each edit conditional on the version read, bad input a plain message and exit 2,
//! and `eval` showing the value, the variant and the rule that decided.

use crate::helpers::{ADMIN, get, ok, run_as, server};

/// `eval` for a beta tester on app 2.4.0.
const BETA_EVAL: &[&str] = &[
    "eval",
    "checkout",
    "--user",
    "u1",
    "--attr",
    "plan=beta",
    "--attr",
    "app_version=2.4.0",
];

#[tokio::test]
async fn variants_rules_and_requires_from_the_terminal() {
    let s = server().await;
    ok(&s, &["flags", "create", "new-checkout", "--enabled"]).await;
    ok(&s, &["rollout", "new-checkout", "100", "--yes"]).await;
    ok(&s, &["flags", "create", "checkout", "--enabled"]).await;

    let set = ok(
        &s,
        &[
            "variants",
            "set",
            "checkout",
            r##"blue="#0055ff":500"##,
            r##"green="#00aa55":500"##,
            "--off",
            r##""#888888""##,
        ],
    )
    .await;
    assert!(
        set.stdout
            .contains("on/off → blue=\"#0055ff\":500 green=\"#00aa55\":500"),
        "{}",
        set.stdout
    );
    let added = ok(
        &s,
        &[
            "rules",
            "add",
            "checkout",
            "beta on app 2.3+",
            "--when",
            "app_version SEMVER_GT 2.2.9",
            "--when",
            "plan IN beta,staff",
            "--variant",
            "green",
        ],
    )
    .await;
    assert!(
        added.stdout.contains("rules none → beta on app 2.3+"),
        "{}",
        added.stdout
    );
    ok(
        &s,
        &[
            "rules",
            "add",
            "checkout",
            "half of FR",
            "--when",
            "market IN FR",
            "--rollout",
            "50",
        ],
    )
    .await;
    ok(
        &s,
        &[
            "rules",
            "add",
            "checkout",
            "staff first",
            "--when",
            "email STR_ENDS_WITH @example.com",
            "--at",
            "1",
        ],
    )
    .await;
    let listed = ok(&s, &["rules", "list", "checkout"]).await;
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert!(lines[0].starts_with("#  RULE"), "{}", listed.stdout);
    assert!(lines[1].starts_with("1  staff first"), "{}", listed.stdout);
    assert!(
        lines[2].contains("app_version SEMVER_GT 2.2.9 and plan IN beta,staff"),
        "{}",
        listed.stdout
    );
    assert!(
        lines[3].contains("half of FR") && lines[3].contains("50%"),
        "{}",
        listed.stdout
    );
    ok(&s, &["rules", "move", "checkout", "staff first", "3"]).await;
    let flag = get(&s, "/v1/flags/checkout").await;
    let names: Vec<&str> = flag["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["beta on app 2.3+", "half of FR", "staff first"]);
    ok(&s, &["rules", "remove", "checkout", "staff first"]).await;
    ok(&s, &["requires", "checkout", "new-checkout"]).await;
    assert_eq!(
        get(&s, "/v1/flags/checkout").await["requires"][0]["flag"],
        "new-checkout"
    );

    let eval = ok(&s, BETA_EVAL).await;
    assert_eq!(
        eval.stdout.trim(),
        r##"checkout for user u1: ON serving green = "#00aa55" (RULE_MATCH, rule "beta on app 2.3+", v8)"##
    );
    let eval = ok(&s, &["eval", "checkout", "--user", "u1"]).await;
    assert!(
        eval.stdout
            .contains(r##"off serving off = "#888888" (ROLLOUT"##),
        "{}",
        eval.stdout
    );
    // Offline from an export, the same answer.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.json");
    ok(&s, &["export", file.to_str().unwrap()]).await;
    let offline = [BETA_EVAL, &["--offline", "--file", file.to_str().unwrap()]].concat();
    let offline = ok(&s, &offline).await;
    assert!(
        offline
            .stdout
            .contains(r##"ON serving green = "#00aa55" (RULE_MATCH, rule "beta on app 2.3+""##),
        "{}",
        offline.stdout
    );

    // Bad input: a plain message, exit 2, nothing changed.
    let version = get(&s, "/v1/flags/checkout").await["version"].clone();
    for bad in [
        vec![
            "rules",
            "add",
            "checkout",
            "x",
            "--when",
            "plan SOUNDS_LIKE beta",
        ],
        vec!["rules", "add", "checkout", "x", "--when", "plan"],
        vec!["rules", "add", "checkout", "half of FR"],
        vec!["rules", "remove", "checkout", "nobody"],
        vec![
            "variants",
            "set",
            "checkout",
            "blue=not-json:500",
            "--off",
            "\"\"",
        ],
    ] {
        let run = run_as(&s, Some(ADMIN), &bad).await;
        assert_eq!(run.code, 2, "{bad:?}: {}{}", run.stdout, run.stderr);
        assert!(
            !run.stderr.is_empty() && !run.stderr.contains("panicked"),
            "{}",
            run.stderr
        );
    }
    // What the server refuses (a weight sum of 999, a cycle) is a plain message too.
    let run = run_as(
        &s,
        Some(ADMIN),
        &[
            "variants",
            "set",
            "checkout",
            "blue=\"a\":500",
            "green=\"b\":499",
            "--off",
            "\"\"",
        ],
    )
    .await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("sum to 999"), "{}", run.stderr);
    let run = run_as(&s, Some(ADMIN), &["requires", "new-checkout", "checkout"]).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("cycle"), "{}", run.stderr);
    assert_eq!(get(&s, "/v1/flags/checkout").await["version"], version);

    ok(&s, &["requires", "checkout"]).await;
    ok(&s, &["rules", "remove", "checkout", "beta on app 2.3+"]).await;
    let cleared = ok(&s, &["variants", "clear", "checkout"]).await;
    assert!(cleared.stdout.contains("→ on/off"), "{}", cleared.stdout);
}

#[tokio::test]
async fn segments_from_the_terminal() {
    let s = server().await;
    let created = ok(
        &s,
        &[
            "segments",
            "create",
            "beta-testers",
            "--when",
            "plan IN beta,staff",
            "--description",
            "beta",
        ],
    )
    .await;
    assert_eq!(
        created.stdout.trim(),
        "created segment beta-testers (v1): plan IN beta,staff"
    );
    ok(&s, &["flags", "create", "checkout", "--enabled"]).await;
    ok(
        &s,
        &[
            "rules",
            "add",
            "checkout",
            "beta",
            "--segment",
            "beta-testers",
        ],
    )
    .await;
    let on = ok(
        &s,
        &["eval", "checkout", "--user", "u", "--attr", "plan=staff"],
    )
    .await;
    assert!(
        on.stdout.contains("ON (RULE_MATCH, rule \"beta\""),
        "{}",
        on.stdout
    );
    let edited = ok(
        &s,
        &["segments", "edit", "beta-testers", "--when", "plan IN beta"],
    )
    .await;
    assert_eq!(
        edited.stdout.trim(),
        "segment beta-testers plan IN beta,staff → plan IN beta (v1 → v2)"
    );
    let off = ok(
        &s,
        &["eval", "checkout", "--user", "u", "--attr", "plan=staff"],
    )
    .await;
    assert!(off.stdout.contains("off (ROLLOUT"), "{}", off.stdout);
    let listed = ok(&s, &["segments", "list"]).await;
    assert!(
        listed
            .stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("beta-testers  plan IN beta")),
        "{}",
        listed.stdout
    );
    // In use: refused as a conflict (exit 5), naming the flag; a bad constraint is exit 2.
    let run = run_as(
        &s,
        Some(ADMIN),
        &["segments", "delete", "beta-testers", "--yes"],
    )
    .await;
    assert_eq!(run.code, 5, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("checkout"), "{}", run.stderr);
    let run = run_as(
        &s,
        Some(ADMIN),
        &["segments", "create", "x", "--when", "plan IS beta"],
    )
    .await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    ok(&s, &["rules", "remove", "checkout", "beta"]).await;
    let deleted = ok(&s, &["segments", "delete", "beta-testers", "--yes"]).await;
    assert_eq!(
        deleted.stdout.trim(),
        "deleted segment beta-testers (was v2)"
    );
    assert!(
        get(&s, "/v1/segments").await["segments"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_release_plan_walks_a_rule_from_the_terminal() {
    let s = server().await;
    ok(&s, &["flags", "create", "checkout", "--enabled"]).await;
    ok(
        &s,
        &[
            "rules",
            "add",
            "checkout",
            "FR",
            "--when",
            "market IN FR",
            "--rollout",
            "0",
        ],
    )
    .await;
    ok(
        &s,
        &[
            "plan",
            "start",
            "checkout",
            "--rule",
            "FR",
            "--stages",
            "25:1h,100",
            "--yes",
        ],
    )
    .await;
    let flag = get(&s, "/v1/flags/checkout").await;
    assert_eq!(flag["rules"][0]["rollout_percentage"], 25, "{flag}");
    assert_eq!(flag["plan"]["rule"], "FR");
    let listed = ok(&s, &["rules", "list", "checkout"]).await;
    assert!(listed.stdout.contains("25%"), "{}", listed.stdout);
}
