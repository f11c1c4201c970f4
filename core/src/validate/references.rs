//! Validation of what a flag names outside itself, against the snapshot it would join: the
//! segments its rules name and the flags it requires exist, the variants it requires are
//! ones those flags serve, and `requires` makes no cycle and stays within the depth and the
//! evaluations a decision may spend (docs/flags.md#values-rules-segments-and-prerequisites).

use std::collections::HashMap;

use super::Problem;
use crate::delta::Delta;
use crate::eval::MAX_PREREQUISITE_EVALUATIONS;
use crate::flag::Flag;
use crate::rule::{MAX_REQUIRES_DEPTH, OFF};
use crate::snapshot::Snapshot;

/// Every problem with what `flag` names, were it written into `snapshot`.
pub fn reference_problems(flag: &Flag, snapshot: &Snapshot) -> Vec<Problem> {
    let mut problems = name_problems(flag, snapshot);
    if problems.is_empty() && !flag.requires.is_empty() {
        let mut delta = Delta::default();
        delta.put(flag.clone());
        let next = snapshot.with_changes(snapshot.version, delta);
        problems.extend(graph_problems(&next, &flag.key));
    }
    problems
}

/// The problems of what every flag of `snapshot` names (fields within `flags[KEY]`), then
/// of the graph `requires` makes, walked once.
pub(super) fn snapshot_problems(snapshot: &Snapshot) -> Vec<Problem> {
    let mut problems = Vec::new();
    for flag in snapshot.flags() {
        let inner = name_problems(flag, snapshot).into_iter();
        problems.extend(inner.map(|p| p.within(&format!("flags[{}]", flag.key))));
    }
    if problems.is_empty() {
        problems.extend(graph_problems(snapshot, ""));
    }
    problems
}

/// The segments and required flags `flag` names exist in `snapshot`, and the variants it
/// requires are ones those flags serve.
fn name_problems(flag: &Flag, snapshot: &Snapshot) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, rule) in flag.rules.iter().enumerate() {
        for (j, key) in rule.segments.iter().enumerate() {
            if snapshot.segment(key).is_none() {
                problems.push(Problem::new(
                    format!("rules[{i}].segments[{j}]"),
                    format!("segment {key:?} does not exist; create it first"),
                ));
            }
        }
    }
    for (i, required) in flag.requires.iter().enumerate() {
        let Some(parent) = snapshot
            .get(&required.flag)
            .filter(|_| required.flag != flag.key)
        else {
            problems.push(Problem::new(
                format!("requires[{i}].flag"),
                format!("flag {:?} does not exist", required.flag),
            ));
            continue;
        };
        for (j, name) in required.variants.iter().enumerate() {
            let serves = if parent.has_variants() {
                name == OFF
                    || parent.variants.iter().any(|v| v.name == *name)
                    || parent
                        .rules
                        .iter()
                        .any(|r| r.variants.iter().any(|v| v.name == *name))
            } else {
                name == "on" || name == OFF
            };
            if !serves {
                problems.push(Problem::new(
                    format!("requires[{i}].variants[{j}]"),
                    format!("flag {:?} never serves variant {name:?}", required.flag),
                ));
            }
        }
    }
    problems
}

/// What `requires` makes of `snapshot`'s flags, walked from every flag that requires one:
/// a cycle through `changed` (the one written; the rest were checked when they were), a
/// chain deeper than [`MAX_REQUIRES_DEPTH`], or more evaluations than a decision may spend.
fn graph_problems(snapshot: &Snapshot, changed: &str) -> Vec<Problem> {
    let mut walk = Walk {
        snapshot,
        cost: HashMap::new(),
        path: Vec::new(),
        cycle: None,
    };
    let mut problems = Vec::new();
    for flag in snapshot.flags().filter(|f| !f.requires.is_empty()) {
        let Some(cost) = walk.cost_of(&flag.key) else {
            break;
        };
        let over = if cost.depth > MAX_REQUIRES_DEPTH {
            format!(
                "flag {:?} would require flags {} levels deep; the limit is {MAX_REQUIRES_DEPTH}",
                flag.key, cost.depth
            )
        } else if cost.evaluations > MAX_PREREQUISITE_EVALUATIONS {
            format!(
                "deciding flag {:?} would evaluate {} required flags (counted along every path); the limit is {MAX_PREREQUISITE_EVALUATIONS}",
                flag.key, cost.evaluations
            )
        } else {
            continue;
        };
        problems.push(Problem::new("requires", over));
        break;
    }
    if let Some(mut cycle) = walk.cycle {
        // Named from the flag written, when it is in the cycle.
        if let Some(at) = cycle.iter().position(|k| k == changed) {
            cycle.pop();
            cycle.rotate_left(at);
            cycle.push(changed.to_owned());
        }
        let names: Vec<String> = cycle.iter().map(|k| format!("{k:?}")).collect();
        let what = if changed.is_empty() {
            "makes"
        } else if cycle.iter().any(|k| k == changed) {
            "would make"
        } else {
            "holds"
        };
        problems.push(Problem::new(
            "requires",
            format!("{what} a cycle: {}", names.join(" requires ")),
        ));
    }
    problems
}

/// How deep a flag's requirements go and how many evaluations deciding it spends on them.
#[derive(Clone, Copy)]
struct Cost {
    depth: usize,
    evaluations: usize,
}

/// A depth-first walk of `requires` that remembers each flag's cost and stops at a cycle.
struct Walk<'a> {
    snapshot: &'a Snapshot,
    cost: HashMap<&'a str, Cost>,
    path: Vec<&'a str>,
    cycle: Option<Vec<String>>,
}

impl<'a> Walk<'a> {
    /// `key`'s cost, or `None` once a cycle is found. Costs are capped just past the limits,
    /// so the numbers stay small however wide the graph.
    fn cost_of(&mut self, key: &'a str) -> Option<Cost> {
        if let Some(cost) = self.cost.get(key) {
            return Some(*cost);
        }
        if let Some(at) = self.path.iter().position(|k| *k == key) {
            let mut cycle: Vec<String> = self.path[at..].iter().map(|k| (*k).to_owned()).collect();
            cycle.push(key.to_owned());
            self.cycle = Some(cycle);
            return None;
        }
        let Some(flag) = self.snapshot.get(key) else {
            return Some(Cost {
                depth: 0,
                evaluations: 0,
            });
        };
        self.path.push(key);
        let mut cost = Cost {
            depth: 0,
            evaluations: 0,
        };
        for required in &flag.requires {
            let below = self.cost_of(&required.flag)?;
            cost.depth = cost.depth.max(below.depth + 1).min(MAX_REQUIRES_DEPTH + 1);
            cost.evaluations =
                (cost.evaluations + 1 + below.evaluations).min(MAX_PREREQUISITE_EVALUATIONS + 1);
        }
        self.path.pop();
        self.cost.insert(key, cost);
        Some(cost)
    }
}
