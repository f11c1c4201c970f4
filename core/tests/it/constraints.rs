//! Constraint operators against Unleash's client specification (`testdata/unleash-client-spec`
//! 09, 11, 13, 14 and 21): each case's feature read as strategies of constraints, each
//! constraint built with [`Constraint::new`] and matched against the case's context as
//! attributes. A feature is on when it is enabled and one of its strategies is on for the
//! context with every constraint matching. Cases that need a notion Switchyard does not
//! share are skipped by name (listed, and their count pinned), never by outcome.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::Value;
use switchyard_core::constraint::{Attributes, CURRENT_TIME, Constraint, ConstraintSpec};

/// Cases run and skipped; a change in either means a file or the mapping changed.
const EXPECTED_RUN: usize = 125;
const EXPECTED_SKIPPED: usize = 6;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/unleash-client-spec")
}

/// A context as attributes: Unleash's `userId` is `user_id`, `currentTime` is
/// `current_time`, `properties` are attributes of their own names, as is every other field.
struct Ctx(HashMap<String, String>);

impl Attributes for Ctx {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Unleash's context field names as Switchyard's attribute names.
fn attribute(name: &str) -> Result<String, String> {
    match name {
        "userId" => Ok("user_id".into()),
        "currentTime" => Ok(CURRENT_TIME.into()),
        "sessionId" | "remoteAddress" => Err(format!("the {name} context field (Unleash-only)")),
        other => Ok(other.to_owned()),
    }
}

fn context(case: &Value) -> Result<Ctx, String> {
    let mut attributes = HashMap::new();
    for (key, value) in case["context"].as_object().into_iter().flatten() {
        if key == "properties" {
            for (name, value) in value.as_object().into_iter().flatten() {
                // A null property is an attribute the context does not have.
                if value.is_null() {
                    continue;
                }
                let value = value.as_str().ok_or("a property that is not a string")?;
                attributes.insert(name.clone(), value.to_owned());
            }
        } else if let Some(value) = value.as_str() {
            attributes.insert(attribute(key)?, value.to_owned());
        }
    }
    Ok(Ctx(attributes))
}

/// How one strategy turns a feature on, before its constraints.
enum Gate {
    Everyone,
    Users(Vec<String>),
}

fn strategies(feature: &Value) -> Result<Vec<(Gate, Vec<Constraint>)>, String> {
    let mut out = Vec::new();
    for strategy in feature["strategies"].as_array().ok_or("no strategies")? {
        let param = |p: &str| strategy["parameters"][p].as_str().unwrap_or_default();
        let gate = match strategy["name"].as_str() {
            Some("default") => Gate::Everyone,
            Some("flexibleRollout") if param("rollout") == "100" => Gate::Everyone,
            Some("userWithId") => Gate::Users(
                param("userIds")
                    .split(',')
                    .map(|u| u.trim().to_owned())
                    .collect(),
            ),
            other => return Err(format!("strategy {other:?} (not a constraint case)")),
        };
        let mut constraints = Vec::new();
        for c in strategy["constraints"].as_array().into_iter().flatten() {
            let spec = ConstraintSpec {
                attribute: attribute(c["contextName"].as_str().unwrap_or_default())?,
                operator: c["operator"].as_str().unwrap_or_default().to_owned(),
                values: c["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                value: c["value"].as_str().map(str::to_owned),
                case_insensitive: c["caseInsensitive"].as_bool().unwrap_or(false),
                inverted: c["inverted"].as_bool().unwrap_or(false),
            };
            constraints
                .push(Constraint::new(spec).map_err(|e| format!("refused when written: {e}"))?);
        }
        out.push((gate, constraints));
    }
    Ok(out)
}

#[test]
fn constraint_operators_decide_as_unleash_specifies() {
    let files = [
        "09-strategy-constraints.json",
        "11-strategy-constraints-edge-cases.json",
        "13-constraint-operators.json",
        "14-constraint-semver-operators.json",
        "21-regex-constraint-operators.json",
    ];
    // The test reads the clock; the core never does (no chrono "clock" feature).
    let now: DateTime<Utc> = std::time::SystemTime::now().into();
    let (mut ran, mut skipped, mut failures) = (0, Vec::new(), Vec::new());
    for file in files {
        let path = testdata().join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): the vectors live in testdata/",
                path.display()
            )
        });
        let spec: Value = serde_json::from_str(&text).expect("a vector file is JSON");
        let features = spec["state"]["features"].as_array().expect("features");
        for case in spec["tests"].as_array().expect("tests") {
            let name = case["description"].as_str().expect("description");
            let toggle = case["toggleName"].as_str().expect("toggleName");
            let expected = case["expectedResult"].as_bool().expect("expectedResult");
            let Some(feature) = features.iter().find(|f| f["name"] == toggle) else {
                // A toggle the state does not hold is off, as an unknown flag is.
                ran += 1;
                if expected {
                    failures.push(format!("{file}: {name}: expected on for an unknown toggle"));
                }
                continue;
            };
            let mapped = strategies(feature).and_then(|s| Ok((s, context(case)?)));
            let (strategies, ctx) = match mapped {
                Ok(mapped) => mapped,
                Err(why) => {
                    skipped.push(format!("{file}: {name}: {why}"));
                    continue;
                }
            };
            let on = feature["enabled"].as_bool().unwrap_or(false)
                && strategies.iter().any(|(gate, constraints)| {
                    let gated = match gate {
                        Gate::Everyone => true,
                        Gate::Users(users) => ctx
                            .attribute("user_id")
                            .is_some_and(|u| users.iter().any(|x| x == u)),
                    };
                    gated && constraints.iter().all(|c| c.matches(&ctx, now))
                });
            ran += 1;
            if on != expected {
                failures.push(format!("{file}: {name}: expected {expected}, got {on}"));
            }
        }
    }
    for skip in &skipped {
        println!("skipped {skip}");
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        (ran, skipped.len()),
        (EXPECTED_RUN, EXPECTED_SKIPPED),
        "ran {ran} cases and skipped {}:\n{}",
        skipped.len(),
        skipped.join("\n")
    );
}
