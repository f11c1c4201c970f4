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
                ",\"enabled\":{enabled},\"variant\":\"{variant}\",\"reason\":\"{}\",\"version\":",
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

/// Appends `{"flag","enabled","variant","reason","version"}`.
pub fn native(out: &mut Vec<u8>, flag: &str, d: &Decision) {
    out.extend_from_slice(b"{\"flag\":");
    key(out, flag);
    native_tail(out, d);
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
    for (i, ((_, d), part)) in answers.zip(&parts.0).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"flag\":");
        out.extend_from_slice(&part.key);
        native_tail(&mut out, &d);
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

/// What follows the key in an OFREP answer, up to the version.
fn ofrep_tail(out: &mut Vec<u8>, d: &Decision, flag: Option<&Flag>) {
    let of = openfeature::reason_of(d, flag) as usize;
    let tail =
        &OFREP_TAILS[(of * Reason::ALL.len() + d.reason as usize) * 2 + usize::from(d.enabled)];
    out.extend_from_slice(tail.as_bytes());
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
    use switchyard_core::{Reason, Variant};

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
                        let variant = if enabled { Variant::On } else { Variant::Off };
                        let d = Decision {
                            enabled,
                            variant,
                            reason,
                            version,
                        };
                        cases.push((flag.clone(), d));
                    }
                }
            }
        }
        cases
    }

    fn native_by_serde(key: &str, d: &Decision) -> Value {
        json!({"flag": key, "enabled": d.enabled, "variant": d.variant, "reason": d.reason,
               "version": d.version})
    }

    fn ofrep_by_serde(key: &str, d: &Decision, flag: &Flag) -> Value {
        json!({"key": key, "value": d.enabled, "variant": d.variant.as_str(),
               "reason": openfeature::reason(d, Some(flag)),
               "metadata": {"reason": d.reason.as_str(), "version": d.version.unwrap_or(0)}})
    }

    fn parsed(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("valid JSON")
    }

    #[test]
    fn single_answers_match_serde_json_for_every_decision() {
        for (flag, d) in cases() {
            let mut out = Vec::new();
            native(&mut out, &flag.key, &d);
            assert_eq!(parsed(&out), native_by_serde(&flag.key, &d), "{d:?}");
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
            .map(|(f, d)| native_by_serde(&f.key, d))
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
        native(&mut out, odd, &d);
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
