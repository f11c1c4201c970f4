//! Constraint operators against Unleash's client specification (`testdata/unleash-client-spec`
//! 09, 11, 13, 14 and 21): each case's feature read as strategies of constraints, each
//! constraint built with [`Constraint::new`] and matched against the case's context as
//! attributes. A feature is on when it is enabled and one of its strategies is on for the
//! context with every constraint matching. Cases that need a notion Switchyard does not
//! share are skipped by name (listed, and their count pinned), never by outcome.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use switchyard_core::constraint::{Attributes, Constraint};

use crate::vectors::{Ctx, Tally, attribute, constraints, each_case};

/// Cases run and skipped; a change in either means a file or the mapping changed.
const EXPECTED_RUN: usize = 125;
const EXPECTED_SKIPPED: usize = 6;

/// A case's context as attributes: Unleash's `userId` is `user_id`, `currentTime` is
/// `current_time`, `properties` are attributes of their own names, as is every other field.
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
        let constraints = constraints(strategy)?;
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
    let mut tally = Tally::default();
    each_case(&files, "tests", |file, name, case, feature| {
        let expected = case["expectedResult"].as_bool().expect("expectedResult");
        let Some(feature) = feature else {
            // A toggle the state does not hold is off, as an unknown flag is.
            tally.check(file, name, expected, false);
            return;
        };
        let mapped = strategies(feature).and_then(|s| Ok((s, context(case)?)));
        let (strategies, ctx) = match mapped {
            Ok(mapped) => mapped,
            Err(why) => return tally.skip(file, name, &why),
        };
        let on = feature["enabled"].as_bool().unwrap_or(false)
            && strategies.iter().any(|(gate, constraints)| {
                let gated = match gate {
                    Gate::Everyone => true,
                    Gate::Users(users) => ctx
                        .attribute("user_id")
                        .is_some_and(|u| users.iter().any(|x| x == u)),
                };
                gated && constraints.iter().all(|c| c.matches(&ctx, Some(now)))
            });
        tally.check(file, name, expected, on);
    });
    tally.finish(EXPECTED_RUN, EXPECTED_SKIPPED);
}
