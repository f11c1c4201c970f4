//! A problem with an input, and every problem at once: what validation of a flag, a
//! backup or a release plan reports; and the problem+json body an error answer carries.

use std::fmt;

/// One thing wrong with a flag: where, and what.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// The field, e.g. `markets[2]` or `flags[3].key`.
    pub field: String,
    /// What is wrong, in words a person can act on.
    pub message: String,
}

impl Problem {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn within(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Everything wrong with a flag or a backup. Never empty.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationError {
    /// Every problem found, in field order.
    pub problems: Vec<Problem>,
}

impl From<Problem> for ValidationError {
    fn from(problem: Problem) -> Self {
        ValidationError {
            problems: vec![problem],
        }
    }
}

/// An error answer's body, `application/problem+json` (RFC 9457): what the server writes and
/// the CLI reads, so both name its fields alike. `kind` is the `type` URI
/// (`urn:switchyard:problem:<slug>`); the fields after `detail` appear only where they apply.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProblemDetails {
    /// `urn:switchyard:problem:<slug>`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// A short, fixed title for the kind.
    #[serde(default)]
    pub title: String,
    /// The HTTP status.
    #[serde(default)]
    pub status: u16,
    /// What went wrong, for a person.
    #[serde(default)]
    pub detail: String,
    /// A validation failure's every problem.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// A 403's role needed, and the caller's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_role: Option<String>,
    /// The caller's role, beside `required_role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A 409's current version: `Some(None)` (written `null`) when nothing is there now.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::wire::present"
    )]
    pub current_version: Option<Option<u64>>,
    /// An unknown flag's evaluation answer, for clients that read only these fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// The unknown flag's decision: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The unknown flag's variant: `off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The unknown flag's reason: `FLAG_NOT_FOUND`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ProblemDetails {
    /// A problem of kind `slug` with `status`, `title` and `detail`.
    pub fn new(status: u16, slug: &str, title: &str, detail: &str) -> Self {
        ProblemDetails {
            kind: format!("urn:switchyard:problem:{slug}"),
            title: title.to_owned(),
            status,
            detail: detail.to_owned(),
            ..ProblemDetails::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_body_reads_back_as_written_and_a_null_current_version_is_kept() {
        let mut body = ProblemDetails::new(409, "conflict", "Conflict", "stale");
        body.current_version = Some(None);
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["type"], "urn:switchyard:problem:conflict");
        assert!(json["current_version"].is_null());
        assert!(json.as_object().unwrap().contains_key("current_version"));
        assert!(!json.as_object().unwrap().contains_key("problems"));
        let back: ProblemDetails = serde_json::from_value(json).unwrap();
        assert_eq!(back, body);
        let plain: ProblemDetails = serde_json::from_str(r#"{"detail":"x"}"#).unwrap();
        assert_eq!((plain.detail.as_str(), plain.current_version), ("x", None));
    }
}
