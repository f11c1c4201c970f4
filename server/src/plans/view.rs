//! A plan as `GET /v1/flags/{key}/plan` and `GET /v1/plans` show it (docs/api.md#release-plans): the stored
//! plan, when its hold ends, and what each guard has read on this instance.

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_core::Flag;
use switchyard_core::plan::{OnTrip, PlanState, ReleasePlan, Span, Stage, Trip};

use super::guards::Guards;

/// One guard in a plan's view.
#[derive(Debug, Serialize)]
pub struct GuardView<'a> {
    /// Its name.
    pub name: &'a str,
    /// `ok`, `unknown` or `tripped`.
    pub status: &'static str,
    /// What it last read.
    pub value: Option<f64>,
    /// Since when it has had this status (`null`: not read in this stage yet).
    pub since: Option<DateTime<Utc>>,
    /// Since when its value has stayed above the threshold.
    pub above_since: Option<DateTime<Utc>>,
    /// Its threshold (an impact guard's `max_ratio`).
    pub above: f64,
    /// How long it must stay above to trip.
    #[serde(rename = "for")]
    pub for_: Option<Span>,
    /// Its query (Prometheus guards).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<&'a str>,
    /// Its test (impact guards): the event, and the last test's p-value and whether both
    /// cohorts have their minimum of exposures yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<ImpactView<'a>>,
}

/// An impact guard's test in a plan's view.
#[derive(Debug, Serialize)]
pub struct ImpactView<'a> {
    /// The tracked event.
    pub event: &'a str,
    /// The last test's always-valid p-value.
    pub p_value: Option<f64>,
    /// Whether both cohorts have `min_exposures`.
    pub enough: bool,
    /// The guard's settings.
    pub min_exposures: u64,
    /// Its confidence.
    pub confidence: f64,
}

/// A plan as the API shows it.
#[derive(Debug, Serialize)]
pub struct PlanView<'a> {
    /// The flag it drives.
    pub flag: &'a str,
    /// The flag's version.
    pub version: u64,
    /// The percentage the plan walks, now (the rule's when it walks one).
    pub rollout_percentage: u32,
    /// The rule whose percentage it walks; absent: the base rollout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'a str>,
    /// Where the plan is.
    pub state: PlanState,
    /// The current stage, 0 first.
    pub stage: usize,
    /// Every stage.
    pub stages: &'a [Stage],
    /// What a trip does.
    pub on_trip: OnTrip,
    /// When the current stage began.
    pub stage_started_at: DateTime<Utc>,
    /// When the current stage's hold ends (running plans only).
    pub next_at: Option<DateTime<Utc>>,
    /// Milliseconds of the hold left (paused: as it was when paused).
    pub hold_left_ms: Option<u64>,
    /// Each guard and what it reads.
    pub guards: Vec<GuardView<'a>>,
    /// The trip that stopped it.
    pub tripped_by: Option<&'a Trip>,
    /// Why it is paused or aborted.
    pub note: Option<&'a str>,
    /// Who started it.
    pub started_by: Option<&'a str>,
}

/// `flag`'s plan with its guards' readings, at `now`; `None` without a plan.
pub fn view<'a>(flag: &'a Flag, guards: &Guards, now: DateTime<Utc>) -> Option<PlanView<'a>> {
    let plan: &ReleasePlan = flag.plan.as_ref()?;
    let hold = u64::try_from(plan.hold().num_milliseconds()).unwrap_or(0);
    let hold_left_ms = match plan.state {
        PlanState::Running => {
            let passed = (now - plan.stage_started_at).num_milliseconds().max(0);
            Some(hold.saturating_sub(u64::try_from(passed).unwrap_or(0)))
        }
        PlanState::Paused => Some(hold.saturating_sub(plan.held_ms.unwrap_or(0))),
        _ => None,
    };
    let watches = guards.watches(&flag.key, plan);
    let tests = guards.assessments(&flag.key, plan);
    let guards = plan
        .guards
        .iter()
        .zip(watches)
        .zip(tests)
        .map(|((g, w), t)| GuardView {
            name: &g.name,
            status: w.as_ref().map_or("unknown", |w| w.status.as_str()),
            value: w.as_ref().and_then(|w| w.status.value()),
            since: w.as_ref().map(|w| w.since),
            above_since: w.as_ref().and_then(|w| w.above_since),
            above: g.threshold().0,
            for_: g.for_,
            query: g.prometheus.as_ref().map(|p| p.query.as_str()),
            impact: g.impact.as_ref().map(|i| ImpactView {
                event: &i.event,
                p_value: t.map(|t| t.p_value),
                enough: t.is_some_and(|t| t.enough),
                min_exposures: i.min_exposures,
                confidence: i.confidence.0,
            }),
        })
        .collect();
    Some(PlanView {
        flag: &flag.key,
        version: flag.version,
        rollout_percentage: flag
            .walked_percentage(plan.rule.as_deref())
            .unwrap_or(flag.rollout_percentage),
        rule: plan.rule.as_deref(),
        state: plan.state,
        stage: plan.stage,
        stages: &plan.stages,
        on_trip: plan.on_trip,
        stage_started_at: plan.stage_started_at,
        next_at: plan.next_at(),
        hold_left_ms,
        guards,
        tripped_by: plan.tripped_by.as_ref(),
        note: plan.note.as_deref(),
        started_by: plan.started_by.as_deref(),
    })
}
