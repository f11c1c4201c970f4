//! The variant split against Unleash's client specification (`testdata/unleash-client-spec`
//! 08, 12 and 16): each case's feature read as strategies (a gate, constraints, and the
//! strategy's own variants) and the feature's variants; the first strategy that is on for the
//! context picks from its own variants (grouped by its `groupId`) or else from the feature's
//! (grouped by the feature's name), with [`switchyard_core::split`] over their weights, the
//! stickiness value being `user_id` or the attribute the variants name. Cases that need a
//! notion Switchyard does not share are skipped by name, and the counts are pinned.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use switchyard_core::constraint::Attributes;
use switchyard_core::{bucket, split};

use crate::vectors::{Ctx, Tally, constraints, each_case};

/// Cases run and skipped; a change in either means a file or the mapping changed.
const EXPECTED_RUN: usize = 26;
const EXPECTED_SKIPPED: usize = 6;

fn context(case: &Value) -> Ctx {
    let mut attributes = HashMap::new();
    for (key, value) in case["context"].as_object().into_iter().flatten() {
        if key == "properties" {
            for (name, value) in value.as_object().into_iter().flatten() {
                if let Some(value) = value.as_str() {
                    attributes.insert(name.clone(), value.to_owned());
                }
            }
        } else if let Some(value) = value.as_str() {
            let name = if key == "userId" {
                "user_id"
            } else {
                key.as_str()
            };
            attributes.insert(name.to_owned(), value.to_owned());
        }
    }
    Ctx(attributes)
}

/// The stickiness value: `default` (and `userId`) is `user_id`, any other name an attribute.
fn stickiness_value<'a>(ctx: &'a Ctx, stickiness: &str) -> Result<&'a str, String> {
    let attribute = match stickiness {
        "" | "default" | "userId" => "user_id",
        other => other,
    };
    ctx.attribute(attribute)
        .ok_or_else(|| format!("no {attribute} in the context: random stickiness (Unleash-only)"))
}

/// A variant list: names and weights, refused when it holds an Unleash-only notion.
fn variants(list: &Value) -> Result<Vec<(String, u32)>, String> {
    let mut out = Vec::new();
    for v in list.as_array().into_iter().flatten() {
        if v.get("overrides")
            .is_some_and(|o| !o.as_array().is_some_and(Vec::is_empty))
        {
            return Err("variant overrides (Unleash-only)".into());
        }
        let name = v["name"]
            .as_str()
            .ok_or("a variant without a name")?
            .to_owned();
        let weight = v["weight"].as_u64().ok_or("a variant without a weight")?;
        out.push((name, u32::try_from(weight).map_err(|e| e.to_string())?));
    }
    Ok(out)
}

/// The variant name the case's feature gives the context (`disabled` when off or without
/// variants), and whether the feature is on.
fn decide(feature: &Value, ctx: &Ctx, now: DateTime<Utc>) -> Result<(String, bool), String> {
    let name = feature["name"].as_str().ok_or("a feature without a name")?;
    if !feature["enabled"].as_bool().unwrap_or(false) {
        return Ok(("disabled".into(), false));
    }
    let strategies = feature["strategies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // No strategy at all: on for everyone (Unleash's older default), as a 100 % rollout.
    let mut chosen: Option<&Value> = None;
    for strategy in &strategies {
        let param = |p: &str| strategy["parameters"][p].as_str().unwrap_or_default();
        let gated = match strategy["name"].as_str() {
            Some("default") => true,
            Some("flexibleRollout") => match param("rollout").parse::<u32>() {
                Ok(0) => false,
                Ok(100) => true,
                Ok(p) => {
                    let value = stickiness_value(ctx, param("stickiness"))?;
                    let group = match param("groupId") {
                        "" => name,
                        g => g,
                    };
                    bucket(group, value) <= p
                }
                Err(e) => return Err(format!("rollout {:?}: {e}", param("rollout"))),
            },
            other => return Err(format!("strategy {other:?} (not a variant case)")),
        };
        let constraints = constraints(strategy)?;
        if gated && constraints.iter().all(|c| c.matches(ctx, Some(now))) {
            chosen = Some(strategy);
            break;
        }
    }
    if chosen.is_none() && !strategies.is_empty() {
        return Ok(("disabled".into(), false));
    }
    // The chosen strategy's own variants, grouped by its groupId; else the feature's.
    let own = chosen
        .map(|s| variants(&s["variants"]))
        .transpose()?
        .unwrap_or_default();
    let (list, group, stickiness) = if own.is_empty() {
        let list = variants(&feature["variants"])?;
        let stickiness = feature["variants"][0]["stickiness"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        (list, name.to_owned(), stickiness)
    } else {
        let param = |p: &str| chosen.map_or("", |s| s["parameters"][p].as_str().unwrap_or(""));
        let group = match param("groupId") {
            "" => name.to_owned(),
            g => g.to_owned(),
        };
        (own, group, param("stickiness").to_owned())
    };
    if list.is_empty() {
        return Ok(("disabled".into(), true));
    }
    let value = stickiness_value(ctx, &stickiness)?;
    let picked = split(list.iter().map(|(_, w)| *w), &group, value)
        .map_or("disabled".to_owned(), |i| list[i].0.clone());
    Ok((picked, true))
}

#[test]
fn variants_split_as_unleash_specifies() {
    let files = [
        "08-variants.json",
        "12-custom-stickiness.json",
        "16-strategy-variants.json",
    ];
    let now: DateTime<Utc> = std::time::SystemTime::now().into();
    let mut tally = Tally::default();
    each_case(&files, "variantTests", |file, name, case, feature| {
        let expected = &case["expectedResult"];
        let want = (
            expected["name"]
                .as_str()
                .expect("a variant name")
                .to_owned(),
            expected["feature_enabled"]
                .as_bool()
                .expect("feature_enabled"),
        );
        let ctx = context(case);
        let got = match feature {
            None => ("disabled".to_owned(), false),
            Some(feature) => match decide(feature, &ctx, now) {
                Ok(got) => got,
                Err(why) => return tally.skip(file, name, &why),
            },
        };
        tally.check(file, name, want, got);
    });
    tally.finish(EXPECTED_RUN, EXPECTED_SKIPPED);
}
