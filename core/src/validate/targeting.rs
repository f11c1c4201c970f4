//! Validation of what a flag serves beyond on/off and whom its rules include, on the flag
//! alone: variants and their values and weights, `off_value`, rules, constraints,
//! `requires` and `stickiness` (docs/flags.md#values-rules-segments-and-prerequisites).
//! What needs the other flags and the segments is [`super::references`]'s.

use std::collections::HashSet;

use serde_json::Value;

use super::{MAX_KEY_LEN, Problem, check_identifier, over_limit};
use crate::constraint::Constraint;
use crate::context::{MAX_ATTRIBUTE_BYTES, MAX_ATTRIBUTE_NAME_BYTES};
use crate::flag::Flag;
use crate::rule::{
    FlagVariant, MAX_REQUIRES, MAX_RULE_CONSTRAINTS, MAX_RULE_NAME_BYTES, MAX_RULE_SEGMENTS,
    MAX_RULES, MAX_VALUE_BYTES, MAX_VARIANTS, OFF, Rule, TOTAL_WEIGHT, json_type,
};
use crate::segment::Segment;

/// Every problem with `flag`'s variants, `off_value`, rules, requirements and stickiness.
pub(super) fn problems(flag: &Flag) -> Vec<Problem> {
    let mut problems = Vec::new();
    let kind = flag.variants.first().map(|v| json_type(&v.value));
    problems.extend(variant_problems("variants", &flag.variants, kind));
    match (&flag.off_value, kind) {
        (Some(_), None) => problems.push(Problem::new(
            "off_value",
            "a flag with no variants serves true and false: give variants, or leave off_value out",
        )),
        (None, Some(kind)) => problems.push(Problem::new(
            "off_value",
            format!("a flag with variants needs the {kind} it serves when off"),
        )),
        (Some(value), Some(kind)) => problems.extend(value_problem("off_value", value, kind)),
        (None, None) => {}
    }
    let weights: u32 = flag.variants.iter().map(|v| v.weight).sum();
    if weights == 0 && !flag.variants.is_empty() {
        problems.extend(unpinned_paths(flag));
    }
    problems.extend(over_limit("rules", flag.rules.len(), "rules", MAX_RULES));
    let mut names = HashSet::new();
    for (i, rule) in flag.rules.iter().enumerate() {
        let field = format!("rules[{i}]");
        problems.extend(
            rule_problems(flag, rule, kind)
                .into_iter()
                .map(|p| p.within(&field)),
        );
        if !names.insert(rule.name.as_str()) {
            problems.push(Problem::new(
                format!("{field}.name"),
                format!(
                    "{:?} names two rules; each rule's name is its own",
                    rule.name
                ),
            ));
        }
    }
    problems.extend(over_limit(
        "requires",
        flag.requires.len(),
        "flags",
        MAX_REQUIRES,
    ));
    let mut required = HashSet::new();
    for (i, requirement) in flag.requires.iter().enumerate() {
        let field = format!("requires[{i}].flag");
        problems.extend(check_identifier(&field, &requirement.flag).err());
        if requirement.flag == flag.key {
            problems.push(Problem::new(&field, "a flag cannot require itself"));
        } else if !required.insert(requirement.flag.as_str()) {
            problems.push(Problem::new(
                &field,
                format!("{:?} is required twice", requirement.flag),
            ));
        }
        for (j, name) in requirement.variants.iter().enumerate() {
            if name.is_empty() || name.len() > MAX_KEY_LEN {
                problems.push(Problem::new(
                    format!("requires[{i}].variants[{j}]"),
                    format!("a variant name is 1 to {MAX_KEY_LEN} characters long"),
                ));
            }
        }
        problems.extend(over_limit(
            &format!("requires[{i}].variants"),
            requirement.variants.len(),
            "variants",
            MAX_VARIANTS + 1,
        ));
    }
    if let Some(name) = &flag.stickiness {
        problems.extend(attribute_problem("stickiness", name));
    }
    problems
}

/// Every problem with `segment` alone: its key, description and constraints.
pub(super) fn segment_problems(segment: &Segment, max_description: usize) -> Vec<Problem> {
    let mut problems = Vec::new();
    problems.extend(check_identifier("key", &segment.key).err());
    problems.extend(over_limit(
        "description",
        segment.description.len(),
        "bytes",
        max_description,
    ));
    problems.extend(constraint_problems("constraints", &segment.constraints));
    problems
}

/// The problems of a split's `variants` (`field`), whose values must all be of JSON type
/// `kind` (the flag's first variant's).
fn variant_problems(field: &str, variants: &[FlagVariant], kind: Option<&str>) -> Vec<Problem> {
    let mut problems = Vec::new();
    problems.extend(over_limit(field, variants.len(), "variants", MAX_VARIANTS));
    let mut names = HashSet::new();
    let mut sum = 0u32;
    for (i, variant) in variants.iter().enumerate() {
        let at = format!("{field}[{i}]");
        problems.extend(check_identifier(&format!("{at}.name"), &variant.name).err());
        if variant.name == OFF {
            problems.push(Problem::new(
                format!("{at}.name"),
                "\"off\" is what every flag serves when off; name the variant otherwise",
            ));
        }
        if !names.insert(variant.name.as_str()) {
            problems.push(Problem::new(
                format!("{at}.name"),
                format!("{:?} names two variants", variant.name),
            ));
        }
        if let Some(kind) = kind {
            problems.extend(value_problem(&format!("{at}.value"), &variant.value, kind));
        }
        if variant.weight > TOTAL_WEIGHT {
            problems.push(Problem::new(
                format!("{at}.weight"),
                format!("must be 0 to {TOTAL_WEIGHT} (is {})", variant.weight),
            ));
        }
        sum = sum.saturating_add(variant.weight);
    }
    if !variants.is_empty() && sum != TOTAL_WEIGHT && sum != 0 {
        problems.push(Problem::new(
            field,
            format!("the weights sum to {sum}; they must sum to {TOTAL_WEIGHT} (or all be 0 when rules pin every variant served)"),
        ));
    }
    problems
}

/// Why `value` (at `field`) cannot be one of a flag's values of JSON type `kind`.
fn value_problem(field: &str, value: &Value, kind: &str) -> Option<Problem> {
    let is = json_type(value);
    if matches!(value, Value::Null | Value::Array(_)) {
        return Some(Problem::new(
            field,
            format!("is {is}; a value is a string, a number, a boolean or an object"),
        ));
    }
    if is != kind {
        return Some(Problem::new(
            field,
            format!("is a {is}; this flag's values are of one type, {kind} (its first variant's)"),
        ));
    }
    let bytes = serde_json::to_string(value).map_or(usize::MAX, |t| t.len());
    (bytes > MAX_VALUE_BYTES).then(|| {
        Problem::new(
            field,
            format!("is {bytes} bytes of JSON; the limit is {MAX_VALUE_BYTES}"),
        )
    })
}

/// With every weight 0 the flag's own split serves nothing: each way to be on must pin a
/// variant (or split by a rule's own). The ways that would not.
fn unpinned_paths(flag: &Flag) -> Vec<Problem> {
    let why = "the variants' weights are all 0, so every way to be on must pin a variant";
    let mut problems = Vec::new();
    if !flag.whitelist.is_empty() {
        problems.push(Problem::new(
            "whitelist",
            format!("{why}; a whitelisted user would get none"),
        ));
    }
    if flag.rollout_percentage > 0 {
        problems.push(Problem::new(
            "rollout_percentage",
            format!("{why}; the base rollout would serve none (set it to 0)"),
        ));
    }
    for (i, rule) in flag.rules.iter().enumerate() {
        if rule.variant.is_none() && rule.variants.is_empty() {
            problems.push(Problem::new(
                format!("rules[{i}].variant"),
                format!("{why}; this rule pins none"),
            ));
        }
    }
    problems
}

/// The problems of one rule of `flag` (fields relative to the rule).
fn rule_problems(flag: &Flag, rule: &Rule, kind: Option<&str>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if rule.name.trim().is_empty() || rule.name.len() > MAX_RULE_NAME_BYTES {
        problems.push(Problem::new(
            "name",
            format!("a rule needs a name of 1 to {MAX_RULE_NAME_BYTES} bytes"),
        ));
    }
    if rule.name.chars().any(char::is_control) {
        problems.push(Problem::new("name", "holds a control character"));
    }
    if rule.rollout_percentage > 100 {
        problems.push(Problem::new(
            "rollout_percentage",
            format!("must be 0 to 100 (is {})", rule.rollout_percentage),
        ));
    }
    if let Some(group) = &rule.group_id {
        problems.extend(check_identifier("group_id", group).err());
    }
    problems.extend(over_limit(
        "segments",
        rule.segments.len(),
        "segments",
        MAX_RULE_SEGMENTS,
    ));
    for (i, key) in rule.segments.iter().enumerate() {
        problems.extend(check_identifier(&format!("segments[{i}]"), key).err());
    }
    if rule.constraints.len() > MAX_RULE_CONSTRAINTS {
        problems.extend(over_limit(
            "constraints",
            rule.constraints.len(),
            "constraints",
            MAX_RULE_CONSTRAINTS,
        ));
    } else {
        problems.extend(constraint_problems("constraints", &rule.constraints));
    }
    match (&rule.variant, rule.variants.is_empty()) {
        (Some(_), false) => problems.push(Problem::new(
            "variant",
            "give variant (a pin) or variants (the rule's own split), not both",
        )),
        (Some(name), true) if !flag.variants.iter().any(|v| v.name == *name) => {
            problems.push(Problem::new(
                "variant",
                format!("{name:?} is not one of the flag's variants"),
            ))
        }
        _ => {}
    }
    if kind.is_none() && (rule.variant.is_some() || !rule.variants.is_empty()) {
        problems.push(Problem::new(
            "variants",
            "the flag has no variants (it serves true and false): give the flag variants first",
        ));
    } else if !rule.variants.is_empty() {
        problems.extend(variant_problems("variants", &rule.variants, kind));
        let sum: u32 = rule.variants.iter().map(|v| v.weight).sum();
        if sum == 0 {
            problems.push(Problem::new(
                "variants",
                format!("a rule's own split needs weights that sum to {TOTAL_WEIGHT}"),
            ));
        }
    }
    problems
}

/// The problems of a list of constraints (`field`): one that cannot be used, an attribute
/// name or a value past the context's limits (no context could send it).
pub(super) fn constraint_problems(field: &str, constraints: &[Constraint]) -> Vec<Problem> {
    let mut problems = Vec::new();
    problems.extend(over_limit(
        field,
        constraints.len(),
        "constraints",
        MAX_RULE_CONSTRAINTS,
    ));
    for (i, constraint) in constraints.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if let Some(why) = constraint.problem() {
            problems.push(Problem::new(&at, why));
        }
        let spec = constraint.spec();
        problems.extend(attribute_problem(
            &format!("{at}.attribute"),
            &spec.attribute,
        ));
        let long = spec.values.iter().chain(&spec.value);
        if long.clone().any(|v| v.len() > MAX_ATTRIBUTE_BYTES) {
            problems.push(Problem::new(
                format!("{at}.values"),
                format!("a value is over {MAX_ATTRIBUTE_BYTES} bytes, longer than any context attribute may be"),
            ));
        }
    }
    problems
}

/// Why `name` (at `field`) cannot name a context attribute.
fn attribute_problem(field: &str, name: &str) -> Option<Problem> {
    if name.is_empty() || name.len() > MAX_ATTRIBUTE_NAME_BYTES {
        return Some(Problem::new(
            field,
            format!("an attribute name is 1 to {MAX_ATTRIBUTE_NAME_BYTES} bytes"),
        ));
    }
    name.contains('\0')
        .then(|| Problem::new(field, "holds a NUL character"))
}
