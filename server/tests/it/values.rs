//! Flags beyond on/off through real sockets (docs/flags.md#values-rules-segments-and-prerequisites):
//! a flag with variants, rules and a prerequisite is written, served with its value, variant
//! and rule on every evaluation route, patched whole under a version, refused field by field
//! when wrong (changing nothing), and carried by the backup.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN, SDK, TestApp, problem, spawn_app};

fn checkout() -> Value {
    json!({
        "enabled": true,
        "rollout_percentage": 0,
        "variants": [
            {"name": "blue", "value": "#0055ff", "weight": 500},
            {"name": "green", "value": "#00aa55", "weight": 500}
        ],
        "off_value": "#888888",
        "rules": [
            {"name": "beta on app 2.3+",
             "constraints": [{"attribute": "app_version", "operator": "SEMVER_GT", "value": "2.2.9"},
                             {"attribute": "plan", "operator": "IN", "values": ["beta"]}],
             "variant": "green"},
            {"name": "half of FR",
             "constraints": [{"attribute": "market", "operator": "IN", "values": ["FR"]}],
             "rollout_percentage": 50}
        ],
        "requires": [{"flag": "new-checkout"}]
    })
}

async fn evaluate(app: &TestApp, flag: &str, context: Value) -> Value {
    let body = json!({"flag": flag, "context": context});
    let (status, answer) = app
        .call(Method::POST, "/v1/evaluate", Some(SDK), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn ofrep(app: &TestApp, flag: &str, context: Value) -> Value {
    let path = format!("/ofrep/v1/evaluate/flags/{flag}");
    let (status, answer) = app
        .call(
            Method::POST,
            &path,
            Some(SDK),
            Some(json!({"context": context})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

#[tokio::test]
async fn values_variants_and_rules_are_served_on_every_route() {
    let app = spawn_app().await;
    app.create(
        "new-checkout",
        json!({"enabled": true, "rollout_percentage": 100}),
    )
    .await;
    let created = app.create("checkout", checkout()).await;
    assert_eq!(created["rules"][1]["rollout_percentage"], 50);
    assert_eq!(created["requires"], json!([{"flag": "new-checkout"}]));

    let beta = json!({"user_id": "u1", "plan": "beta", "app_version": "2.4.0"});
    let answer = evaluate(&app, "checkout", beta.clone()).await;
    assert_eq!(
        answer,
        json!({"flag": "checkout", "enabled": true, "variant": "green", "value": "#00aa55",
               "rule": "beta on app 2.3+", "reason": "RULE_MATCH", "version": 1})
    );
    let answer = evaluate(
        &app,
        "checkout",
        json!({"user_id": "u1", "app_version": "2.4.0"}),
    )
    .await;
    assert_eq!(
        (
            &answer["enabled"],
            &answer["variant"],
            &answer["value"],
            &answer["reason"]
        ),
        (
            &json!(false),
            &json!("off"),
            &json!("#888888"),
            &json!("ROLLOUT")
        )
    );
    assert!(answer.get("rule").is_none(), "{answer}");
    // A boolean flag answers as before, with its value.
    let answer = evaluate(&app, "new-checkout", json!({"user_id": "u1"})).await;
    assert_eq!(
        answer,
        json!({"flag": "new-checkout", "enabled": true, "variant": "on", "value": true,
               "reason": "ROLLOUT", "version": 1})
    );

    let answer = ofrep(&app, "checkout", beta.clone()).await;
    assert_eq!(
        answer,
        json!({"key": "checkout", "value": "#00aa55", "variant": "green",
               "reason": "TARGETING_MATCH",
               "metadata": {"reason": "RULE_MATCH", "rule": "beta on app 2.3+", "version": 1}})
    );
    // Half of FR: a partial rule is SPLIT, and serves both variants across users.
    let mut served = std::collections::HashSet::new();
    for i in 0..60 {
        let answer = ofrep(
            &app,
            "checkout",
            json!({"targetingKey": format!("user-{i}"), "market": "FR"}),
        )
        .await;
        if answer["metadata"]["reason"] == "RULE_MATCH" {
            assert_eq!(answer["reason"], "SPLIT", "{answer}");
            served.insert(answer["value"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(served.len(), 2, "{served:?}");

    // Bulk carries the same answers.
    let (status, bulk) = app
        .call(
            Method::POST,
            "/v1/evaluate/bulk",
            Some(SDK),
            Some(json!({"context": beta})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bulk["flags"][0]["value"], "#00aa55", "{bulk}");
    assert_eq!(bulk["flags"][0]["rule"], "beta on app 2.3+");
    assert_eq!(bulk["flags"][1]["value"], true);

    // The prerequisite off: off for everyone, with its reason.
    app.call(
        Method::PATCH,
        "/v1/flags/new-checkout",
        Some(ADMIN),
        Some(json!({"enabled": false})),
    )
    .await;
    let answer = evaluate(
        &app,
        "checkout",
        json!({"user_id": "u1", "plan": "beta", "app_version": "2.4.0"}),
    )
    .await;
    assert_eq!(
        (&answer["reason"], &answer["value"]),
        (&json!("PREREQUISITE_FAILED"), &json!("#888888"))
    );
    let answer = ofrep(&app, "checkout", json!({"targetingKey": "u1"})).await;
    assert_eq!(answer["reason"], "DEFAULT", "{answer}");
    // A flag others require cannot be deleted.
    let res = app
        .send(Method::DELETE, "/v1/flags/new-checkout", Some(ADMIN), None)
        .await;
    let body = problem(res, StatusCode::CONFLICT).await;
    assert!(
        body["detail"].as_str().unwrap().contains("checkout"),
        "{body}"
    );
}

#[tokio::test]
async fn typed_values_of_every_kind_reach_ofrep() {
    let app = spawn_app().await;
    for (key, values, off) in [
        ("label", [json!("a"), json!("b")], json!("")),
        ("limit", [json!(10), json!(2.5)], json!(0)),
        (
            "layout",
            [json!({"cols": 2}), json!({"cols": 3, "dense": true})],
            json!({}),
        ),
    ] {
        app.create(
            key,
            json!({"enabled": true, "rollout_percentage": 100,
                   "variants": [{"name": "x", "value": values[0], "weight": 1000},
                                {"name": "y", "value": values[1], "weight": 0}],
                   "off_value": off}),
        )
        .await;
        let answer = ofrep(&app, key, json!({"targetingKey": "u"})).await;
        assert_eq!(
            (&answer["value"], &answer["variant"]),
            (&values[0], &json!("x"))
        );
        assert_eq!(answer["reason"], "STATIC", "{answer}");
    }
    let (status, bulk) = app
        .call(
            Method::POST,
            "/ofrep/v1/evaluate/flags",
            Some(SDK),
            Some(json!({"context": {"targetingKey": "u"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let values: Vec<&Value> = bulk["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["value"])
        .collect();
    assert_eq!(values, [&json!("a"), &json!({"cols": 2}), &json!(10)]);
}

/// Spoils one field of a good flag.
type Spoil = Box<dyn Fn(&mut Value)>;

#[tokio::test]
async fn every_bad_field_is_a_400_naming_it_and_changes_nothing() {
    let app = spawn_app().await;
    app.create("new-checkout", json!({"enabled": true})).await;
    let cases: Vec<(&str, Spoil, &str)> = vec![
        (
            "variants",
            Box::new(|f| f["variants"][1]["weight"] = json!(499)),
            "sum to 999",
        ),
        (
            "variants[1].value",
            Box::new(|f| f["variants"][1]["value"] = json!(3)),
            "is a number",
        ),
        (
            "off_value",
            Box::new(|f| f["off_value"] = json!(false)),
            "is a boolean",
        ),
        (
            "rules[0].constraints[0]",
            Box::new(|f| f["rules"][0]["constraints"][0]["operator"] = json!("SOUNDS_LIKE")),
            "unknown operator",
        ),
        (
            "rules[0].constraints[0]",
            Box::new(|f| {
                f["rules"][0]["constraints"][0] =
                    json!({"attribute": "a", "operator": "REGEX", "value": "(open"});
            }),
            "does not compile",
        ),
        (
            "rules[0].segments[0]",
            Box::new(|f| f["rules"][0]["segments"] = json!(["nobody"])),
            "does not exist",
        ),
        (
            "rules[0].variant",
            Box::new(|f| f["rules"][0]["variant"] = json!("red")),
            "not one of",
        ),
        (
            "requires[0].flag",
            Box::new(|f| f["requires"] = json!([{"flag": "missing"}])),
            "does not exist",
        ),
        (
            "requires[0].variants[0]",
            Box::new(|f| f["requires"] = json!([{"flag": "new-checkout", "variants": ["v9"]}])),
            "never serves",
        ),
    ];
    for (field, spoil, says) in cases {
        let mut body = checkout();
        spoil(&mut body);
        let res = app
            .send(Method::PUT, "/v1/flags/checkout", Some(ADMIN), Some(body))
            .await;
        let answer = problem(res, StatusCode::BAD_REQUEST).await;
        let named = answer["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["field"] == field && p["message"].as_str().unwrap_or("").contains(says));
        assert!(named, "{field}: {answer}");
    }
    // An unknown field inside a rule is refused by its path, not dropped.
    let mut body = checkout();
    body["rules"][0]["rollout"] = json!(10);
    let res = app
        .send(Method::PUT, "/v1/flags/checkout", Some(ADMIN), Some(body))
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("rules.0.rollout"),
        "{answer}"
    );
    let (status, _) = app
        .call(Method::GET, "/v1/flags/checkout", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was written");

    // A cycle through requires, named, and the first flag left as it was.
    app.create("checkout", checkout()).await;
    let res = app
        .send(
            Method::PATCH,
            "/v1/flags/new-checkout",
            Some(ADMIN),
            Some(json!({"requires": [{"flag": "checkout"}]})),
        )
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(
        answer.to_string().contains("would make a cycle"),
        "{answer}"
    );
    let (_, parent) = app
        .call(Method::GET, "/v1/flags/new-checkout", Some(ADMIN), None)
        .await;
    assert_eq!(
        (parent["version"].as_u64(), parent.get("requires")),
        (Some(1), None)
    );
}

#[tokio::test]
async fn patch_takes_rules_and_variants_whole_under_a_version() {
    let app = spawn_app().await;
    app.create(
        "new-checkout",
        json!({"enabled": true, "rollout_percentage": 100}),
    )
    .await;
    app.create("checkout", checkout()).await;
    let rules = json!([{"name": "staff", "constraints": [{"attribute": "email", "operator": "STR_ENDS_WITH", "values": ["@example.com"]}], "variant": "blue"}]);
    let (status, patched) = app
        .call(
            Method::PATCH,
            "/v1/flags/checkout",
            Some(ADMIN),
            Some(json!({"rules": rules, "expected_version": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["rules"].as_array().unwrap().len(), 1);
    assert_eq!(
        patched["variants"].as_array().unwrap().len(),
        2,
        "variants kept"
    );
    // A stale version is a 409 and changes nothing.
    let res = app
        .send(
            Method::PATCH,
            "/v1/flags/checkout",
            Some(ADMIN),
            Some(json!({"variants": [], "off_value": null, "rules": [], "expected_version": 1})),
        )
        .await;
    problem(res, StatusCode::CONFLICT).await;
    let answer = evaluate(
        &app,
        "checkout",
        json!({"user_id": "u", "email": "a@example.com"}),
    )
    .await;
    assert_eq!(
        (&answer["value"], &answer["rule"]),
        (&json!("#0055ff"), &json!("staff"))
    );
    // Back to a boolean flag: variants, off_value and rules cleared together.
    let (status, plain) = app
        .call(
            Method::PATCH,
            "/v1/flags/checkout",
            Some(ADMIN),
            Some(json!({"variants": [], "off_value": null, "rules": [], "expected_version": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    assert!(plain.get("variants").is_none() && plain.get("off_value").is_none());
    // Its history and rollback carry the rules back.
    let (status, back) = app
        .call(
            Method::POST,
            "/v1/flags/checkout/rollback",
            Some(ADMIN),
            Some(json!({"to_version": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["rules"][0]["name"], "staff");
}

#[tokio::test]
async fn a_date_rule_reads_the_clock_and_its_bulk_answer_is_never_cached() {
    let app = spawn_app().await;
    app.create(
        "launch",
        json!({"enabled": true, "rules": [{"name": "after", "constraints": [
            {"attribute": "current_time", "operator": "DATE_AFTER", "value": "2020-01-01T00:00:00Z"}]}]}),
    )
    .await;
    let answer = evaluate(&app, "launch", json!({"user_id": "u"})).await;
    assert_eq!(
        (&answer["enabled"], &answer["rule"]),
        (&json!(true), &json!("after"))
    );
    let answer = evaluate(
        &app,
        "launch",
        json!({"user_id": "u", "current_time": "2019-06-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(answer["enabled"], false, "a time the context sends wins");
    let res = app
        .send(
            Method::POST,
            "/v1/evaluate/bulk",
            Some(SDK),
            Some(json!({"context": {}})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get("etag").is_none(),
        "an answer that changes with time has no ETag"
    );
}

#[tokio::test]
async fn the_backup_carries_rules_and_refuses_a_cycle() {
    let source = spawn_app().await;
    source
        .create("new-checkout", json!({"enabled": true}))
        .await;
    source.create("checkout", checkout()).await;
    let (_, backup) = source
        .call(Method::GET, "/v1/export", Some(ADMIN), None)
        .await;
    assert_eq!(backup["format"], 2);
    let target = spawn_app().await;
    let (status, plan) = target
        .call(
            Method::POST,
            "/v1/import",
            Some(ADMIN),
            Some(backup.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let (_, flag) = target
        .call(Method::GET, "/v1/flags/checkout", Some(ADMIN), None)
        .await;
    assert_eq!(flag["rules"], backup["flags"][0]["rules"]);
    // A cycle or a missing prerequisite in a backup is refused whole.
    let mut cyclic = backup.clone();
    cyclic["flags"][1]["requires"] = json!([{"flag": "checkout"}]);
    let res = target
        .send(Method::POST, "/v1/import", Some(ADMIN), Some(cyclic))
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(answer.to_string().contains("makes a cycle"), "{answer}");
    let mut orphan = backup;
    orphan["flags"].as_array_mut().unwrap().remove(1);
    let res = target
        .send(Method::POST, "/v1/import", Some(ADMIN), Some(orphan))
        .await;
    let answer = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(answer.to_string().contains("does not exist"), "{answer}");
    // A format 1 backup (flags only) still imports.
    let old = json!({"format": 1, "flags": [{"key": "plain", "enabled": true}]});
    let (status, plan) = target
        .call(
            Method::POST,
            "/v1/import?mode=merge",
            Some(ADMIN),
            Some(old),
        )
        .await;
    assert_eq!(
        (status, &plan["created"]),
        (StatusCode::OK, &json!(["plain"]))
    );
}
