//! The constraint operators' own cases: each kind matched, refused, inverted and bounded.
use super::*;
use std::collections::HashMap;

#[test]
fn the_plain_version_fast_path_orders_as_semver_does() {
    let cases = [
        "2.4.1",
        "2.2.9",
        "10.0.0",
        "0.0.0",
        "1.2",
        "1.2.3.4",
        "01.2.3",
        "1.02.3",
        "1.2.3-beta",
        "1.2.3+build",
        "v1.2.3",
        "",
        "1..3",
        "18446744073709551616.0.0",
    ];
    for against in ["2.2.9", "2.3.0-rc.1", "0.0.0", "10.0.0+meta"] {
        let v = semver::Version::parse(against).unwrap();
        for text in cases {
            let fast = plain_version(text)
                .filter(|_| v.pre.is_empty() && v.build.is_empty())
                .map(|x| x.cmp(&(v.major, v.minor, v.patch)));
            let slow = semver::Version::parse(text).ok().map(|x| x.cmp(&v));
            if let Some(fast) = fast {
                assert_eq!(Some(fast), slow, "{text} against {against}");
            }
            if plain_version(text).is_some() {
                assert!(slow.is_some(), "{text} is plain, so semver reads it");
            }
        }
    }
}

struct Ctx(HashMap<&'static str, &'static str>);

impl Attributes for Ctx {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.0.get(name).copied()
    }
}

fn constraint(op: &str, values: &[&str], value: Option<&str>) -> Result<Constraint, String> {
    Constraint::new(ConstraintSpec {
        attribute: "a".into(),
        operator: op.into(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
        value: value.map(str::to_owned),
        ..ConstraintSpec::default()
    })
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

#[test]
fn what_cannot_match_is_refused_when_built() {
    for (op, value, why) in [
        ("NOT_AN_OPERATOR", "1", "unknown operator"),
        ("NUM_GT", "ten", "not a number"),
        ("DATE_AFTER", "yesterday", "not a date"),
        ("SEMVER_GT", "v2", "not a semantic version"),
        ("REGEX", "(", "does not compile"),
    ] {
        let e = constraint(op, &[], Some(value)).unwrap_err();
        assert!(e.contains(why), "{op} {value}: {e}");
    }
    let e = constraint("IN", &[], Some("x")).unwrap_err();
    assert!(e.contains("give \"values\""), "{e}");
    let long = "a".repeat(MAX_PATTERN_BYTES + 1);
    assert!(constraint("REGEX", &[], Some(&long)).is_err());
}

#[test]
fn operators_compare_as_unleash_does() {
    let ctx = Ctx(HashMap::from([("a", "Some-Value 2.3.1")]));
    let yes = |op: &str, values: &[&str], value: Option<&str>| {
        constraint(op, values, value)
            .unwrap()
            .matches(&ctx, Some(now()))
    };
    assert!(yes("STR_STARTS_WITH", &["x", "Some"], None));
    assert!(!yes("STR_STARTS_WITH", &["some"], None));
    assert!(yes("STR_ENDS_WITH", &["2.3.1"], None));
    assert!(yes("STR_CONTAINS", &["Value"], None));
    assert!(yes("NOT_IN", &["other"], None));
    assert!(!yes("IN", &["other"], None));
    assert!(yes("REGEX", &[], Some(r"\d+\.\d+")));
    let absent = Ctx(HashMap::new());
    let c = constraint("NOT_IN", &["x"], None).unwrap();
    assert!(
        c.matches(&absent, Some(now())),
        "an absent attribute is in no list"
    );
    let c = constraint("IN", &["x"], None).unwrap();
    assert!(!c.matches(&absent, Some(now())));
}

#[test]
fn a_set_holds_ten_thousand_values_and_case_insensitivity_folds_both_sides() {
    let values: Vec<String> = (0..MAX_VALUES).map(|i| format!("u{i}")).collect();
    let c = Constraint::new(ConstraintSpec {
        attribute: "a".into(),
        operator: "IN".into(),
        values: values.clone(),
        case_insensitive: true,
        ..ConstraintSpec::default()
    })
    .unwrap();
    assert!(c.matches(&Ctx(HashMap::from([("a", "U9999")])), Some(now())));
    let mut too_many = values;
    too_many.push("one more".into());
    assert!(
        Constraint::new(ConstraintSpec {
            attribute: "a".into(),
            operator: "IN".into(),
            values: too_many,
            ..ConstraintSpec::default()
        })
        .is_err()
    );
}

#[test]
fn dates_compare_with_the_context_time_else_the_clock_given() {
    let c = Constraint::new(ConstraintSpec {
        attribute: CURRENT_TIME.into(),
        operator: "DATE_AFTER".into(),
        value: Some("2026-01-01T00:00:00Z".into()),
        ..ConstraintSpec::default()
    })
    .unwrap();
    assert!(c.matches(&Ctx(HashMap::new()), Some(now())), "now is 2027");
    assert!(!c.matches(&Ctx(HashMap::new()), None), "no clock, no time");
    let before = Ctx(HashMap::from([("current_time", "2025-06-01T00:00:00Z")]));
    assert!(!c.matches(&before, Some(now())));
    let inverted = Constraint::new(ConstraintSpec {
        inverted: true,
        ..c.spec().clone()
    })
    .unwrap();
    assert!(inverted.matches(&before, Some(now())));
}

#[test]
fn a_constraint_round_trips_as_written() {
    let json = r#"{"attribute":"app_version","operator":"SEMVER_GT","value":"2.2.9"}"#;
    let c: Constraint = serde_json::from_str(json).unwrap();
    assert_eq!(c.operator(), Operator::SemverGt);
    assert_eq!(serde_json::to_string(&c).unwrap(), json);
    let bad = r#"{"attribute":"a","operator":"NOPE","values":["x"]}"#;
    let read: Constraint = serde_json::from_str(bad).unwrap();
    assert!(read.problem().unwrap().contains("unknown operator"));
    assert!(!read.matches(&Ctx(HashMap::from([("a", "x")])), None));
    assert_eq!(serde_json::to_string(&read).unwrap(), bad);
}
