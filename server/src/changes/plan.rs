//! Release plans as flag writes (docs/api.md#release-plans): starting one, a person's pause, resume, advance
//! and abort, and the scheduler's steps (stage, complete, trip). Each is an ordinary update
//! of the flag — versioned, validated, audited — so with many instances the expected
//! version decides who makes a transition and the others do nothing. A person's change to a
//! running plan's percentage or kill switch pauses the plan, and the audit says so.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use switchyard_core::Flag;
use switchyard_core::plan::{GuardStatus, OnTrip, PlanState, ReleasePlan, Step, Trip};

use super::{ChangeError, Event, Precondition, Writer, reason};
use crate::store::AuditEntry;

fn no_plan(key: &str) -> ChangeError {
    ChangeError::NotFound(format!("flag {key:?} has no release plan"))
}

fn refused(flag: &Flag, why: String) -> ChangeError {
    ChangeError::Conflict {
        message: why,
        current_version: Some(flag.version),
    }
}

/// The plan of `flag`, or 404.
fn plan_of(flag: &Flag) -> Result<&ReleasePlan, ChangeError> {
    flag.plan.as_deref().ok_or_else(|| no_plan(&flag.key))
}

/// `stage 2 of 4 (25 %)`.
fn stage_words(plan: &ReleasePlan) -> String {
    format!(
        "stage {} of {} ({} %)",
        plan.stage + 1,
        plan.stages.len(),
        plan.stages
            .get(plan.stage)
            .map_or(0, |s| s.rollout_percentage)
    )
}

fn plan_detail(plan: &ReleasePlan) -> Map<String, Value> {
    let mut detail = Map::new();
    detail.insert("state".into(), json!(plan.state.as_str()));
    detail.insert("stage".into(), json!(plan.stage));
    detail.insert(
        "rollout_percentage".into(),
        json!(plan.stages.get(plan.stage).map(|s| s.rollout_percentage)),
    );
    if let Some(trip) = &plan.tripped_by {
        detail.insert("tripped_by".into(), json!(trip));
    }
    detail
}

/// Pauses `next`'s running plan when a person changed the percentage or kill switch the plan
/// steers (and not the plan itself): returns the audit line that says so.
pub(super) fn pause_if_steered(
    actor: &str,
    automatic: bool,
    before: &Flag,
    next: &mut Flag,
    now: DateTime<Utc>,
) -> Option<String> {
    let plan = next.plan.as_deref()?;
    let untouched = before.plan.as_deref() == Some(plan);
    let rule = plan.rule.as_deref();
    let steered = next.walked_percentage(rule) != before.walked_percentage(rule)
        || next.kill_switch != before.kill_switch;
    if automatic || !untouched || !steered || plan.state != PlanState::Running {
        return None;
    }
    let field = match (next.kill_switch != before.kill_switch, rule) {
        (true, _) => "kill switch".to_owned(),
        (false, None) => "rollout percentage".to_owned(),
        (false, Some(rule)) => format!("rollout percentage of rule {rule:?}"),
    };
    let plan = next.plan.as_mut()?;
    let note = format!("paused: {actor} changed the {field} by hand");
    pause(plan, now, note.clone());
    Some(note)
}

fn pause(plan: &mut ReleasePlan, now: DateTime<Utc>, note: String) {
    let held = (now - plan.stage_started_at).num_milliseconds().max(0);
    plan.state = PlanState::Paused;
    plan.held_ms = Some(u64::try_from(held).unwrap_or(0));
    plan.note = Some(note);
}

/// Applies a scheduler or `advance` step to `flag` at `now`.
fn apply_step(mut flag: Flag, step: &Step, now: DateTime<Utc>) -> Flag {
    let Some(plan) = flag.plan.as_mut() else {
        return flag;
    };
    match step {
        Step::Hold => {}
        Step::Advance { to } => {
            plan.stage = *to;
            plan.state = PlanState::Running;
            plan.stage_started_at = now;
            plan.held_ms = None;
            plan.note = None;
            let p = plan.stages[*to].rollout_percentage;
            let rule = plan.rule.clone();
            flag.set_walked_percentage(rule.as_deref(), p);
            let Some(plan) = flag.plan.as_mut() else {
                return flag;
            };
            // Reaching a last stage without a hold completes the plan in the same write.
            if *to + 1 == plan.stages.len() && plan.stages[*to].hold.is_none() {
                plan.state = PlanState::Completed;
            }
        }
        Step::Complete => {
            plan.state = PlanState::Completed;
            plan.held_ms = None;
            if let Some(last) = plan.stages.get(plan.stage) {
                let (p, rule) = (last.rollout_percentage, plan.rule.clone());
                flag.set_walked_percentage(rule.as_deref(), p);
            }
        }
        Step::Trip { guard, value } => {
            let Some(g) = plan.guards.get(*guard) else {
                return flag;
            };
            plan.tripped_by = Some(Trip {
                guard: g.name.clone(),
                value: switchyard_core::plan::Reading(*value),
                threshold: g.threshold(),
                at: now,
            });
            plan.state = PlanState::Tripped;
            match plan.on_trip {
                OnTrip::Pause => {}
                OnTrip::Rollback => {
                    let (p, rule) = (plan.previous_percentage(), plan.rule.clone());
                    flag.set_walked_percentage(rule.as_deref(), p);
                }
                OnTrip::Kill => flag.kill_switch = true,
            }
        }
    }
    flag
}

impl Writer<'_> {
    /// Writes `edit` of `flag` (at `flag.version`) as `action`, then tells the watchers
    /// `event` with the sentence `text` made from the result.
    async fn plan_write(
        &self,
        flag: &Flag,
        action: &str,
        why: Option<String>,
        event: &'static str,
        text: impl Fn(&Flag) -> String,
        edit: impl Fn(Flag) -> Flag,
    ) -> Result<Flag, ChangeError> {
        let written = self
            .update(
                &flag.key,
                Precondition::if_match(Some(flag.version)),
                action,
                why,
                edit,
            )
            .await?;
        if let Some(plan) = &written.plan {
            self.tell(event, &written, text(&written), plan_detail(plan));
        }
        Ok(written)
    }

    /// Tells the watchers `event` about `flag`.
    pub(super) fn tell(
        &self,
        event: &'static str,
        flag: &Flag,
        text: String,
        detail: Map<String, Value>,
    ) {
        self.follow.notify(Event {
            event,
            flag: Some(flag.key.clone()),
            text,
            at: Utc::now(),
            actor: self.actor.to_owned(),
            version: Some(flag.version),
            detail,
        });
    }

    /// Starts `plan` on `key`: the flag moves to the first stage's percentage now. A plan
    /// running or paused already is a 409.
    pub async fn start_plan(
        &self,
        key: &str,
        mut plan: ReleasePlan,
        why: Option<String>,
    ) -> Result<Flag, ChangeError> {
        let why = reason(why)?;
        let current = self.current(key).await?;
        if let Some(open) = current.plan.as_ref().filter(|p| p.state.is_open()) {
            return Err(refused(
                &current,
                format!(
                    "flag {key:?} has a {} release plan; abort it first",
                    open.state.as_str()
                ),
            ));
        }
        let rule = plan.rule.clone();
        let Some(started_from) = current.walked_percentage(rule.as_deref()) else {
            return Err(ChangeError::Invalid(switchyard_core::ValidationError {
                problems: vec![switchyard_core::Problem::new(
                    "rule",
                    format!(
                        "flag {key:?} has no rule named {:?}: name one of its rules, or none \
                         to walk the base rollout",
                        rule.unwrap_or_default()
                    ),
                )],
            }));
        };
        plan.started_from = started_from;
        plan.started_by = Some(self.actor.to_owned());
        plan.started_at = Some(Utc::now());
        let first = plan.stages.first().map_or(0, |s| s.rollout_percentage);
        let stages = plan.stages.len();
        self.plan_write(
            &current,
            "plan.start",
            why,
            "plan.started",
            |f| {
                format!(
                    "{} started a release plan on {}{} ({stages} stages): now at {first} %",
                    self.actor,
                    f.key,
                    rule.as_deref()
                        .map_or(String::new(), |r| format!(" (rule {r:?})"))
                )
            },
            |mut f| {
                f.set_walked_percentage(rule.as_deref(), first);
                f.plan = Some(Box::new(plan.clone()));
                f
            },
        )
        .await
    }

    /// A person pauses `key`'s running plan; the hold left is kept for `resume`.
    pub async fn pause_plan(&self, key: &str, why: Option<String>) -> Result<Flag, ChangeError> {
        let why = reason(why)?;
        let current = self.current(key).await?;
        let plan = plan_of(&current)?;
        if plan.state != PlanState::Running {
            return Err(refused(
                &current,
                format!("the plan is {}, not running", plan.state.as_str()),
            ));
        }
        let now = Utc::now();
        let note = format!("paused by {}", self.actor);
        self.plan_write(
            &current,
            "plan.pause",
            why,
            "plan.paused",
            |f| format!("{} paused the release plan of {}", self.actor, f.key),
            |mut f| {
                if let Some(p) = f.plan.as_mut() {
                    pause(p, now, note.clone());
                }
                f
            },
        )
        .await
    }

    /// A person resumes `key`'s paused (or tripped) plan, with the hold that was left.
    pub async fn resume_plan(&self, key: &str, why: Option<String>) -> Result<Flag, ChangeError> {
        let why = reason(why)?;
        let current = self.current(key).await?;
        let plan = plan_of(&current)?;
        if !matches!(plan.state, PlanState::Paused | PlanState::Tripped) {
            return Err(refused(
                &current,
                format!(
                    "the plan is {}: only a paused or tripped plan resumes",
                    plan.state.as_str()
                ),
            ));
        }
        let now = Utc::now();
        self.plan_write(
            &current,
            "plan.resume",
            why,
            "plan.resumed",
            |f| {
                let at = f.plan.as_deref().map(stage_words).unwrap_or_default();
                format!(
                    "{} resumed the release plan of {} at {at}",
                    self.actor, f.key
                )
            },
            |mut f| {
                if let Some(p) = f.plan.as_mut() {
                    let held = p.held_ms.take().unwrap_or(0);
                    p.stage_started_at =
                        now - chrono::Duration::milliseconds(i64::try_from(held).unwrap_or(0));
                    p.state = PlanState::Running;
                    p.tripped_by = None;
                    p.note = None;
                }
                f
            },
        )
        .await
    }

    /// A person moves `key`'s plan on now, whatever the hold, if every guard reads ok
    /// (`guards`: their statuses now).
    pub async fn advance_plan(
        &self,
        key: &str,
        guards: &[GuardStatus],
        why: Option<String>,
    ) -> Result<Flag, ChangeError> {
        let why = reason(why)?;
        let current = self.current(key).await?;
        let plan = plan_of(&current)?;
        let step = plan
            .advance_now(guards)
            .map_err(|e| refused(&current, format!("cannot advance: {e}")))?;
        self.step(&current, step, why).await
    }

    /// A person aborts `key`'s plan for good; the percentage stays where it is.
    pub async fn abort_plan(&self, key: &str, why: Option<String>) -> Result<Flag, ChangeError> {
        let why = reason(why)?;
        let current = self.current(key).await?;
        let plan = plan_of(&current)?;
        if !plan.state.is_open() && plan.state != PlanState::Tripped {
            return Err(refused(
                &current,
                format!("the plan is {} already", plan.state.as_str()),
            ));
        }
        let note = format!("aborted by {}", self.actor);
        self.plan_write(
            &current,
            "plan.abort",
            why,
            "plan.aborted",
            |f| {
                format!(
                    "{} aborted the release plan of {}; it stays at {} %",
                    self.actor, f.key, f.rollout_percentage
                )
            },
            |mut f| {
                if let Some(p) = f.plan.as_mut() {
                    p.state = PlanState::Aborted;
                    p.held_ms = None;
                    p.note = Some(note.clone());
                }
                f
            },
        )
        .await
    }

    /// The scheduler's (or `advance`'s) `step` on `flag`, at the version it was decided on:
    /// when another instance made it first, this is a 409 and nothing happens.
    pub async fn step(
        &self,
        flag: &Flag,
        step: Step,
        why: Option<String>,
    ) -> Result<Flag, ChangeError> {
        let now = Utc::now();
        if step == Step::Hold {
            return Ok(flag.clone());
        }
        let after = apply_step(flag.clone(), &step, now);
        // Named by what the write does: an advance to a last stage without a hold completes.
        let (action, event) = match after.plan.as_ref().map(|p| p.state) {
            Some(PlanState::Completed) => ("plan.complete", "plan.completed"),
            Some(PlanState::Tripped) => ("plan.trip", "plan.tripped"),
            _ => ("plan.stage", "plan.stage"),
        };
        let trip = after.plan.as_ref().and_then(|p| p.tripped_by.clone());
        let why = why
            .or_else(|| trip.as_ref().map(Trip::reason))
            .or_else(|| Some(step_text(&after, &step)));
        let written = self
            .plan_write(
                flag,
                action,
                why,
                event,
                |f| step_text(f, &step),
                |f| apply_step(f, &step, now),
            )
            .await?;
        if written.kill_switch && !flag.kill_switch {
            let reason = trip.as_ref().map(Trip::reason);
            self.tell_kill(Some(&written), true, reason.as_deref());
        }
        Ok(written)
    }

    /// A pause made by `pause_if_steered`: its audit line, beside the change's own.
    pub(super) fn steered_pause(&self, key: &str, note: &str) -> AuditEntry {
        self.audit("plan.pause", Some(key), None, None, Some(note.to_owned()))
    }
}

fn step_text(flag: &Flag, step: &Step) -> String {
    let Some(plan) = &flag.plan else {
        return String::new();
    };
    match (step, plan.state) {
        (_, PlanState::Completed) => format!(
            "The release plan of {} is complete: {} % of users have it",
            flag.key, flag.rollout_percentage
        ),
        (Step::Trip { .. }, _) => {
            let what = match plan.on_trip {
                OnTrip::Pause => "paused the plan".to_owned(),
                OnTrip::Rollback => format!("rolled it back to {} %", flag.rollout_percentage),
                OnTrip::Kill => "killed the flag".to_owned(),
            };
            let why = plan
                .tripped_by
                .as_ref()
                .map(Trip::reason)
                .unwrap_or_default();
            format!(
                "The release plan of {} tripped ({why}) and {what}",
                flag.key
            )
        }
        _ => format!(
            "The release plan of {} moved to {}",
            flag.key,
            stage_words(plan)
        ),
    }
}

#[cfg(test)]
mod tests {
    use switchyard_core::plan::{Guard, Stage};

    use super::*;

    fn flag(on_trip: OnTrip, stage: usize) -> Flag {
        let stages = [10, 30, 100]
            .map(|p| Stage {
                rollout_percentage: p,
                hold: Some("1h".parse().unwrap()),
            })
            .to_vec();
        let mut f = Flag::new("f");
        f.rollout_percentage = stages[stage].rollout_percentage;
        let guards = vec![Guard::on_prometheus("5xx", "q", 0.05, None)];
        let mut plan = ReleasePlan::new(stages, guards, on_trip, Utc::now());
        plan.stage = stage;
        plan.started_from = 2;
        f.plan = Some(Box::new(plan));
        f
    }

    #[test]
    fn a_trip_pauses_rolls_back_or_kills() {
        let trip = Step::Trip {
            guard: 0,
            value: 0.08,
        };
        let now = Utc::now();
        let paused = apply_step(flag(OnTrip::Pause, 1), &trip, now);
        assert_eq!((paused.rollout_percentage, paused.kill_switch), (30, false));
        let plan = paused.plan.unwrap();
        assert_eq!(plan.state, PlanState::Tripped);
        assert_eq!(
            plan.tripped_by.unwrap().reason(),
            "guard 5xx: 0.08 above 0.05"
        );
        let rolled = apply_step(flag(OnTrip::Rollback, 1), &trip, now);
        assert_eq!(rolled.rollout_percentage, 10, "the previous stage's");
        let first = apply_step(flag(OnTrip::Rollback, 0), &trip, now);
        assert_eq!(first.rollout_percentage, 2, "what it had before the plan");
        let killed = apply_step(flag(OnTrip::Kill, 1), &trip, now);
        assert_eq!((killed.rollout_percentage, killed.kill_switch), (30, true));
    }

    #[test]
    fn a_persons_change_pauses_only_what_the_plan_steers() {
        let now = Utc::now();
        let before = flag(OnTrip::Kill, 0);
        let mut described = before.clone();
        described.description = "new".into();
        assert_eq!(
            pause_if_steered("ann", false, &before, &mut described, now),
            None
        );
        let mut raised = before.clone();
        raised.rollout_percentage = 50;
        assert_eq!(
            pause_if_steered("plan", true, &before, &mut raised.clone(), now),
            None,
            "the plan's own steps do not pause it"
        );
        let note = pause_if_steered("ann", false, &before, &mut raised, now);
        assert_eq!(
            note.as_deref(),
            Some("paused: ann changed the rollout percentage by hand")
        );
        assert_eq!(raised.plan.unwrap().state, PlanState::Paused);
    }
}
