//! The evaluation answers' JSON (native and OFREP, one flag or all), written straight into
//! one buffer. They go out on every evaluation, and serde's general serialiser (a call per
//! field, each string scanned byte by byte for escapes) was most of their cost: a bulk
//! answer over 100 flags spent more on it than on the evaluations. Every string here is a
//! fixed word or a flag key, which is checked when stored (`[A-Za-z0-9._-]`) and so needs no
//! escaping; a key that somehow does (written to the store behind the server's back) is
//! escaped by serde_json. The tests hold every shape to serde_json's output.

use std::sync::LazyLock;

use switchyard_core::openfeature::{self, OpenFeatureReason};
use switchyard_core::{Decision, Flag, Reason};

/// Bytes a flag key may hold without escaping: `[A-Za-z0-9._-]`.
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        plain[b] = c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-';
        b += 1;
    }
    plain
};

/// Appends `key` as a JSON string.
fn key(out: &mut Vec<u8>, key: &str) {
    if key.bytes().all(|b| PLAIN[usize::from(b)]) {
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, key);
    }
}

fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// What follows the key in a native answer, up to the version, for each (reason, enabled):
/// one copy instead of eight small ones.
static NATIVE_TAILS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut tails = vec![String::new(); Reason::ALL.len() * 2];
    for reason in Reason::ALL {
        for enabled in [false, true] {
            let variant = if enabled { "on" } else { "off" };
            tails[reason as usize * 2 + usize::from(enabled)] = format!(
                ",\"enabled\":{enabled},\"variant\":\"{variant}\",\"value\":{enabled},\"reason\":\"{}\",\"version\":",
                reason.as_str()
            );
        }
    }
    tails
});

/// What follows the key in an OFREP answer, up to the version, for each (OpenFeature reason,
/// reason, enabled).
static OFREP_TAILS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut tails = Vec::new();
    for openfeature in OpenFeatureReason::ALL.map(OpenFeatureReason::as_str) {
        for reason in Reason::ALL {
            for enabled in [false, true] {
                let variant = if enabled { "on" } else { "off" };
                tails.push(format!(
                    ",\"value\":{enabled},\"variant\":\"{variant}\",\"reason\":\"{openfeature}\",\"metadata\":{{\"reason\":\"{}\",\"version\":",
                    reason.as_str()
                ));
            }
        }
    }
    tails
});

/// Whether `d` (of `flag`) is on/off alone, answered from the fixed tails: a boolean flag
/// that no rule decided.
fn plain(flag: Option<&Flag>, d: &Decision) -> bool {
    d.rule.is_none() && flag.is_none_or(|f| !f.has_variants())
}

/// Appends `{"flag","enabled","variant","value","reason","version"}`, and `"rule"` when a
/// rule decided; `flag` is the flag evaluated (`None`: unknown).
pub fn native(out: &mut Vec<u8>, key_text: &str, d: &Decision, flag: Option<&Flag>) {
    out.extend_from_slice(b"{\"flag\":");
    key(out, key_text);
    match flag.filter(|f| !plain(Some(f), d)) {
        None => native_tail(out, d),
        Some(flag) => rich_native_tail(out, d, flag),
    }
    match d.version {
        Some(v) => number(out, v),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// What follows the key in a native answer, up to the version.
fn native_tail(out: &mut Vec<u8>, d: &Decision) {
    let tail = &NATIVE_TAILS[d.reason as usize * 2 + usize::from(d.enabled)];
    out.extend_from_slice(tail.as_bytes());
}

/// [`native_tail`] for a flag with variants or a decision by a rule: the variant's name and
/// value, and the rule's name, up to the version.
fn rich_native_tail(out: &mut Vec<u8>, d: &Decision, flag: &Flag) {
    out.extend_from_slice(if d.enabled {
        b",\"enabled\":true,\"variant\":"
    } else {
        b",\"enabled\":false,\"variant\":"
    });
    key(out, flag.variant_name(d));
    out.extend_from_slice(b",\"value\":");
    let _ = serde_json::to_writer(&mut *out, flag.value(d));
    if let Some(rule) = flag.rule_name(d) {
        out.extend_from_slice(b",\"rule\":");
        let _ = serde_json::to_writer(&mut *out, rule);
    }
    out.extend_from_slice(b",\"reason\":\"");
    out.extend_from_slice(d.reason.as_str().as_bytes());
    out.extend_from_slice(b"\",\"version\":");
}

/// The parts of a snapshot's bulk answers that depend on each flag alone, in the snapshot's
/// order: its key as a JSON string and its version as text. Written once per snapshot, by
/// its first bulk evaluation, instead of once per flag per request (checking each key for
/// escapes and formatting each version were a tenth of a bulk answer over 1,000 flags).
pub struct FlagParts(Vec<Part>);

struct Part {
    key: Box<[u8]>,
    version: u64,
    version_text: Box<[u8]>,
}

impl FlagParts {
    /// The parts of `flags`, in their order.
    pub fn new<'a>(flags: impl Iterator<Item = &'a Flag>) -> Self {
        FlagParts(
            flags
                .map(|flag| {
                    let mut key_json = Vec::with_capacity(flag.key.len() + 2);
                    key(&mut key_json, &flag.key);
                    Part {
                        key: key_json.into(),
                        version: flag.version,
                        version_text: itoa::Buffer::new().format(flag.version).as_bytes().into(),
                    }
                })
                .collect(),
        )
    }
}

impl Part {
    /// Appends the decision's version: this flag's, already written, or another (none).
    fn version(&self, out: &mut Vec<u8>, d: &Decision) {
        match d.version {
            Some(v) if v == self.version => out.extend_from_slice(&self.version_text),
            Some(v) => number(out, v),
            None => out.extend_from_slice(b"null"),
        }
    }
}

/// `{"version", "flags": [native answers]}`, for the decisions of every flag `parts` was
/// made from, in the same order.
pub fn native_bulk<'a>(
    version: u64,
    answers: impl ExactSizeIterator<Item = (&'a Flag, Decision)>,
    parts: &FlagParts,
) -> Vec<u8> {
    debug_assert_eq!(answers.len(), parts.0.len());
    let mut out = Vec::with_capacity(32 + answers.len() * 96);
    out.extend_from_slice(b"{\"version\":");
    number(&mut out, version);
    out.extend_from_slice(b",\"flags\":[");
    for (i, ((flag, d), part)) in answers.zip(&parts.0).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"flag\":");
        out.extend_from_slice(&part.key);
        if plain(Some(flag), &d) {
            native_tail(&mut out, &d);
        } else {
            rich_native_tail(&mut out, &d, flag);
        }
        part.version(&mut out, &d);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

/// Appends OFREP's success object: `{"key","value","variant","reason","metadata":{"reason",
/// "version"}}` (Switchyard's own reason and the flag's version as metadata).
pub fn ofrep(out: &mut Vec<u8>, flag_key: &str, d: &Decision, flag: Option<&Flag>) {
    out.extend_from_slice(b"{\"key\":");
    key(out, flag_key);
    ofrep_tail(out, d, flag);
    number(out, d.version.unwrap_or(0));
    out.extend_from_slice(b"}}");
}

/// What follows the key in an OFREP answer, up to the version: from the fixed tails for a
/// boolean flag no rule decided, else with the variant's value and name and the rule's.
fn ofrep_tail(out: &mut Vec<u8>, d: &Decision, flag: Option<&Flag>) {
    let of = openfeature::reason_of(d, flag);
    match flag.filter(|f| !plain(Some(f), d)) {
        None => {
            let at = (of as usize * Reason::ALL.len() + d.reason as usize) * 2;
            out.extend_from_slice(OFREP_TAILS[at + usize::from(d.enabled)].as_bytes());
        }
        Some(flag) => {
            out.extend_from_slice(b",\"value\":");
            let _ = serde_json::to_writer(&mut *out, flag.value(d));
            out.extend_from_slice(b",\"variant\":");
            key(out, flag.variant_name(d));
            out.extend_from_slice(b",\"reason\":\"");
            out.extend_from_slice(of.as_str().as_bytes());
            out.extend_from_slice(b"\",\"metadata\":{\"reason\":\"");
            out.extend_from_slice(d.reason.as_str().as_bytes());
            out.push(b'"');
            if let Some(rule) = flag.rule_name(d) {
                out.extend_from_slice(b",\"rule\":");
                let _ = serde_json::to_writer(&mut *out, rule);
            }
            out.extend_from_slice(b",\"version\":");
        }
    }
}

/// OFREP's bulk answer: `{"flags": [success objects], "metadata": {"version": "N"}}`, for
/// the decisions of every flag `parts` was made from, in the same order.
pub fn ofrep_bulk<'a>(
    version: u64,
    answers: impl ExactSizeIterator<Item = (&'a Flag, Decision)>,
    parts: &FlagParts,
) -> Vec<u8> {
    debug_assert_eq!(answers.len(), parts.0.len());
    let mut out = Vec::with_capacity(48 + answers.len() * 128);
    out.extend_from_slice(b"{\"flags\":[");
    for (i, ((flag, d), part)) in answers.zip(&parts.0).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        out.extend_from_slice(&part.key);
        ofrep_tail(&mut out, &d, Some(flag));
        match d.version {
            None => out.push(b'0'),
            Some(_) => part.version(&mut out, &d),
        }
        out.extend_from_slice(b"}}");
    }
    out.extend_from_slice(b"],\"metadata\":{\"version\":\"");
    number(&mut out, version);
    out.extend_from_slice(b"\"}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use switchyard_core::Reason;

    #[test]
    fn every_openfeature_reason_indexes_its_own_tails() {
        for (i, reason) in OpenFeatureReason::ALL.into_iter().enumerate() {
            assert_eq!(reason as usize, i, "{reason:?}");
        }
        for (flag, d) in cases() {
            let reason = openfeature::reason(&d, Some(&flag));
            let mut out = Vec::new();
            ofrep_tail(&mut out, &d, Some(&flag));
            let tail = String::from_utf8(out).unwrap();
            assert!(tail.contains(&format!("\"reason\":\"{reason}\"")), "{tail}");
        }
    }

    /// Every decision there is, for flags whose rollout gives each OFREP reason.
    fn cases() -> Vec<(Flag, Decision)> {
        let mut cases = Vec::new();
        for (rollout, markets) in [(0, false), (40, false), (100, true), (100, false)] {
            let flag = Flag {
                rollout_percentage: rollout,
                markets: switchyard_core::Markets::new(if markets { vec!["FR"] } else { vec![] }),
                ..Flag::new("flag-00.a_b")
            };
            for reason in Reason::ALL {
                for enabled in [true, false] {
                    for version in [None, Some(0), Some(7), Some(u64::MAX)] {
                        let d = Decision::new(enabled, reason, version);
                        cases.push((flag.clone(), d));
                    }
                }
            }
        }
        cases.extend(rich_cases());
        cases
    }

    /// Decisions of flags beyond on/off: a value served by a rule's pin, by the flag's
    /// split, off, and a boolean flag decided by a rule.
    fn rich_cases() -> Vec<(Flag, Decision)> {
        use switchyard_core::constraint::{Constraint, ConstraintSpec};
        let mut rule = switchyard_core::Rule::new("staff \"only\"");
        rule.constraints = vec![
            Constraint::new(ConstraintSpec {
                attribute: "team".into(),
                operator: "IN".into(),
                values: vec!["staff".into()],
                ..ConstraintSpec::default()
            })
            .unwrap(),
        ];
        let boolean = Flag {
            enabled: true,
            rules: vec![rule.clone()],
            version: 4,
            ..Flag::new("b")
        };
        rule.variant = Some("big".into());
        let valued = Flag {
            enabled: true,
            rollout_percentage: 50,
            variants: vec![
                switchyard_core::FlagVariant {
                    name: "big".into(),
                    value: json!({"size": 3, "label": "é\""}),
                    weight: 500,
                },
                switchyard_core::FlagVariant {
                    name: "small".into(),
                    value: json!({"size": 1}),
                    weight: 500,
                },
            ],
            off_value: Some(json!({"size": 0})),
            rules: vec![rule],
            version: 9,
            ..Flag::new("v")
        };
        let mut out = Vec::new();
        for flag in [boolean, valued] {
            for ctx in [
                switchyard_core::Context::new()
                    .user("u1")
                    .with("team", "staff"),
                switchyard_core::Context::new().user("u1"),
                switchyard_core::Context::new().user("u2"),
                switchyard_core::Context::new(),
            ] {
                let d = switchyard_core::evaluate_flag(&flag, &ctx);
                out.push((flag.clone(), d));
            }
        }
        assert!(
            out.iter()
                .any(|(f, d)| f.rule_name(d).is_some() && f.has_variants())
        );
        out
    }

    fn native_by_serde(key: &str, d: &Decision, flag: &Flag) -> Value {
        let mut v = json!({"flag": key, "enabled": d.enabled, "variant": flag.variant_name(d),
               "value": flag.value(d), "reason": d.reason, "version": d.version});
        if let Some(rule) = flag.rule_name(d) {
            v["rule"] = json!(rule);
        }
        v
    }

    fn ofrep_by_serde(key: &str, d: &Decision, flag: &Flag) -> Value {
        let mut v = json!({"key": key, "value": flag.value(d), "variant": flag.variant_name(d),
               "reason": openfeature::reason(d, Some(flag)),
               "metadata": {"reason": d.reason.as_str(), "version": d.version.unwrap_or(0)}});
        if let Some(rule) = flag.rule_name(d) {
            v["metadata"]["rule"] = json!(rule);
        }
        v
    }

    fn parsed(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("valid JSON")
    }

    #[test]
    fn single_answers_match_serde_json_for_every_decision() {
        for (flag, d) in cases() {
            let mut out = Vec::new();
            native(&mut out, &flag.key, &d, Some(&flag));
            assert_eq!(parsed(&out), native_by_serde(&flag.key, &d, &flag), "{d:?}");
            let mut out = Vec::new();
            ofrep(&mut out, &flag.key, &d, Some(&flag));
            assert_eq!(parsed(&out), ofrep_by_serde(&flag.key, &d, &flag), "{d:?}");
        }
    }

    #[test]
    fn bulk_answers_match_serde_json_in_order() {
        let cases = cases();
        let answers = || cases.iter().map(|(f, d)| (f, *d));
        let parts = FlagParts::new(cases.iter().map(|(f, _)| f));
        let native_list: Vec<Value> = cases
            .iter()
            .map(|(f, d)| native_by_serde(&f.key, d, f))
            .collect();
        assert_eq!(
            parsed(&native_bulk(42, answers(), &parts)),
            json!({"version": 42, "flags": native_list})
        );
        let ofrep_list: Vec<Value> = cases
            .iter()
            .map(|(f, d)| ofrep_by_serde(&f.key, d, f))
            .collect();
        assert_eq!(
            parsed(&ofrep_bulk(42, answers(), &parts)),
            json!({"flags": ofrep_list, "metadata": {"version": "42"}})
        );
        let empty = std::iter::empty::<(&Flag, Decision)>();
        assert_eq!(
            parsed(&native_bulk(1, empty, &FlagParts::new(std::iter::empty()))),
            json!({"version": 1, "flags": []})
        );
    }

    #[test]
    fn a_key_that_needs_escaping_is_escaped() {
        let d = Decision::new(true, Reason::Rollout, Some(1));
        let odd = "a\"b\\c\u{1}é";
        let mut out = Vec::new();
        native(&mut out, odd, &d, None);
        assert_eq!(parsed(&out)["flag"], odd);
        let mut out = Vec::new();
        ofrep(&mut out, odd, &d, None);
        assert_eq!(parsed(&out)["key"], odd);
        // Bulk answers write the key once per snapshot, escaped the same way.
        let flag = Flag::new(odd);
        let parts = FlagParts::new(std::iter::once(&flag));
        let answers = || std::iter::once((&flag, d));
        assert_eq!(
            parsed(&native_bulk(1, answers(), &parts))["flags"][0]["flag"],
            odd
        );
        assert_eq!(
            parsed(&ofrep_bulk(1, answers(), &parts))["flags"][0]["key"],
            odd
        );
    }
}
