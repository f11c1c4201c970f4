//! The impact flusher: adds the buffered SDK reports to the store's sums once a second, each
//! flag's to the stage its plan is in then.

use std::sync::{Arc, Weak};

use crate::impact::FLUSH;
use crate::state::AppState;
use crate::store::ImpactDelta;

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
    let taken = state.impact().take();
    if taken.is_empty() {
        return;
    }
    let mut deltas = Vec::with_capacity(taken.len());
    for (flag, sums) in taken {
        match stage_of(state, &flag) {
            Some(stage) => deltas.push(ImpactDelta { flag, stage, sums }),
            // Deleted meanwhile, or a flag this instance never had.
            None => state.metrics().impact_dropped.inc(),
        }
    }
    if let Err(e) = state.impact().add_to_store(&deltas).await {
        state
            .metrics()
            .impact_dropped
            .inc_by(u64::try_from(deltas.len()).unwrap_or(u64::MAX));
        tracing::warn!(error = %e, flags = deltas.len(), "impact reports dropped: the store failed");
    }
}

/// Flushes every [`FLUSH`] until the state is dropped; once more when the server stops.
pub fn spawn_flusher(state: &Arc<AppState>) -> tokio::task::JoinHandle<()> {
    let mut stopping = state.stopping().subscribe();
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
