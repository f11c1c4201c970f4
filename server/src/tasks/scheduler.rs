//! The scheduler every instance runs: each tick (`SWITCHYARD_PLANS__TICK_MS`) it reads the
//! guards of every running plan in the served snapshot and takes the step the plan says
//! (`ReleasePlan::next_step`) as a flag write at the version it decided on. With several
//! instances they all decide alike; the store takes the first write and refuses the others
//! (409), so each transition happens once. The plan lives in the flag, so a restart of every
//! instance resumes where the store says, with the hold that remains.

use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::Utc;
use switchyard_core::plan::{PlanState, Step};

use crate::changes::ChangeError;
use crate::state::AppState;

/// Runs until the state is dropped or the server stops.
pub fn spawn_scheduler(state: &Arc<AppState>) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_millis(state.settings().plans.tick_ms);
    let mut stopping = state.stopping().subscribe();
    let weak: Weak<AppState> = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
            let Some(state) = weak.upgrade() else { return };
            if state.is_loaded() {
                tick(&state).await;
            }
        }
    })
}

/// One look at every plan: metrics for all, a step for each running one.
pub async fn tick(state: &AppState) {
    // An Arc of its own, not a guard: the steps below await.
    let published = arc_swap::Guard::into_inner(state.published());
    let snapshot = &published.snapshot;
    let mut by_state = [0i64; 5];
    state.metrics().plan_stage.reset();
    for flag in snapshot.flags() {
        let Some(plan) = &flag.plan else { continue };
        by_state[PlanState::ALL
            .iter()
            .position(|s| *s == plan.state)
            .unwrap_or(0)] += 1;
        state
            .metrics()
            .plan_stage
            .with_label_values(&[flag.key.as_str()])
            .set(i64::try_from(plan.stage).unwrap_or(0));
    }
    for (s, n) in PlanState::ALL.iter().zip(by_state) {
        state
            .metrics()
            .plan_state
            .with_label_values(&[s.as_str()])
            .set(n);
    }
    state.guards().retain(
        snapshot
            .flags()
            .filter_map(|f| f.plan.as_deref().map(|p| (f.key.as_str(), p))),
    );
    let running = snapshot.flags().filter(|f| {
        f.plan
            .as_ref()
            .is_some_and(|p| p.state == PlanState::Running)
    });
    for flag in running {
        let Some(plan) = &flag.plan else { continue };
        let now = Utc::now();
        let sums = if plan.guards.iter().any(|g| g.impact.is_some()) {
            match state.impact().stored(&flag.key, &plan.stage_key()).await {
                Ok(sums) => Some(sums),
                Err(e) => {
                    tracing::warn!(flag = %flag.key, error = %e, "impact sums unavailable");
                    None
                }
            }
        } else {
            None
        };
        let statuses = state
            .guards()
            .read(&flag.key, plan, now, sums.as_ref())
            .await;
        for (guard, status) in plan.guards.iter().zip(&statuses) {
            let gauge = state
                .metrics()
                .guard_value
                .with_label_values(&[flag.key.as_str(), guard.name.as_str()]);
            gauge.set(status.value().unwrap_or(f64::NAN));
        }
        let step = plan.next_step(now, &statuses);
        let actor = match &step {
            Step::Hold => continue,
            Step::Trip { guard, .. } => format!("guard:{}", plan.guards[*guard].name),
            _ => "plan".to_owned(),
        };
        let writer = state.changes().automatic_writer(&actor, state);
        match writer.step(flag, step.clone(), None).await {
            Ok(written) => {
                if matches!(step, Step::Trip { .. }) {
                    state.metrics().guard_trips.inc();
                }
                tracing::info!(flag = %flag.key, version = written.version, ?step, "release plan step");
            }
            // Another instance made this step first (or a person changed the flag).
            Err(ChangeError::Conflict { .. }) => {}
            Err(e) => tracing::warn!(flag = %flag.key, error = %e, "release plan step failed"),
        }
    }
}
