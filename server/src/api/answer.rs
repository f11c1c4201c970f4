//! The evaluation answers' JSON (native and OFREP, one flag or all), written straight into
//! one buffer. They go out on every evaluation, and serde's general serialiser (a call per
//! field, each string scanned byte by byte for escapes) was most of their cost: a bulk
//! answer over 100 flags spent more on it than on the evaluations. Every string here is a
//! fixed word or a flag key, which is checked when stored (`[A-Za-z0-9._-]`) and so needs no
//! escaping; a key that somehow does (written to the store behind the server's back) is
//! escaped by serde_json. The tests hold every shape to serde_json's output.

use std::sync::LazyLock;

use switchyard_core::{Decision, Flag, Reason, openfeature};

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

/// OpenFeature's reasons (`openfeature::reason`), indexed for [`OFREP_TAILS`].
const OPENFEATURE_REASONS: [&str; 6] = [
    "DISABLED",
    "TARGETING_MATCH",
    "ERROR",
    "DEFAULT",
    "SPLIT",
    "STATIC",
];

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
    for openfeature in OPENFEATURE_REASONS {
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
    let tail = &NATIVE_TAILS[d.reason as usize * 2 + usize::from(d.enabled)];
    out.extend_from_slice(tail.as_bytes());
    match d.version {
        Some(v) => number(out, v),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// `{"version", "flags": [native answers]}`.
pub fn native_bulk<'a>(
    version: u64,
    answers: impl ExactSizeIterator<Item = (&'a Flag, Decision)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + answers.len() * 96);
    out.extend_from_slice(b"{\"version\":");
    number(&mut out, version);
    out.extend_from_slice(b",\"flags\":[");
    for (i, (flag, d)) in answers.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        native(&mut out, &flag.key, &d);
    }
    out.extend_from_slice(b"]}");
    out
}

/// Appends OFREP's success object: `{"key","value","variant","reason","metadata":{"reason",
/// "version"}}` (Switchyard's own reason and the flag's version as metadata).
pub fn ofrep(out: &mut Vec<u8>, flag_key: &str, d: &Decision, flag: Option<&Flag>) {
    out.extend_from_slice(b"{\"key\":");
    key(out, flag_key);
    let openfeature = openfeature::reason(d, flag);
    let of = OPENFEATURE_REASONS
        .iter()
        .position(|r| *r == openfeature)
        .unwrap_or(0);
    let tail =
        &OFREP_TAILS[(of * Reason::ALL.len() + d.reason as usize) * 2 + usize::from(d.enabled)];
    out.extend_from_slice(tail.as_bytes());
    number(out, d.version.unwrap_or(0));
    out.extend_from_slice(b"}}");
}

/// OFREP's bulk answer: `{"flags": [success objects], "metadata": {"version": "N"}}`.
pub fn ofrep_bulk<'a>(
    version: u64,
    answers: impl ExactSizeIterator<Item = (&'a Flag, Decision)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + answers.len() * 128);
    out.extend_from_slice(b"{\"flags\":[");
    for (i, (flag, d)) in answers.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        ofrep(&mut out, &flag.key, &d, Some(flag));
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
    fn every_openfeature_reason_has_a_tail() {
        for (flag, d) in cases() {
            let reason = openfeature::reason(&d, Some(&flag));
            assert!(OPENFEATURE_REASONS.contains(&reason), "{reason}");
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
        let native_list: Vec<Value> = cases
            .iter()
            .map(|(f, d)| native_by_serde(&f.key, d))
            .collect();
        assert_eq!(
            parsed(&native_bulk(42, answers())),
            json!({"version": 42, "flags": native_list})
        );
        let ofrep_list: Vec<Value> = cases
            .iter()
            .map(|(f, d)| ofrep_by_serde(&f.key, d, f))
            .collect();
        assert_eq!(
            parsed(&ofrep_bulk(42, answers())),
            json!({"flags": ofrep_list, "metadata": {"version": "42"}})
        );
        let empty = std::iter::empty::<(&Flag, Decision)>();
        assert_eq!(
            parsed(&native_bulk(1, empty)),
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
    }
}
