//! A plan's definition checked whole: every problem with its stages and guards at once.

use super::{MAX_EVENT_BYTES, MAX_GUARDS, MAX_QUERY_BYTES, MAX_STAGES, ReleasePlan};
use crate::problem::Problem;

impl ReleasePlan {
    /// Every problem with the plan's definition (stages, guards), at once.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.stages.is_empty() {
            problems.push(Problem::new("stages", "a plan needs at least one stage"));
        }
        if self.stages.len() > MAX_STAGES {
            problems.push(Problem::new(
                "stages",
                format!(
                    "holds {} stages; the limit is {MAX_STAGES}",
                    self.stages.len()
                ),
            ));
        }
        for (i, stage) in self.stages.iter().enumerate() {
            if stage.rollout_percentage > 100 {
                problems.push(Problem::new(
                    format!("stages[{i}].rollout_percentage"),
                    "must be 0 to 100",
                ));
            }
        }
        if self.guards.len() > MAX_GUARDS {
            problems.push(Problem::new(
                "guards",
                format!(
                    "holds {} guards; the limit is {MAX_GUARDS}",
                    self.guards.len()
                ),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, guard) in self.guards.iter().enumerate() {
            let field = |f: &str| format!("guards[{i}].{f}");
            if !crate::client_id::is_fleet_id(&guard.name) {
                problems.push(Problem::new(
                    field("name"),
                    "must be 1 to 128 letters, digits, '.', '_', '-' or ':'",
                ));
            }
            if !names.insert(guard.name.as_str()) {
                problems.push(Problem::new(field("name"), "is used by another guard"));
            }
            match (&guard.prometheus, &guard.impact) {
                (Some(p), None) => {
                    let query = &p.query;
                    if query.trim().is_empty()
                        || query.len() > MAX_QUERY_BYTES
                        || query.contains('\0')
                    {
                        problems.push(Problem::new(
                            field("prometheus.query"),
                            format!("must be 1 to {MAX_QUERY_BYTES} bytes of PromQL"),
                        ));
                    }
                    if !p.above.0.is_finite() {
                        problems.push(Problem::new(field("prometheus.above"), "must be a number"));
                    }
                }
                (None, Some(i)) => {
                    if !crate::impact::is_event_name(&i.event) {
                        problems.push(Problem::new(
                            field("impact.event"),
                            format!("must be 1 to {MAX_EVENT_BYTES} letters, digits, '.', '_', '-' or ':'"),
                        ));
                    }
                    if !(i.max_ratio.0.is_finite() && i.max_ratio.0 >= 1.0) {
                        problems.push(Problem::new(
                            field("impact.max_ratio"),
                            "must be a number ≥ 1",
                        ));
                    }
                    if !(i.confidence.0 > 0.5 && i.confidence.0 < 1.0) {
                        problems.push(Problem::new(
                            field("impact.confidence"),
                            "must be above 0.5 and below 1 (e.g. 0.95)",
                        ));
                    }
                    if i.min_exposures == 0 || i.min_exposures > 1_000_000_000 {
                        problems.push(Problem::new(
                            field("impact.min_exposures"),
                            "must be 1 to 1,000,000,000",
                        ));
                    }
                }
                _ => problems.push(Problem::new(
                    field("prometheus"),
                    "a guard watches exactly one of prometheus and impact",
                )),
            }
        }
        if self.stage >= self.stages.len().max(1) {
            problems.push(Problem::new("stage", "is past the last stage"));
        }
        problems
    }
}
