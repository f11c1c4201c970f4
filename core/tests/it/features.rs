//! Whole flags against Unleash's client specification (`testdata/unleash-client-spec` 08,
//! 09, 11, 12, 13, 14, 16, 17 and 21): each case's feature becomes a Switchyard flag (its
//! strategies rules, their constraints and variants the rules', its variants the flag's, its
//! dependencies `requires`), the state becomes a snapshot, and the engine decides through
//! [`Snapshot::evaluate`] for the case's context read as JSON, as the server reads it. Both
//! lists are run: `tests` (on or off) and `variantTests` (the variant's name, and whether
//! the feature is on). The mapping is testdata/unleash-client-spec/SOURCE.md's. Cases that
//! need a notion Switchyard does not share are skipped by name (listed, their count pinned),
//! never by outcome.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchyard_core::constraint::{Constraint, ConstraintSpec};
use switchyard_core::{Context, Flag, FlagVariant, KillSwitch, Requirement, Rule, Snapshot};

use crate::vectors::{Tally, attribute, constraints, each_case};

/// Cases run and skipped, per list; a change in any means a file or the mapping changed.
const EXPECTED_TESTS_RUN: usize = 154;
const EXPECTED_TESTS_SKIPPED: usize = 2;
const EXPECTED_VARIANT_TESTS_RUN: usize = 47;
const EXPECTED_VARIANT_TESTS_SKIPPED: usize = 4;

const FILES: [&str; 9] = [
    "08-variants.json",
    "09-strategy-constraints.json",
    "11-strategy-constraints-edge-cases.json",
    "12-custom-stickiness.json",
    "13-constraint-operators.json",
    "14-constraint-semver-operators.json",
    "16-strategy-variants.json",
    "17-dependent-features.json",
    "21-regex-constraint-operators.json",
];

/// Cases whose outcome rests on a rule of Unleash's that Switchyard does not share.
fn unshared(name: &str) -> Option<&'static str> {
    let transitive = "Unleash follows dependencies one level only; Switchyard up to 8";
    match name {
        "Child is disabled if a transitive dependency exists." => Some(transitive),
        "Child yields a disabled variant because of a transitive dependency." => Some(transitive),
        _ => None,
    }
}

/// The stickiness attribute an Unleash stickiness names (`None`: `user_id`).
fn stickiness(name: &str) -> Result<Option<String>, String> {
    match name {
        "" | "default" | "userId" => Ok(None),
        "random" => Err("random stickiness (Unleash-only)".into()),
        other => attribute(other).map(Some),
    }
}

/// An Unleash variant list as Switchyard variants (payloads as values), and the stickiness
/// it names.
fn variants(list: &Value) -> Result<(Vec<FlagVariant>, Option<String>), String> {
    let mut out = Vec::new();
    let mut sticky = None;
    for v in list.as_array().into_iter().flatten() {
        if v.get("overrides")
            .is_some_and(|o| !o.as_array().is_some_and(Vec::is_empty))
        {
            return Err("variant overrides (Unleash-only)".into());
        }
        if let Some(s) = v["stickiness"].as_str() {
            sticky = stickiness(s)?;
        }
        let payload = &v["payload"];
        let value = match payload["type"].as_str() {
            None => Value::Null,
            Some("json") => serde_json::from_str(payload["value"].as_str().unwrap_or("null"))
                .map_err(|e| format!("a json payload that is not JSON: {e}"))?,
            Some(_) => payload["value"].clone(),
        };
        out.push(FlagVariant {
            name: v["name"]
                .as_str()
                .ok_or("a variant without a name")?
                .to_owned(),
            value,
            weight: u32::try_from(v["weight"].as_u64().ok_or("a variant without a weight")?)
                .map_err(|e| e.to_string())?,
        });
    }
    Ok((out, sticky))
}

/// Unleash's feature as a Switchyard flag.
fn flag_of(feature: &Value) -> Result<Flag, String> {
    let key = feature["name"].as_str().ok_or("a feature without a name")?;
    let mut flag = Flag::new(key);
    flag.enabled = feature["enabled"].as_bool().unwrap_or(false);
    let (flag_variants, variant_stickiness) = variants(&feature["variants"])?;
    flag.variants = flag_variants;
    let mut sticky: Option<Option<String>> = variant_stickiness.map(Some);
    let strategies = feature["strategies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // No strategy at all: on for everyone (Unleash's default), as a 100 % base rollout.
    flag.rollout_percentage = if strategies.is_empty() { 100 } else { 0 };
    for (i, strategy) in strategies.iter().enumerate() {
        let param = |p: &str| strategy["parameters"][p].as_str().unwrap_or_default();
        let mut rule = Rule::new(format!("strategy {i}"));
        rule.constraints = constraints(strategy)?;
        match strategy["name"].as_str() {
            Some("default") => {}
            Some("flexibleRollout") => {
                rule.rollout_percentage = param("rollout")
                    .parse()
                    .map_err(|e| format!("rollout {:?}: {e}", param("rollout")))?;
                rule.group_id = Some(param("groupId").to_owned()).filter(|g| !g.is_empty());
                let s = stickiness(param("stickiness"))?;
                match &sticky {
                    Some(other) if *other != s => {
                        return Err("stickiness per strategy (Switchyard's is per flag)".into());
                    }
                    _ => sticky = Some(s),
                }
            }
            Some("userWithId") => {
                let users = param("userIds").split(',').map(|u| u.trim().to_owned());
                let spec = ConstraintSpec {
                    attribute: "user_id".into(),
                    operator: "IN".into(),
                    values: users.collect(),
                    ..ConstraintSpec::default()
                };
                rule.constraints.push(Constraint::new(spec)?);
            }
            other => return Err(format!("strategy {other:?} (not mapped)")),
        }
        let (own, own_stickiness) = variants(&strategy["variants"])?;
        if own_stickiness.is_some() {
            return Err("stickiness on a strategy's variant".into());
        }
        rule.variants = own;
        flag.rules.push(rule);
    }
    flag.stickiness = sticky.flatten();
    for dependency in feature["dependencies"].as_array().into_iter().flatten() {
        let parent = dependency["feature"]
            .as_str()
            .ok_or("a dependency without a feature")?;
        let mut required = Requirement::on(parent);
        required.enabled = dependency["enabled"].as_bool().unwrap_or(true);
        // Unleash names "on, with no variant" `disabled`; Switchyard names it `on`.
        required.variants = dependency["variants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|v| if v == "disabled" { "on" } else { v }.to_owned())
            .collect();
        flag.requires.push(required);
    }
    Ok(flag)
}

/// The case's context as the JSON object a client would send: `userId` is `user_id`,
/// `currentTime` `current_time`, `properties` attributes of their own names.
fn context_json(case: &Value) -> Result<Value, String> {
    let mut out = serde_json::Map::new();
    for (key, value) in case["context"].as_object().into_iter().flatten() {
        if key == "properties" {
            for (name, value) in value.as_object().into_iter().flatten() {
                out.insert(name.clone(), value.clone());
            }
        } else {
            out.insert(
                attribute(key).unwrap_or_else(|_| key.clone()),
                value.clone(),
            );
        }
    }
    Ok(Value::Object(out))
}

/// Whether the split for `flag` in `ctx` would be Unleash's random draw: a partial
/// rollout or a split of two or more variants with no stickiness value in the context.
fn random_draw(flag: &Flag, ctx: &Context<'_>) -> bool {
    if flag.stickiness_value(ctx).is_some() {
        return false;
    }
    let weighted = |list: &[FlagVariant]| list.iter().filter(|v| v.weight > 0).count() > 1;
    weighted(&flag.variants)
        || flag
            .rules
            .iter()
            .any(|r| !matches!(r.rollout_percentage, 0 | 100) || weighted(&r.variants))
}

/// Runs `list` of every file; `expected` reads a case's expectation and `got` the engine's.
fn run<T: PartialEq + Clone + std::fmt::Debug>(
    list: &str,
    expected: impl Fn(&Value) -> T,
    got: impl Fn(&Flag, &switchyard_core::Decision) -> T,
    unknown: T,
) -> Tally {
    // The test reads the clock; the core never does (the clock is an input).
    let now: DateTime<Utc> = std::time::SystemTime::now().into();
    let mut tally = Tally::default();
    for file in FILES {
        let spec = crate::vectors::read(file);
        let features = spec["state"]["features"].as_array().expect("features");
        let mapped: Vec<Result<Flag, String>> = features.iter().map(flag_of).collect();
        let snapshot = Snapshot::new(
            1,
            KillSwitch::default(),
            mapped.iter().filter_map(|f| f.as_ref().ok()).cloned(),
        );
        each_case(&[file], list, |file, name, case, feature| {
            if let Some(why) = unshared(name) {
                return tally.skip(file, name, why);
            }
            let want = expected(case);
            let Some(feature) = feature else {
                // A toggle the state does not hold is off, as an unknown flag is.
                return tally.check(file, name, want, unknown.clone());
            };
            let at = features
                .iter()
                .position(|f| f == feature)
                .expect("a feature of the state");
            if let Err(why) = &mapped[at] {
                return tally.skip(file, name, why);
            }
            let toggle = case["toggleName"].as_str().expect("toggleName");
            let body = context_json(case).map(|c| c.to_string());
            let body = match body {
                Ok(body) => body,
                Err(why) => return tally.skip(file, name, &why),
            };
            let ctx: Context<'_> = match serde_json::from_str(&body) {
                Ok(ctx) => ctx,
                Err(e) => return tally.skip(file, name, &format!("context refused: {e}")),
            };
            let ctx = ctx.at(now);
            let flag = snapshot.get(toggle).expect("mapped");
            if random_draw(flag, &ctx) {
                return tally.skip(
                    file,
                    name,
                    "no stickiness value: random stickiness (Unleash-only)",
                );
            }
            let decision = snapshot.evaluate(toggle, &ctx);
            tally.check(file, name, want, got(flag, &decision));
        });
    }
    tally
}

#[test]
fn unleash_features_decide_alike_as_switchyard_flags() {
    let tally = run(
        "tests",
        |case| case["expectedResult"].as_bool().expect("expectedResult"),
        |_, d| d.enabled,
        false,
    );
    tally.finish(EXPECTED_TESTS_RUN, EXPECTED_TESTS_SKIPPED);
}

#[test]
fn unleash_features_serve_the_same_variants_as_switchyard_flags() {
    let tally = run(
        "variantTests",
        |case| {
            let e = &case["expectedResult"];
            let payload = e["payload"]["value"].clone();
            let payload = match e["payload"]["type"].as_str() {
                Some("json") => {
                    serde_json::from_str(payload.as_str().unwrap_or("null")).unwrap_or(Value::Null)
                }
                _ => payload,
            };
            (
                e["name"].as_str().expect("a variant name").to_owned(),
                e["feature_enabled"].as_bool().expect("feature_enabled"),
                payload,
            )
        },
        |flag, d| {
            // Unleash names "no variant" `disabled`, on or off; Switchyard `on` or `off`.
            let name = match flag.variant_name(d) {
                "on" | "off" => "disabled".to_owned(),
                other => other.to_owned(),
            };
            let value = flag.served(d).map_or(Value::Null, |v| v.value.clone());
            (name, d.enabled, value)
        },
        ("disabled".to_owned(), false, json!(null)),
    );
    tally.finish(EXPECTED_VARIANT_TESTS_RUN, EXPECTED_VARIANT_TESTS_SKIPPED);
}
