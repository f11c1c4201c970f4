//! The heartbeat task: writes this instance's heartbeat every [`HEARTBEAT`], and at once
//! (batched over a few milliseconds) when the version it serves or its SDKs' versions
//! change, so a wait for a new version is answered within milliseconds of it being served.
//! Each reply carries the store's revision: an instance that has fallen behind the store
//! reconciles, and says degraded in readiness if that does not heal it (see
//! [`crate::fleet::FleetState::lag_problem`]). Once a second it reads the whole fleet for the
//! metrics. A clean stop removes the heartbeat, so the instance is not reported `gone`.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::fleet::{HEARTBEAT, verdict};
use crate::metrics::sdk_lag;
use crate::state::AppState;

/// How long a burst of changes is gathered into one heartbeat.
const BATCH: Duration = Duration::from_millis(5);

/// Runs until the state is dropped or the server stops.
pub fn spawn_heartbeat(state: &Arc<AppState>) -> tokio::task::JoinHandle<()> {
    let mut versions = state.versions().subscribe();
    let mut stopping = state.stopping().subscribe();
    let changed = state.fleet().clients.changed.clone();
    let weak: Weak<AppState> = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut last_read = Instant::now() - HEARTBEAT;
        let mut was_behind = false;
        loop {
            let Some(state) = weak.upgrade() else { return };
            if *stopping.borrow_and_update() {
                if let Err(e) = state.fleet().leave().await {
                    tracing::debug!(error = %e, "could not remove this instance's heartbeat");
                }
                return;
            }
            was_behind = beat(&state, was_behind).await;
            if last_read.elapsed() >= HEARTBEAT {
                last_read = Instant::now();
                read_metrics(&state).await;
            }
            drop(state);
            tokio::select! {
                () = tokio::time::sleep(HEARTBEAT) => {}
                changed = versions.changed() => if changed.is_err() { return },
                () = changed.notified() => {}
                _ = stopping.changed() => {}
            }
            tokio::time::sleep(BATCH).await;
        }
    })
}

/// Writes one heartbeat; returns whether this instance is behind the store. Behind at two
/// heartbeats in a row (not merely a change in flight), it reconciles.
async fn beat(state: &AppState, was_behind: bool) -> bool {
    let served = state.published().snapshot.version;
    let streams = u64::try_from(state.metrics().stream_clients.get()).unwrap_or(0);
    let heartbeat = state.fleet().heartbeat(served, streams);
    let forward = state.fleet().clients.take_outbox();
    match state.fleet().beat(&heartbeat, &forward).await {
        Ok(reply) => {
            state.fleet().clients.acked(reply.acks);
            let behind = state.fleet().observe(reply.revision, served).is_some();
            if behind && was_behind {
                tracing::warn!(
                    served,
                    store = reply.revision,
                    "serving an older version than the store's: reconciling"
                );
                if let Err(e) = crate::tasks::sync::reconcile(state).await {
                    tracing::warn!(error = %e, "reconcile after falling behind failed");
                }
            }
            behind
        }
        Err(e) => {
            state.metrics().heartbeat_failures.inc();
            tracing::debug!(error = %e, "heartbeat not written");
            false
        }
    }
}

/// Sets the fleet metrics from one read of every heartbeat.
async fn read_metrics(state: &AppState) {
    let Ok(fleet) = state.fleet().read().await else {
        return;
    };
    // Indexes into FLEET_STATES: live, lagging, gone.
    let mut counts = [0i64; 3];
    for seen in &fleet.instances {
        let at = match verdict::state(seen) {
            "gone" => 2,
            _ if seen.beat.version < fleet.revision => 1,
            _ => 0,
        };
        counts[at] += 1;
    }
    let served = state.published().snapshot.version;
    let (sdks, _) = state.fleet().clients.summary(served);
    let mut lags = [0i64; 4];
    for (version, n) in sdks {
        lags[sdk_lag(fleet.revision.saturating_sub(version))] +=
            i64::try_from(n).unwrap_or(i64::MAX);
    }
    state.metrics().set_fleet(counts, lags);
}
