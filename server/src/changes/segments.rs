//! Segment changes: create or replace (`PUT`, conditional on the version when it replaces),
//! and delete (refused with a 409 naming the flags whose rules use it). Audited like flags.

use chrono::Utc;
use serde::Deserialize;
use switchyard_core::segment::MAX_SEGMENTS;
use switchyard_core::validate::{validate_key, validate_segment};
use switchyard_core::{Segment, SegmentSpec, ValidationError};

use super::{ChangeError, Precondition, Writer, reason, to_value};
use crate::store::{Commit, Write};

/// A segment as `PUT /v1/segments/{key}` takes it: a [`SegmentSpec`], and `key`,
/// `version` (the expected version), `expected_version`, `updated_at`, `updated_by` and
/// `reason`, so a segment read with GET can be sent back. Any other field is refused by name.
#[derive(Debug)]
pub struct SegmentInput {
    spec: SegmentSpec,
    envelope: Envelope,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    expected_version: Option<u64>,
    #[serde(default)]
    updated_at: Option<serde_json::Value>,
    #[serde(default)]
    updated_by: Option<serde_json::Value>,
    #[serde(default)]
    reason: Option<String>,
}

const ENVELOPE: [&str; 6] = [
    "key",
    "version",
    "expected_version",
    "updated_at",
    "updated_by",
    "reason",
];

impl SegmentInput {
    /// Reads a `PUT` body's object: the envelope's fields, then the spec from the rest.
    pub fn from_object(
        object: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, ChangeError> {
        let (envelope, spec) = super::flags::split_envelope(object, &ENVELOPE, "segment")?;
        Ok(SegmentInput { spec, envelope })
    }
}

/// A store conflict on segment `key`, in words about a segment.
fn conflict(key: &str, expected: Option<u64>, current: Option<u64>) -> ChangeError {
    let at = |v: Option<u64>| v.map_or("absent".to_owned(), |v| format!("version {v}"));
    ChangeError::Conflict {
        message: format!(
            "segment {key:?} is {} but the change expected it {}; nothing was changed: read \
             it again and retry",
            at(current),
            at(expected)
        ),
        current_version: current,
    }
}

impl Writer<'_> {
    /// `PUT`: creates segment `key`, or replaces it when the expected version is given and
    /// current. Returns the segment and whether it was created.
    pub async fn put_segment(
        &self,
        key: &str,
        input: SegmentInput,
        precondition: Precondition,
    ) -> Result<(Segment, bool), ChangeError> {
        validate_key(key).map_err(ValidationError::from)?;
        if let Some(body_key) = &input.envelope.key
            && body_key != key
        {
            return Err(ChangeError::BadInput(format!(
                "the body's key {body_key:?} differs from the path's {key:?}"
            )));
        }
        let _ = (&input.envelope.updated_at, &input.envelope.updated_by);
        let precondition = precondition
            .or_body(input.envelope.expected_version)
            .or_body(input.envelope.version);
        let why = reason(input.envelope.reason)?;
        let current = self.changes.store.segment(key).await?;
        let current_version = current.as_ref().map(|c| c.version);
        if current.is_none() && self.follow.served().segments().len() >= MAX_SEGMENTS {
            return Err(ChangeError::BadInput(format!(
                "there are {MAX_SEGMENTS} segments already, the most a deployment holds; \
                 delete one first"
            )));
        }
        let (version, action) = match (current_version, precondition.expected()) {
            (None, None) => (1, "segment.create"),
            (Some(c), Some(e)) if c == e => (c.saturating_add(1), "segment.update"),
            (Some(c), None) => {
                return Err(ChangeError::Conflict {
                    message: format!(
                        "segment {key:?} exists (version {c}); to replace it, send its version \
                         as If-Match or expected_version"
                    ),
                    current_version: Some(c),
                });
            }
            (current, expected) => return Err(conflict(key, expected, current)),
        };
        let segment = Segment {
            version,
            updated_at: Some(Utc::now()),
            updated_by: Some(self.actor.to_owned()),
            ..Segment::new(key).with_spec(input.spec)
        };
        validate_segment(&segment, &self.changes.limits)?;
        let commit = Commit {
            writes: vec![Write::PutSegment {
                segment: segment.clone(),
                expected: current_version,
            }],
            audit: vec![self.audit(
                action,
                None,
                current.as_ref().map(to_value),
                Some(to_value(&segment)),
                why,
            )],
        };
        self.commit(commit).await?;
        Ok((segment, current.is_none()))
    }

    /// `DELETE`: removes segment `key`, conditional on the expected version; a 409 names the
    /// flags whose rules use it.
    pub async fn delete_segment(
        &self,
        key: &str,
        precondition: Precondition,
        why: Option<String>,
    ) -> Result<Segment, ChangeError> {
        let why = reason(why)?;
        let current = self
            .changes
            .store
            .segment(key)
            .await?
            .ok_or_else(|| ChangeError::NotFound(format!("no segment has the key {key:?}")))?;
        if let Some(expected) = precondition.expected()
            && expected != current.version
        {
            return Err(conflict(key, Some(expected), Some(current.version)));
        }
        let served = self.follow.served();
        let mut users: Vec<&str> = served
            .flags()
            .filter(|f| f.rules.iter().any(|r| r.segments.iter().any(|s| s == key)))
            .map(|f| f.key.as_str())
            .collect();
        if !users.is_empty() {
            users.truncate(20);
            return Err(ChangeError::Conflict {
                message: format!(
                    "segment {key:?} is used by the rules of {}: take it out of them first",
                    users.join(", ")
                ),
                current_version: Some(current.version),
            });
        }
        let commit = Commit {
            writes: vec![Write::DeleteSegment {
                key: key.to_owned(),
                expected: current.version,
            }],
            audit: vec![self.audit("segment.delete", None, Some(to_value(&current)), None, why)],
        };
        self.commit(commit).await?;
        Ok(current)
    }
}
