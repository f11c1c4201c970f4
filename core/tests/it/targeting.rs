//! Flags beyond on/off (docs/flags.md#values-rules-segments-and-prerequisites): the decision
//! order with rules, segments and prerequisites, which variant and value is served, the
//! OpenFeature reasons, the clock as an input, and every write a validation refuses.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use switchyard_core::constraint::{Constraint, ConstraintSpec};
use switchyard_core::openfeature::reason;
use switchyard_core::{
    Context, Flag, FlagVariant, KillSwitch, Limits, Reason, Requirement, Rule, Segment, Snapshot,
    validate_flag, validate_flag_in, validate_segment,
};

fn constraint(attribute: &str, operator: &str, values: &[&str]) -> Constraint {
    let list = !matches!(
        operator,
        "NUM_GT" | "SEMVER_GT" | "DATE_AFTER" | "DATE_BEFORE"
    );
    Constraint::new(ConstraintSpec {
        attribute: attribute.into(),
        operator: operator.into(),
        values: if list {
            values.iter().map(|v| (*v).to_owned()).collect()
        } else {
            Vec::new()
        },
        value: (!list).then(|| values[0].to_owned()),
        ..ConstraintSpec::default()
    })
    .unwrap()
}

fn variant(name: &str, value: Value, weight: u32) -> FlagVariant {
    FlagVariant {
        name: name.into(),
        value,
        weight,
    }
}

/// SPEC §11's example: blue/green half and half, grey when off, a beta rule pinning green,
/// half of FR by a second rule, and a prerequisite.
fn checkout() -> Flag {
    let mut beta = Rule::new("beta on app 2.3+");
    beta.segments = vec!["beta-testers".into()];
    beta.constraints = vec![constraint("app_version", "SEMVER_GT", &["2.2.9"])];
    beta.variant = Some("green".into());
    let mut fr = Rule::new("half of FR");
    fr.constraints = vec![constraint("market", "IN", &["FR"])];
    fr.rollout_percentage = 50;
    Flag {
        enabled: true,
        variants: vec![
            variant("blue", json!("#0055ff"), 500),
            variant("green", json!("#00aa55"), 500),
        ],
        off_value: Some(json!("#888888")),
        rules: vec![beta, fr],
        requires: vec![Requirement::on("new-checkout")],
        version: 3,
        ..Flag::new("checkout-button")
    }
}

fn beta_testers() -> Segment {
    Segment {
        constraints: vec![constraint("plan", "IN", &["beta", "staff"])],
        version: 1,
        ..Segment::new("beta-testers")
    }
}

fn snapshot(parent_on: bool) -> Snapshot {
    let parent = Flag {
        enabled: parent_on,
        rollout_percentage: 100,
        version: 1,
        ..Flag::new("new-checkout")
    };
    Snapshot::new(1, KillSwitch::default(), [checkout(), parent]).with_segments([beta_testers()])
}

fn ctx(json: Value) -> Context<'static> {
    let text = json.to_string();
    serde_json::from_str::<Context<'_>>(&text)
        .unwrap()
        .into_owned()
}

#[test]
fn the_decision_order_with_rules_segments_and_prerequisites() {
    let snap = snapshot(true);
    let flag = snap.get("checkout-button").unwrap();
    let beta = ctx(json!({"user_id": "u1", "plan": "beta", "app_version": "2.3.0"}));
    let d = snap.evaluate("checkout-button", &beta);
    assert_eq!((d.enabled, d.reason), (true, Reason::RuleMatch));
    assert_eq!(flag.rule_name(&d), Some("beta on app 2.3+"));
    assert_eq!(flag.variant_name(&d), "green");
    assert_eq!(flag.value(&d), &json!("#00aa55"));
    assert_eq!(reason(&d, Some(flag)), "TARGETING_MATCH");

    // The segment is not matched: the beta rule does not include; an old app neither.
    for other in [
        json!({"user_id": "u1", "plan": "free", "app_version": "2.3.0"}),
        json!({"user_id": "u1", "plan": "beta", "app_version": "2.2.0"}),
        json!({"user_id": "u1", "plan": "beta", "app_version": "not a version"}),
    ] {
        let d = snap.evaluate("checkout-button", &ctx(other));
        assert_eq!(
            (d.enabled, d.reason, d.rule),
            (false, Reason::Rollout, None)
        );
        assert_eq!(flag.variant_name(&d), "off");
        assert_eq!(flag.value(&d), &json!("#888888"));
    }

    // Half of FR: the rule's own bucket, the flag's split for the variant.
    let (mut on, mut variants) = (0, std::collections::HashSet::new());
    for i in 0..400 {
        let c = ctx(json!({"user_id": format!("user-{i}"), "market": "FR"}));
        let d = snap.evaluate("checkout-button", &c);
        if d.enabled {
            on += 1;
            assert_eq!(flag.rule_name(&d), Some("half of FR"));
            assert_eq!(reason(&d, Some(flag)), "SPLIT");
            variants.insert(flag.variant_name(&d).to_owned());
        }
        // The same context, the same answer.
        assert_eq!(snap.evaluate("checkout-button", &c), d);
    }
    assert!((150..250).contains(&on), "{on} of 400 in a 50 % rule");
    assert_eq!(variants.len(), 2, "both variants served: {variants:?}");

    // The prerequisite off: off for everyone, beta testers too.
    let snap = snapshot(false);
    let d = snap.evaluate("checkout-button", &beta);
    assert_eq!((d.enabled, d.reason), (false, Reason::PrerequisiteFailed));
    assert_eq!(reason(&d, snap.get("checkout-button")), "DEFAULT");
    assert_eq!(
        snap.get("checkout-button").unwrap().value(&d),
        &json!("#888888")
    );
}

#[test]
fn kill_switches_and_markets_come_before_rules_and_the_whitelist_before_markets() {
    let mut flag = checkout();
    flag.requires.clear();
    flag.markets = switchyard_core::Markets::new(["DE"]);
    flag.whitelist = switchyard_core::Whitelist::new(["vip"]);
    let snap =
        Snapshot::new(1, KillSwitch::default(), [flag.clone()]).with_segments([beta_testers()]);
    let beta = json!({"user_id": "u1", "plan": "beta", "app_version": "3.0.0", "market": "FR"});
    let d = snap.evaluate("checkout-button", &ctx(beta.clone()));
    assert_eq!((d.enabled, d.reason), (false, Reason::MarketExcluded));
    let vip = snap.evaluate("checkout-button", &ctx(json!({"user_id": "vip"})));
    assert_eq!((vip.enabled, vip.reason), (true, Reason::Whitelist));
    assert!(["blue", "green"].contains(&flag.variant_name(&vip)));
    let killed = Flag {
        kill_switch: true,
        ..flag
    };
    let snap = Snapshot::new(1, KillSwitch::default(), [killed]);
    let d = snap.evaluate("checkout-button", &ctx(json!({"user_id": "vip"})));
    assert_eq!((d.enabled, d.reason), (false, Reason::KillSwitch));
}

#[test]
fn a_boolean_flag_is_unchanged_on_the_wire_and_a_rule_names_itself() {
    let flag = Flag {
        enabled: true,
        rollout_percentage: 25,
        ..Flag::new("plain")
    };
    let json = serde_json::to_value(&flag).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "description",
            "enabled",
            "key",
            "kill_switch",
            "markets",
            "rollout_percentage",
            "version",
            "whitelist"
        ]
    );
    let mut rule = Rule::new("staff");
    rule.constraints = vec![constraint("email", "STR_ENDS_WITH", &["@example.com"])];
    let with_rule = Flag {
        rules: vec![rule],
        ..flag
    };
    let staff = ctx(json!({"user_id": "x", "email": "ann@example.com"}));
    let d = switchyard_core::evaluate_flag(&with_rule, &staff);
    assert_eq!(
        (d.enabled, d.reason, d.rule),
        (true, Reason::RuleMatch, Some(0))
    );
    assert_eq!(with_rule.value(&d), &json!(true));
    assert_eq!(with_rule.variant_name(&d), "on");
    let back: Flag = serde_json::from_value(serde_json::to_value(&with_rule).unwrap()).unwrap();
    assert_eq!(back, with_rule);
}

#[test]
fn a_rule_splits_by_its_own_variants_and_stickiness_reads_an_attribute() {
    let mut rule = Rule::new("teams");
    rule.variants = vec![variant("a", json!(1), 500), variant("b", json!(2), 500)];
    rule.group_id = Some("exp".into());
    let flag = Flag {
        enabled: true,
        variants: vec![variant("base", json!(0), 1000)],
        off_value: Some(json!(-1)),
        rules: vec![rule],
        stickiness: Some("team".into()),
        ..Flag::new("n")
    };
    assert_eq!(validate_flag(&flag, &Limits::default()), Ok(()));
    let mut seen = std::collections::HashMap::new();
    for team in 0..200 {
        // Users of one team share a variant, whoever they are.
        let mut names = std::collections::HashSet::new();
        for user in 0..3 {
            let c = ctx(json!({"user_id": format!("{user}"), "team": format!("t{team}")}));
            let d = switchyard_core::evaluate_flag(&flag, &c);
            names.insert(flag.variant_name(&d).to_owned());
        }
        assert_eq!(names.len(), 1);
        *seen.entry(names.into_iter().next().unwrap()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[test]
fn prerequisites_compare_variants_and_stop_at_a_cycle() {
    let parent = Flag {
        enabled: true,
        rollout_percentage: 100,
        variants: vec![variant("v1", json!("x"), 1000)],
        off_value: Some(json!("")),
        ..Flag::new("parent")
    };
    let child = |required: Requirement| Flag {
        enabled: true,
        rollout_percentage: 100,
        requires: vec![required],
        ..Flag::new("child")
    };
    let on = |flags: Vec<Flag>| {
        let snap = Snapshot::new(1, KillSwitch::default(), flags);
        snap.evaluate("child", &Context::new()).enabled
    };
    let mut wants_v1 = Requirement::on("parent");
    wants_v1.variants = vec!["v1".into()];
    assert!(on(vec![parent.clone(), child(wants_v1)]));
    let mut wants_v2 = Requirement::on("parent");
    wants_v2.variants = vec!["v2".into()];
    assert!(!on(vec![parent.clone(), child(wants_v2)]));
    let mut wants_off = Requirement::on("parent");
    wants_off.enabled = false;
    assert!(!on(vec![parent.clone(), child(wants_off.clone())]));
    let parent_off = Flag {
        enabled: false,
        ..parent.clone()
    };
    assert!(on(vec![parent_off, child(wants_off)]));
    assert!(!on(vec![child(Requirement::on("missing"))]));
    // A cycle no write allows still ends, off.
    let looped = Flag {
        requires: vec![Requirement::on("child")],
        ..parent
    };
    assert!(!on(vec![looped, child(Requirement::on("parent"))]));
}

#[test]
fn date_constraints_read_the_clock_only_as_an_input() {
    let mut rule = Rule::new("after launch");
    rule.constraints = vec![constraint(
        "current_time",
        "DATE_AFTER",
        &["2026-12-01T00:00:00Z"],
    )];
    let flag = Flag {
        enabled: true,
        rules: vec![rule],
        ..Flag::new("launch")
    };
    let snap = Snapshot::new(1, KillSwitch::default(), [flag.clone()]);
    assert!(snap.uses_clock());
    assert!(!Snapshot::new(1, KillSwitch::default(), [Flag::new("x")]).uses_clock());
    let before: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
    let after: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap();
    let c = Context::new().user("u");
    assert!(
        !snap.evaluate("launch", &c).enabled,
        "no clock: no date to compare"
    );
    assert!(!snap.evaluate("launch", &c.clone().at(before)).enabled);
    assert!(snap.evaluate("launch", &c.clone().at(after)).enabled);
    // A time the context sends wins over the clock.
    let sent = ctx(json!({"user_id": "u", "current_time": "2026-11-30T00:00:00Z"})).at(after);
    assert!(!snap.evaluate("launch", &sent).enabled);
}

fn problems(flag: &Flag) -> Vec<String> {
    match validate_flag(flag, &Limits::default()) {
        Ok(()) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

fn says(problems: &[String], field: &str, words: &str) -> bool {
    problems
        .iter()
        .any(|p| p.starts_with(&format!("{field}: ")) && p.contains(words))
}

#[test]
fn every_bad_field_is_refused_by_name() {
    assert_eq!(problems(&checkout()), Vec::<String>::new());
    let mut f = checkout();
    f.variants[1].weight = 499;
    let p = problems(&f);
    assert!(says(&p, "variants", "sum to 999"), "{p:?}");
    let mut f = checkout();
    f.variants[1].value = json!(7);
    let p = problems(&f);
    assert!(says(&p, "variants[1].value", "is a number"), "{p:?}");
    let mut f = checkout();
    f.off_value = Some(json!({"a": 1}));
    assert!(says(&problems(&f), "off_value", "is a object"));
    let mut f = checkout();
    f.off_value = None;
    assert!(says(&problems(&f), "off_value", "needs the string"));
    let mut f = checkout();
    f.variants[0].name = "off".into();
    assert!(says(&problems(&f), "variants[0].name", "\"off\""));
    let mut f = checkout();
    f.variants[1].name = "blue".into();
    f.rules[0].variant = Some("blue".into());
    assert!(says(
        &problems(&f),
        "variants[1].name",
        "names two variants"
    ));
    let mut f = checkout();
    f.rules[0].variant = Some("red".into());
    assert!(says(
        &problems(&f),
        "rules[0].variant",
        "not one of the flag's variants"
    ));
    let mut f = checkout();
    f.rules[1].name = f.rules[0].name.clone();
    assert!(says(&problems(&f), "rules[1].name", "names two rules"));
    let mut f = checkout();
    f.rules[1].rollout_percentage = 101;
    assert!(says(
        &problems(&f),
        "rules[1].rollout_percentage",
        "0 to 100"
    ));
    let mut f = checkout();
    f.rules[0].constraints = vec![Constraint::lenient(ConstraintSpec {
        attribute: "a".into(),
        operator: "SOUNDS_LIKE".into(),
        ..ConstraintSpec::default()
    })];
    assert!(says(
        &problems(&f),
        "rules[0].constraints[0]",
        "unknown operator"
    ));
    let mut f = checkout();
    f.rules[0].constraints = vec![Constraint::lenient(ConstraintSpec {
        attribute: "a".into(),
        operator: "REGEX".into(),
        value: Some("(unclosed".into()),
        ..ConstraintSpec::default()
    })];
    assert!(says(
        &problems(&f),
        "rules[0].constraints[0]",
        "does not compile"
    ));
    let mut f = checkout();
    f.rules = (0..65).map(|i| Rule::new(format!("r{i}"))).collect();
    assert!(says(&problems(&f), "rules", "the limit is 64"));
    let mut f = checkout();
    f.rules[1].constraints = (0..33).map(|_| constraint("a", "IN", &["x"])).collect();
    assert!(says(
        &problems(&f),
        "rules[1].constraints",
        "the limit is 32"
    ));
    let mut f = checkout();
    f.requires = vec![Requirement::on("checkout-button")];
    assert!(says(
        &problems(&f),
        "requires[0].flag",
        "cannot require itself"
    ));
    let boolean = Flag {
        off_value: Some(json!(false)),
        ..Flag::new("b")
    };
    assert!(says(&problems(&boolean), "off_value", "no variants"));
    // All weights 0 only when every way on pins one.
    let mut f = checkout();
    for v in &mut f.variants {
        v.weight = 0;
    }
    let p = problems(&f);
    assert!(says(&p, "rules[1].variant", "pins none"), "{p:?}");
    f.rules.remove(1);
    assert_eq!(problems(&f), Vec::<String>::new());
}

#[test]
fn references_are_checked_against_the_snapshot() {
    let snap = snapshot(true);
    let limits = Limits::default();
    assert_eq!(validate_flag_in(&checkout(), &limits, &snap), Ok(()));
    let empty = Snapshot::default();
    let err = validate_flag_in(&checkout(), &limits, &empty).unwrap_err();
    let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        ["rules[0].segments[0]", "requires[0].flag"],
        "{err}"
    );
    // A cycle through requires, named.
    let parent = Flag {
        requires: vec![Requirement::on("checkout-button")],
        ..snap.get("new-checkout").unwrap().clone()
    };
    let err = validate_flag_in(&parent, &limits, &snap).unwrap_err();
    assert!(
        err.to_string()
            .contains("would make a cycle: \"new-checkout\" requires \"checkout-button\" requires \"new-checkout\""),
        "{err}"
    );
    // A chain 9 deep is refused; 8 deep is allowed.
    let chain = |n: usize| {
        (0..=n).map(move |i| Flag {
            enabled: true,
            requires: if i < n {
                vec![Requirement::on(format!("c{}", i + 1))]
            } else {
                vec![]
            },
            ..Flag::new(format!("c{i}"))
        })
    };
    let eight = Snapshot::new(1, KillSwitch::default(), chain(8));
    assert_eq!(
        validate_flag_in(eight.get("c0").unwrap(), &limits, &eight),
        Ok(())
    );
    let nine = Snapshot::new(1, KillSwitch::default(), chain(9));
    let err = validate_flag_in(nine.get("c0").unwrap(), &limits, &nine).unwrap_err();
    assert!(err.to_string().contains("9 levels deep"), "{err}");
    // A segment's own constraints are checked too.
    let bad = Segment {
        constraints: vec![Constraint::lenient(ConstraintSpec {
            attribute: "v".into(),
            operator: "SEMVER_GT".into(),
            value: Some("v2".into()),
            ..ConstraintSpec::default()
        })],
        ..Segment::new("s")
    };
    let err = validate_segment(&bad, &limits).unwrap_err();
    assert_eq!(err.problems[0].field, "constraints[0]");
}

#[test]
fn a_wide_diamond_of_prerequisites_is_refused_on_write_and_bounded_on_read() {
    // Each level requires every flag of the next: 4^4 = 256 paths to the bottom.
    let level = |l: usize| (0..4).map(move |i| format!("l{l}-{i}"));
    let mut flags = vec![Flag {
        enabled: true,
        rollout_percentage: 100,
        requires: level(1).map(Requirement::on).collect(),
        ..Flag::new("top")
    }];
    for l in 1..=4 {
        for key in level(l) {
            flags.push(Flag {
                enabled: true,
                rollout_percentage: 100,
                requires: if l < 4 {
                    level(l + 1).map(Requirement::on).collect()
                } else {
                    vec![]
                },
                ..Flag::new(key)
            });
        }
    }
    let snap = Snapshot::new(1, KillSwitch::default(), flags);
    let err = validate_flag_in(snap.get("top").unwrap(), &Limits::default(), &snap).unwrap_err();
    assert!(err.to_string().contains("the limit is 64"), "{err}");
    // Stored anyway (no write allows it), a decision spends at most the budget: off.
    assert!(!snap.evaluate("top", &Context::new()).enabled);
    assert!(snap.evaluate("l2-0", &Context::new()).enabled);
}
