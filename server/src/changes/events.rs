//! What a committed change tells the people watching (docs/api.md#release-plans notifications): one event per
//! plan transition and per kill switch change, whoever made it, with one human sentence.
//! Made only by the instance that committed the change, so each is sent once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// One notification.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// `plan.started`, `plan.stage`, `plan.paused`, `plan.resumed`, `plan.tripped`,
    /// `plan.completed`, `plan.aborted` or `kill_switch`.
    pub event: &'static str,
    /// The flag, unless it is about the global kill switch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// One sentence for people (a Slack incoming webhook shows it as is).
    pub text: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it: a token's name, `plan`, or `guard:<name>`.
    pub actor: String,
    /// The flag's version after the change (none for the global kill switch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Event-specific details (the plan's state, the trip, the kill switch).
    #[serde(flatten)]
    pub detail: serde_json::Map<String, Value>,
}
