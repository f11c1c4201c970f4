//! What the conformance harnesses over Unleash's vectors share: reading a vector file from
//! `testdata/`, Unleash's context names as attributes, a strategy's constraints, and the tally of cases run, skipped by name and
//! failed, whose counts each harness pins.

use std::path::PathBuf;

use serde_json::Value;
use switchyard_core::constraint::{CURRENT_TIME, Constraint, ConstraintSpec};

/// The vector file `name` of `testdata/unleash-client-spec`, parsed.
pub fn read(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/unleash-client-spec")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): the vectors live in testdata/",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("a vector file is JSON")
}

/// Cases run, skipped (by name, with why) and failed.
#[derive(Default)]
pub struct Tally {
    ran: usize,
    skipped: Vec<String>,
    failures: Vec<String>,
}

impl Tally {
    /// A case skipped by name.
    pub fn skip(&mut self, file: &str, case: &str, why: &str) {
        self.skipped.push(format!("{file}: {case}: {why}"));
    }

    /// A case run: a failure when `got` is not `want`.
    pub fn check<T: PartialEq + std::fmt::Debug>(
        &mut self,
        file: &str,
        case: &str,
        want: T,
        got: T,
    ) {
        self.ran += 1;
        if got != want {
            self.failures
                .push(format!("{file}: {case}: expected {want:?}, got {got:?}"));
        }
    }

    /// Fails on any failure, and unless exactly `run` cases ran and `skipped` were skipped.
    pub fn finish(self, run: usize, skipped: usize) {
        for skip in &self.skipped {
            println!("skipped {skip}");
        }
        assert!(
            self.failures.is_empty(),
            "{} failures:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
        assert_eq!(
            (self.ran, self.skipped.len()),
            (run, skipped),
            "ran {} cases and skipped {}:\n{}",
            self.ran,
            self.skipped.len(),
            self.skipped.join("\n")
        );
    }
}

/// Calls `each` with every case under `list` (`tests` or `variantTests`) of every file: the
/// file's name, the case's description, the case, and its toggle's feature (`None`: the state
/// holds no such toggle).
pub fn each_case(
    files: &[&str],
    list: &str,
    mut each: impl FnMut(&str, &str, &Value, Option<&Value>),
) {
    for file in files {
        let spec = read(file);
        let features = spec["state"]["features"].as_array().expect("features");
        for case in spec[list].as_array().into_iter().flatten() {
            let name = case["description"].as_str().expect("description");
            let toggle = case["toggleName"].as_str().expect("toggleName");
            let feature = features.iter().find(|f| f["name"] == toggle);
            each(file, name, case, feature);
        }
    }
}

/// Unleash's context field names as Switchyard's attribute names.
pub fn attribute(name: &str) -> Result<String, String> {
    match name {
        "userId" => Ok("user_id".into()),
        "currentTime" => Ok(CURRENT_TIME.into()),
        "sessionId" | "remoteAddress" => Err(format!("the {name} context field (Unleash-only)")),
        other => Ok(other.to_owned()),
    }
}

/// A strategy's constraints, each read as a snapshot reads it ([`Constraint::lenient`]):
/// one a write would refuse (an unknown operator, a pattern that does not compile, a
/// version with a leading `v`) matches nothing, which is what Unleash expects of it.
pub fn constraints(strategy: &Value) -> Result<Vec<Constraint>, String> {
    let mut out = Vec::new();
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
        out.push(Constraint::lenient(spec));
    }
    Ok(out)
}
