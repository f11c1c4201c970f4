//! Conformance with Unleash's client specification (`testdata/unleash-client-spec` in the
//! repository), read at test time and mapped onto Switchyard flags as docs/flags.md says. Cases outside
//! Switchyard's semantics are skipped by rule and by name, never by outcome.

use std::path::PathBuf;

use serde_json::Value;
use switchyard_core::{Context, Flag, Whitelist, evaluate_flag};

/// How many cases docs/flags.md#the-decision's mapping keeps from the three files (02: 3, 03: 4, 10: 5).
/// Fewer means a file went missing or the mapping skipped what it should have run.
const EXPECTED_RUN: usize = 12;

/// The repository's `testdata/`.
fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// A feature of the spec as a Switchyard flag, or why it has no Switchyard equivalent.
fn to_flag(feature: &Value) -> Result<Flag, String> {
    let name = feature["name"].as_str().ok_or("feature without a name")?;
    let strategies = feature["strategies"].as_array().ok_or("no strategies")?;
    let [strategy] = strategies.as_slice() else {
        return Err(format!(
            "{} strategies on one flag (Unleash-only)",
            strategies.len()
        ));
    };
    let param = |p: &str| strategy["parameters"][p].as_str().unwrap_or_default();
    let percentage = |p: &str| -> Result<u32, String> {
        param(p)
            .parse()
            .map_err(|e| format!("bad {p} {:?}: {e}", param(p)))
    };
    let mut flag = Flag {
        enabled: feature["enabled"].as_bool().unwrap_or(false),
        ..Flag::new(name)
    };
    match strategy["name"].as_str() {
        Some("userWithId") => {
            flag.whitelist = Whitelist::new(param("userIds").split(',').map(str::trim));
            flag.rollout_percentage = 0;
        }
        Some("gradualRolloutUserId") => {
            flag.rollout_percentage = percentage("percentage")?;
            flag.group_id = Some(param("groupId").to_owned());
        }
        Some("flexibleRollout") => {
            let stickiness = param("stickiness");
            if !matches!(stickiness, "userId" | "default") {
                return Err(format!("{stickiness} stickiness (Unleash-only)"));
            }
            flag.rollout_percentage = percentage("rollout")?;
            flag.group_id = Some(param("groupId").to_owned());
        }
        other => return Err(format!("strategy {other:?} (Unleash-only)")),
    }
    Ok(flag)
}

#[test]
fn unleash_client_specification() {
    let dir = testdata().join("unleash-client-spec");
    let files = [
        "02-user-with-id-strategy.json",
        "03-gradual-rollout-user-id-strategy.json",
        "10-flexible-rollout-strategy.json",
    ];
    let (mut ran, mut skipped, mut failures) = (0, Vec::new(), Vec::new());
    for file in files {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): the conformance vectors live in testdata/ at the \
                 repository's root",
                path.display()
            )
        });
        let spec: Value = serde_json::from_str(&text).expect("spec file is JSON");
        let features = spec["state"]["features"].as_array().expect("features");
        for case in spec["tests"].as_array().expect("tests") {
            let name = case["description"].as_str().expect("description");
            let toggle = case["toggleName"].as_str().expect("toggleName");
            let feature = features
                .iter()
                .find(|f| f["name"] == toggle)
                .expect("toggle of the case exists");
            let user = case["context"]["userId"].as_str();
            let flag = match to_flag(feature) {
                Ok(flag) => flag,
                Err(why) => {
                    skipped.push(format!("{file}: {name}: {why}"));
                    continue;
                }
            };
            let edge_rollout = matches!(flag.rollout_percentage, 0 | 100);
            let empty_context = case["context"].as_object().is_some_and(|c| c.is_empty());
            let kept_without_user = file.starts_with("10-") && empty_context && edge_rollout;
            if user.is_none() && !kept_without_user {
                skipped.push(format!("{file}: {name}: context has no userId"));
                continue;
            }
            let mut ctx = Context::new();
            if let Some(user) = user {
                ctx = ctx.user(user);
            }
            let expected = case["expectedResult"].as_bool().expect("expectedResult");
            let decision = evaluate_flag(&flag, &ctx);
            ran += 1;
            if decision.enabled != expected {
                failures.push(format!(
                    "{file}: {name}: expected {expected}, got {decision:?}"
                ));
            }
        }
    }
    for skip in &skipped {
        println!("skipped {skip}");
    }
    assert!(
        failures.is_empty(),
        "conformance failures:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        ran,
        EXPECTED_RUN,
        "ran {ran} conformance cases, expected {EXPECTED_RUN}; skipped:\n{}",
        skipped.join("\n")
    );
}
