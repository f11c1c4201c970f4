//! Impact reports from SDKs (SPEC §8), summed: `POST /v1/impact` adds to an in-memory buffer
//! (the request never waits on the store), and a task adds the buffer to the store once a
//! second, each flag's sums to the stage its plan is in then (`ReleasePlan::stage_key`; `none`
//! without a plan). The store adds atomically, so every instance's reports meet in the same
//! sums. A batch the store refuses is dropped and counted: reports are statistics, never
//! queued without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use switchyard_core::impact::ImpactSums;

use crate::state::AppState;
use crate::store::ImpactDelta;

/// How often the buffer goes to the store.
pub const FLUSH: Duration = Duration::from_secs(1);
/// The most flags the buffer holds between flushes; reports for more are dropped.
const MAX_FLAGS: usize = 100_000;

/// Reports received since the last flush, by flag.
#[derive(Default)]
pub struct ImpactBuffer {
    sums: Mutex<HashMap<String, ImpactSums>>,
}

impl ImpactBuffer {
    /// Adds one report's sums for `flag`: `None` when the buffer is full (nothing added),
    /// else how many event names were left out (past
    /// [`switchyard_core::impact::MAX_EVENTS`] for the flag).
    pub fn add(
        &self,
        flag: &str,
        on: bool,
        cohort: &switchyard_core::impact::Cohort,
    ) -> Option<usize> {
        let mut sums = self.sums.lock().unwrap_or_else(|p| p.into_inner());
        if !sums.contains_key(flag) && sums.len() >= MAX_FLAGS {
            return None;
        }
        let entry = sums.entry(flag.to_owned()).or_default();
        let target = if on { &mut entry.on } else { &mut entry.off };
        Some(target.add(cohort))
    }

    fn take(&self) -> HashMap<String, ImpactSums> {
        std::mem::take(&mut *self.sums.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The stage `flag`'s reports count in now: its plan's stage, or `none`.
pub fn stage_of(state: &AppState, flag: &str) -> Option<String> {
    let published = state.published();
    let flag = published.snapshot.get(flag)?;
    Some(
        flag.plan
            .as_ref()
            .map_or_else(|| "none".to_owned(), |p| p.stage_key()),
    )
}

/// Adds the buffer to the store once now.
pub async fn flush(state: &AppState) {
    let taken = state.impact.take();
    if taken.is_empty() {
        return;
    }
    let mut deltas = Vec::with_capacity(taken.len());
    for (flag, sums) in taken {
        match stage_of(state, &flag) {
            Some(stage) => deltas.push(ImpactDelta { flag, stage, sums }),
            // Deleted meanwhile, or a flag this instance never had.
            None => state.metrics.impact_dropped.inc(),
        }
    }
    if let Err(e) = state.add_impact(&deltas).await {
        state
            .metrics
            .impact_dropped
            .inc_by(u64::try_from(deltas.len()).unwrap_or(u64::MAX));
        tracing::warn!(error = %e, flags = deltas.len(), "impact reports dropped: the store failed");
    }
}

/// Flushes every [`FLUSH`] until the state is dropped; once more when the server stops.
pub fn spawn_flusher(state: &Arc<AppState>) -> tokio::task::JoinHandle<()> {
    let mut stopping = state.stopping.subscribe();
    let weak: Weak<AppState> = Arc::downgrade(state);
    tokio::spawn(async move {
        loop {
            let stop = tokio::select! {
                () = tokio::time::sleep(FLUSH) => false,
                _ = stopping.wait_for(|s| *s) => true,
            };
            let Some(state) = weak.upgrade() else { return };
            flush(&state).await;
            if stop {
                return;
            }
        }
    })
}
