//! What a flag serves beyond on/off and who else gets it (docs/flags.md#values-rules-segments-and-prerequisites):
//! its variants with values and weights, its rules on any attribute, the flags it requires,
//! and the limits on each. Read leniently, like a flag (a field a newer server added is
//! ignored); the server refuses unknown fields of a write by name.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::constraint::Constraint;

/// The most variants a flag (or one rule) may split into.
pub const MAX_VARIANTS: usize = 32;
/// What the weights of a split sum to (Unleash's scale: 1000 is everyone).
pub const TOTAL_WEIGHT: u32 = 1000;
/// The most rules a flag may carry.
pub const MAX_RULES: usize = 64;
/// The most constraints one rule (or one segment) may carry.
pub const MAX_RULE_CONSTRAINTS: usize = 32;
/// The most segments one rule may name.
pub const MAX_RULE_SEGMENTS: usize = 16;
/// The most flags one flag may require.
pub const MAX_REQUIRES: usize = 16;
/// How deep prerequisites may chain: a flag, the flags it requires, theirs, … at most this
/// many levels below it. Evaluation stops there and counts the requirement failed.
pub const MAX_REQUIRES_DEPTH: usize = 8;
/// The longest variant value, as JSON text, in bytes.
pub const MAX_VALUE_BYTES: usize = 32 * 1024;
/// The longest rule name, in bytes.
pub const MAX_RULE_NAME_BYTES: usize = 128;
/// The variant name every flag serves when off; no variant may take it.
pub const OFF: &str = "off";

/// One value a flag may serve, with its share of the split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagVariant {
    /// A key (`[A-Za-z0-9._-]`, 1–128); never `off`.
    pub name: String,
    /// A JSON string, number, boolean or object; every value of one flag has one type.
    pub value: Value,
    /// 0–1000; a split's weights sum to 1000.
    #[serde(default)]
    pub weight: u32,
}

/// One more way to be on: a context matching every constraint and segment, and inside the
/// rule's rollout, gets the flag (and the rule's variant).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Unique within the flag; decisions name it.
    pub name: String,
    /// Segments (by key) the context must match, each of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    /// Constraints the context must match, each of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    /// 0–100: the share of matching contexts (by bucket) the rule includes; 100 when absent.
    #[serde(default = "everyone")]
    pub rollout_percentage: u32,
    /// The flag variant (by name) this rule serves: a pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The rule's own split, in place of the flag's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<FlagVariant>,
    /// The rule's stickiness group for its bucket and its own split; the flag's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
}

fn everyone() -> u32 {
    100
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Rule {
    /// A rule named `name` that includes everyone (until constraints are added).
    pub fn new(name: impl Into<String>) -> Self {
        Rule {
            name: name.into(),
            segments: Vec::new(),
            constraints: Vec::new(),
            rollout_percentage: 100,
            variant: None,
            variants: Vec::new(),
            group_id: None,
        }
    }

    /// Whether a date constraint of the rule may read the evaluator's clock.
    pub fn uses_clock(&self) -> bool {
        self.constraints.iter().any(Constraint::uses_clock)
    }
}

/// A flag this one requires: it must evaluate, for the same context, to `enabled` and (when
/// `variants` is not empty) to one of `variants`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// The required flag's key.
    pub flag: String,
    /// On (true, the default) or off.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Variant names, one of which the required flag must serve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<String>,
}

impl Requirement {
    /// Requires `flag` on.
    pub fn on(flag: impl Into<String>) -> Self {
        Requirement {
            flag: flag.into(),
            enabled: true,
            variants: Vec::new(),
        }
    }
}

/// The JSON type of a value, as a write names it.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
