//! Release plans (docs/api.md#release-plans): the stages a flag's rollout walks by itself, the guards that stop
//! it, and the one pure function that says what a running plan does next. The plan is part
//! of the flag it drives, so every transition is an ordinary versioned flag write. No clock:
//! the caller passes `now` and what each guard reads.
//!
//! - [`span`]: the units a plan is written in.
//! - [`watch`]: what each guard reads, between ticks.
//! - [`check`]: every problem with a plan's definition.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod check;
mod span;
mod watch;

pub use span::{MAX_SPAN_MS, Reading, Span};
pub use watch::{GuardStatus, Watch};

/// A plan's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanState {
    /// Walking its stages.
    Running,
    /// Stopped by a person (or by a person's change to the flag); `resume` goes on.
    Paused,
    /// Stopped by a guard.
    Tripped,
    /// Reached its last stage.
    Completed,
    /// Stopped for good by a person; the percentage stays where it was.
    Aborted,
}

impl PlanState {
    /// The lower-case name, as in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Running => "running",
            PlanState::Paused => "paused",
            PlanState::Tripped => "tripped",
            PlanState::Completed => "completed",
            PlanState::Aborted => "aborted",
        }
    }

    /// Every state, in API order.
    pub const ALL: [PlanState; 5] = [
        PlanState::Running,
        PlanState::Paused,
        PlanState::Tripped,
        PlanState::Completed,
        PlanState::Aborted,
    ];

    /// Running or paused: the plan is not over, and a second plan is refused.
    pub fn is_open(self) -> bool {
        matches!(self, PlanState::Running | PlanState::Paused)
    }
}

/// One stage: the percentage, and how long it holds before the next (none: the last stage,
/// or move on at once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// The rollout percentage during the stage.
    pub rollout_percentage: u32,
    /// How long it lasts before the next stage, guards permitting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Span>,
}

/// A guard on a Prometheus query: an instant query giving one sample.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusGuard {
    /// PromQL giving one sample.
    pub query: String,
    /// The guard trips when the value stays above this.
    pub above: Reading,
}

/// A guard on the SDKs' impact reports (docs/api.md#release-plans): trips when, in the current stage, the
/// `event` rate among users who got `on` is higher than `max_ratio` × the rate among users
/// who got `off`, with one-sided `confidence`, once both cohorts have `min_exposures`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpactGuard {
    /// The tracked event, e.g. `error`.
    pub event: String,
    /// How much worse the on-cohort may be.
    pub max_ratio: Reading,
    /// Exposures each cohort needs before the test may trip.
    pub min_exposures: u64,
    /// The one-sided confidence, e.g. 0.95.
    pub confidence: Reading,
}

/// A guard: trips when its value stays above its threshold for `for`. Exactly one of
/// `prometheus` and `impact` says what it watches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    /// Names it in the plan's state, the audit (`guard:<name>`) and notifications.
    pub name: String,
    /// A Prometheus query it watches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusGuard>,
    /// The SDKs' impact reports it tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<ImpactGuard>,
    /// How long the value must stay above the threshold; none: one reading above trips.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Span>,
}

/// What a trip does besides stopping the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnTrip {
    /// Only stop.
    Pause,
    /// Also set the percentage back to the previous stage's.
    Rollback,
    /// Also turn the flag's kill switch on.
    Kill,
}

impl Guard {
    /// The threshold its value is compared with: the query's `above`, or the impact's
    /// `max_ratio`.
    pub fn threshold(&self) -> Reading {
        match (&self.prometheus, &self.impact) {
            (Some(p), _) => p.above,
            (None, Some(i)) => i.max_ratio,
            (None, None) => Reading(f64::INFINITY),
        }
    }

    /// A Prometheus guard on `query` above `above`.
    pub fn on_prometheus(name: &str, query: &str, above: f64, for_: Option<Span>) -> Guard {
        Guard {
            name: name.into(),
            prometheus: Some(PrometheusGuard {
                query: query.into(),
                above: Reading(above),
            }),
            impact: None,
            for_,
        }
    }
}

/// Which guard tripped the plan, with what, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trip {
    /// The guard's name.
    pub guard: String,
    /// The value it read.
    pub value: Reading,
    /// Its threshold.
    pub threshold: Reading,
    /// When.
    pub at: DateTime<Utc>,
}

impl Trip {
    /// `guard <name>: <value> above <threshold>`: the kill switch's reason (docs/api.md#release-plans).
    pub fn reason(&self) -> String {
        format!(
            "guard {}: {} above {}",
            self.guard, self.value, self.threshold
        )
    }
}

/// A flag's release plan, as stored with the flag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePlan {
    /// Where it is.
    pub state: PlanState,
    /// The current stage (index into `stages`).
    pub stage: usize,
    /// Every stage, in order.
    pub stages: Vec<Stage>,
    /// What watches it.
    #[serde(default)]
    pub guards: Vec<Guard>,
    /// What a trip does.
    pub on_trip: OnTrip,
    /// When the current stage began (moved later by a pause, so the hold left is kept).
    pub stage_started_at: DateTime<Utc>,
    /// While paused: how much of the stage's hold had passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_ms: Option<u64>,
    /// The rollout percentage before the plan began (a rollback from the first stage).
    #[serde(default)]
    pub started_from: u32,
    /// Who started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// When it started: with the stage, names the stage's impact sums.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// The trip that stopped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tripped_by: Option<Trip>,
    /// Why it was paused or aborted, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The rule (by name) whose `rollout_percentage` the plan walks; `None`: the flag's base
    /// `rollout_percentage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// The most stages and guards one plan may have.
pub const MAX_STAGES: usize = 20;
/// See [`MAX_STAGES`].
pub const MAX_GUARDS: usize = 10;
/// The longest guard query.
pub const MAX_QUERY_BYTES: usize = 4096;
/// The longest tracked event name.
pub const MAX_EVENT_BYTES: usize = crate::impact::MAX_EVENT_BYTES;

/// What a running plan does next.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Nothing now.
    Hold,
    /// Move to stage `to`.
    Advance {
        /// The next stage.
        to: usize,
    },
    /// The last stage is reached: the plan is complete.
    Complete,
    /// Guard `guard` (index) tripped reading `value`.
    Trip {
        /// The guard's index in the plan.
        guard: usize,
        /// What it read.
        value: f64,
    },
}

impl ReleasePlan {
    /// A plan running from its first stage since `now`, not yet started on a flag (the
    /// writer sets who started it, when, and from what percentage).
    pub fn new(
        stages: Vec<Stage>,
        guards: Vec<Guard>,
        on_trip: OnTrip,
        now: DateTime<Utc>,
    ) -> Self {
        ReleasePlan {
            state: PlanState::Running,
            stage: 0,
            stages,
            guards,
            on_trip,
            stage_started_at: now,
            held_ms: None,
            started_from: 0,
            started_by: None,
            started_at: None,
            tripped_by: None,
            note: None,
            rule: None,
        }
    }

    /// The name of the current stage's impact sums: the plan's start and the stage.
    pub fn stage_key(&self) -> String {
        let started = self.started_at.map_or(0, |t| t.timestamp_millis());
        format!("{started}:{}", self.stage)
    }

    /// The current stage's hold (none: zero).
    pub fn hold(&self) -> chrono::Duration {
        self.stages
            .get(self.stage)
            .and_then(|s| s.hold)
            .unwrap_or_default()
            .duration()
    }

    /// When the current stage's hold ends (none while not running).
    pub fn next_at(&self) -> Option<DateTime<Utc>> {
        (self.state == PlanState::Running).then(|| self.stage_started_at + self.hold())
    }

    /// The step after the current stage: advance, or complete on the last.
    fn onward(&self) -> Step {
        if self.stage + 1 < self.stages.len() {
            Step::Advance { to: self.stage + 1 }
        } else {
            Step::Complete
        }
    }

    /// What the plan does at `now` given each guard's status (in `guards` order): a tripped
    /// guard trips it; an unknown one holds it (it never advances on missing data); else it
    /// moves on once the stage's hold has passed.
    pub fn next_step(&self, now: DateTime<Utc>, guards: &[GuardStatus]) -> Step {
        if self.state != PlanState::Running {
            return Step::Hold;
        }
        for (i, status) in guards.iter().enumerate() {
            if let GuardStatus::Tripped(value) = status {
                return Step::Trip {
                    guard: i,
                    value: *value,
                };
            }
        }
        if guards.contains(&GuardStatus::Unknown) {
            return Step::Hold;
        }
        if now >= self.stage_started_at + self.hold() {
            self.onward()
        } else {
            Step::Hold
        }
    }

    /// What `advance` (move on now) does: the next step whatever the hold, unless a guard
    /// holds or trips the plan (then why not).
    pub fn advance_now(&self, guards: &[GuardStatus]) -> Result<Step, String> {
        if self.state != PlanState::Running && self.state != PlanState::Paused {
            return Err(format!("the plan is {}", self.state.as_str()));
        }
        for (guard, status) in self.guards.iter().zip(guards) {
            match status {
                GuardStatus::Ok(_) => {}
                GuardStatus::Unknown => {
                    return Err(format!("guard {} has no reading", guard.name));
                }
                GuardStatus::Tripped(v) => {
                    return Err(format!(
                        "guard {} reads {} above {}",
                        guard.name,
                        Reading(*v),
                        guard.threshold()
                    ));
                }
            }
        }
        Ok(self.onward())
    }

    /// The percentage a rollback after a trip goes back to: the previous stage's, or what
    /// the flag had before the plan.
    pub fn previous_percentage(&self) -> u32 {
        match self.stage.checked_sub(1) {
            Some(prev) => self.stages[prev].rollout_percentage,
            None => self.started_from,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn plan(stages: &[(u32, Option<&str>)]) -> ReleasePlan {
        let stages = stages
            .iter()
            .map(|(p, h)| Stage {
                rollout_percentage: *p,
                hold: h.map(|h| h.parse().unwrap()),
            })
            .collect();
        ReleasePlan::new(stages, Vec::new(), OnTrip::Kill, at(0))
    }

    #[test]
    fn spans_read_and_write_as_people_do() {
        for (text, ms) in [
            ("500ms", 500),
            ("30s", 30_000),
            ("10m", 600_000),
            ("24h", 86_400_000),
            ("7d", 604_800_000),
        ] {
            let span: Span = text.parse().unwrap();
            assert_eq!(span.ms, ms);
            assert_eq!(span.to_string(), text);
        }
        assert_eq!("90s".parse::<Span>().unwrap().to_string(), "90s");
        assert_eq!("120m".parse::<Span>().unwrap().to_string(), "2h");
        for bad in [
            "",
            "10",
            "m",
            "1.5h",
            "10w",
            "-1s",
            "400d",
            "99999999999999999999d",
        ] {
            assert!(bad.parse::<Span>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_stage_moves_on_only_when_its_hold_has_passed_and_every_guard_reads_ok() {
        let p = plan(&[(5, Some("1h")), (25, Some("1h")), (100, None)]);
        assert_eq!(p.next_step(at(3599), &[]), Step::Hold);
        assert_eq!(p.next_step(at(3600), &[]), Step::Advance { to: 1 });
        assert_eq!(
            p.next_step(at(3600), &[GuardStatus::Ok(0.1), GuardStatus::Unknown]),
            Step::Hold,
            "unknown never advances"
        );
        assert_eq!(
            p.next_step(at(10), &[GuardStatus::Unknown, GuardStatus::Tripped(0.2)]),
            Step::Trip {
                guard: 1,
                value: 0.2
            },
            "a trip does not wait for the hold"
        );
        let last = ReleasePlan {
            stage: 1,
            ..p.clone()
        };
        assert_eq!(last.next_step(at(3600), &[]), Step::Advance { to: 2 });
        let done = ReleasePlan {
            stage: 2,
            ..p.clone()
        };
        assert_eq!(done.next_step(at(0), &[]), Step::Complete);
        let paused = ReleasePlan {
            state: PlanState::Paused,
            ..p
        };
        assert_eq!(
            paused.next_step(at(99_999), &[GuardStatus::Tripped(1.0)]),
            Step::Hold
        );
    }

    #[test]
    fn advance_now_skips_the_hold_but_not_the_guards() {
        let mut p = plan(&[(5, Some("1d")), (100, None)]);
        p.guards.push(Guard::on_prometheus("5xx", "q", 0.05, None));
        assert_eq!(
            p.advance_now(&[GuardStatus::Ok(0.0)]),
            Ok(Step::Advance { to: 1 })
        );
        assert!(
            p.advance_now(&[GuardStatus::Unknown])
                .unwrap_err()
                .contains("no reading")
        );
        assert_eq!(
            p.advance_now(&[GuardStatus::Tripped(0.08)]).unwrap_err(),
            "guard 5xx reads 0.08 above 0.05"
        );
        assert_eq!(p.previous_percentage(), 0);
        p.stage = 1;
        assert_eq!(p.previous_percentage(), 5);
    }

    #[test]
    fn a_bad_plan_lists_every_problem() {
        let mut p = plan(&[(101, None)]);
        p.guards = vec![Guard::on_prometheus("a b", " ", f64::NAN, None); 2];
        let fields: Vec<String> = p.problems().into_iter().map(|p| p.field).collect();
        assert!(
            fields.contains(&"stages[0].rollout_percentage".to_owned()),
            "{fields:?}"
        );
        assert!(fields.contains(&"guards[0].name".to_owned()));
        assert!(
            fields.contains(&"guards[1].name".to_owned()),
            "duplicate name"
        );
        assert!(fields.contains(&"guards[0].prometheus.query".to_owned()));
        assert!(fields.contains(&"guards[0].prometheus.above".to_owned()));
        assert!(plan(&[]).problems().iter().any(|p| p.field == "stages"));
    }

    #[test]
    fn a_guard_trips_after_staying_above_for_its_for() {
        let guard = Guard::on_prometheus("5xx", "q", 0.05, Some("10s".parse().unwrap()));
        let read = |v: f64| Some((v, v > 0.05));
        let w = Watch::observe(None, &guard, read(0.01), at(0));
        assert_eq!(
            (w.status.clone(), w.above_since),
            (GuardStatus::Ok(0.01), None)
        );
        let w = Watch::observe(Some(&w), &guard, read(0.08), at(1));
        assert_eq!(w.status, GuardStatus::Ok(0.08), "above, not yet for 10 s");
        assert_eq!(w.since, at(0), "still ok since the first look");
        let w = Watch::observe(Some(&w), &guard, read(0.09), at(10));
        assert_eq!(w.status, GuardStatus::Ok(0.09));
        let tripped = Watch::observe(Some(&w), &guard, read(0.07), at(11));
        assert_eq!(tripped.status, GuardStatus::Tripped(0.07));
        assert_eq!(tripped.since, at(11));
        // A dip, or no reading, starts the streak again.
        let dip = Watch::observe(Some(&w), &guard, read(0.05), at(11));
        assert_eq!(dip.above_since, None);
        let blind = Watch::observe(Some(&w), &guard, None, at(11));
        assert_eq!(
            (blind.status, blind.above_since),
            (GuardStatus::Unknown, None)
        );
    }

    #[test]
    fn readings_print_short() {
        assert_eq!(Reading(0.0812).to_string(), "0.0812");
        assert_eq!(Reading(0.05).to_string(), "0.05");
        assert_eq!(Reading(1250.0).to_string(), "1250");
        assert_eq!(Reading(0.0).to_string(), "0");
    }
}
