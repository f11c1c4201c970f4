//! Segments: named, reusable lists of constraints that flags' rules refer to by key
//! (docs/flags.md#values-rules-segments-and-prerequisites), stored, versioned and served like flags.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::constraint::{Attributes, Constraint};

/// The most segments one deployment (and one backup) holds: every rule names them by key,
/// and a snapshot keeps them all.
pub const MAX_SEGMENTS: usize = 10_000;

/// A segment as stored, served and exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Unique key, the same format as a flag's.
    pub key: String,
    /// Free text for people.
    #[serde(default)]
    pub description: String,
    /// A context is in the segment when it matches every one.
    #[serde(default)]
    pub constraints: Vec<Constraint>,
    /// Starts at 1, +1 on every change; set by the server only.
    #[serde(default)]
    pub version: u64,
    /// When the segment last changed; set by the server only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Who last changed it (a token's name); set by the server only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

/// What a client may set on a segment: everything but its key and the server's stamps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentSpec {
    /// Free text for people.
    pub description: String,
    /// A context is in the segment when it matches every one.
    pub constraints: Vec<Constraint>,
}

impl Segment {
    /// A new segment with no constraints (everyone is in it).
    pub fn new(key: impl Into<String>) -> Self {
        Segment {
            key: key.into(),
            description: String::new(),
            constraints: Vec::new(),
            version: 0,
            updated_at: None,
            updated_by: None,
        }
    }

    /// What a client may set on this segment.
    pub fn spec(&self) -> SegmentSpec {
        let Segment {
            key: _,
            description,
            constraints,
            version: _,
            updated_at: _,
            updated_by: _,
        } = self;
        SegmentSpec {
            description: description.clone(),
            constraints: constraints.clone(),
        }
    }

    /// This segment with `spec` in place of what a client may set; key and stamps stay.
    pub fn with_spec(self, spec: SegmentSpec) -> Segment {
        let SegmentSpec {
            description,
            constraints,
        } = spec;
        Segment {
            description,
            constraints,
            ..self
        }
    }

    /// Whether `ctx` is in the segment (`now`: the evaluator's clock, for date operators).
    pub fn matches(&self, ctx: &(impl Attributes + ?Sized), now: Option<DateTime<Utc>>) -> bool {
        crate::constraint::all_match(&self.constraints, ctx, now)
    }

    /// Whether a date constraint may read the evaluator's clock.
    pub fn uses_clock(&self) -> bool {
        self.constraints.iter().any(Constraint::uses_clock)
    }
}
