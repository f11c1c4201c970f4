//! Keeps the served snapshot current: a refresh after every write this instance makes, and a
//! periodic reconcile that compares the store's revision with the served one (healing any
//! change made elsewhere and tracking the store's health).

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use switchyard_core::{Delta, Snapshot};

use crate::changes::Follow;
use crate::published::Published;
use crate::state::AppState;
use crate::store::{StoreError, Told};

/// Loads flags and tokens from the store and publishes them if they are newer. A store that
/// comes back older than what this instance served (docs/flags.md#limits-and-safety-rules) is first moved past it, so its
/// data is served under a newer version: readers never see a version go backwards, and a
/// write acknowledged now is served at once.
pub async fn refresh(state: &AppState) -> Result<(), StoreError> {
    let _serialised = state.refresh_lock().lock().await;
    refresh_locked(state).await
}

/// Serves a commit this instance made: `delta` applied to the served snapshot when that is
/// the store's previous revision (no other commit came between), which costs what the
/// commit changed; a full [`refresh`] otherwise.
pub async fn apply(state: &AppState, revision: u64, delta: Delta) -> Result<(), StoreError> {
    let _serialised = state.refresh_lock().lock().await;
    let published = state.published();
    if state.is_loaded() && published.snapshot.version == revision {
        // A reconcile got here first and loaded it.
        return Ok(());
    }
    if state.is_loaded() && published.snapshot.version.checked_add(1) == Some(revision) {
        let next = published.apply(revision, delta);
        state.publish(next);
        state.metrics().snapshots_in_place.inc();
        state.set_store_health(None);
        return Ok(());
    }
    drop(published);
    refresh_locked(state).await
}

async fn refresh_locked(state: &AppState) -> Result<(), StoreError> {
    let result = async {
        let mut loaded = state.store().load().await?;
        let served = state.published().snapshot.version;
        if state.is_loaded() && loaded.revision < served {
            tracing::warn!(
                store_revision = loaded.revision,
                served,
                "the store is older than what this instance served (restarted empty, restored \
                 from a backup, or failed over to a lagging replica): moving its revision past \
                 it and serving the store's data"
            );
            state.metrics().store_rewinds.inc();
            let flag_version = state.served_flag_version();
            state.changes().raise(served + 1, flag_version).await?;
            loaded = state.store().load().await?;
        }
        let tokens = state.store().tokens().await?;
        state.tokens().set_stored(&tokens);
        let published = tokio::task::spawn_blocking(move || Published::build(loaded))
            .await
            .map_err(|e| StoreError::Unavailable(format!("building the snapshot: {e}")))?;
        state.publish(published);
        state.metrics().snapshots_full.inc();
        Ok(())
    }
    .await;
    state.set_store_health(result.as_ref().err().map(ToString::to_string));
    result
}

/// One reconcile: refresh when the store's revision differs from the served one. When it is
/// the next revision and the store told what that commit changed (another instance's
/// write, on Redis), only those flags are read and applied in place.
pub async fn reconcile(state: &AppState) -> Result<(), StoreError> {
    let differs = match state.store().revision().await {
        Ok(revision) => !state.is_loaded() || revision != state.published().snapshot.version,
        Err(e) => {
            state.set_store_health(Some(e.to_string()));
            return Err(e);
        }
    };
    if !differs {
        state.set_store_health(None);
        return Ok(());
    }
    // A commit of this instance may be between the store and the snapshot: its writer serves
    // it in place, so wait for it and look again.
    let _settled = state.changes().settled().await;
    match state.store().revision().await {
        Ok(revision) if state.is_loaded() && revision == state.published().snapshot.version => {
            state.set_store_health(None);
            Ok(())
        }
        Ok(revision)
            if state.is_loaded()
                && state.published().snapshot.version.checked_add(1) == Some(revision) =>
        {
            match state.store().told(revision) {
                Some(told) => follow_told(state, revision, told).await,
                None => refresh(state).await,
            }
        }
        Ok(_) => refresh(state).await,
        Err(e) => {
            state.set_store_health(Some(e.to_string()));
            Err(e)
        }
    }
}

/// Serves revision `revision` of another instance's commit, reading just the flags `told`
/// names (a full refresh if the store moved on meanwhile).
async fn follow_told(state: &AppState, revision: u64, told: Told) -> Result<(), StoreError> {
    let partial = match state.store().load_some(&told.keys).await {
        Ok(partial) => partial,
        Err(e) => {
            state.set_store_health(Some(e.to_string()));
            return Err(e);
        }
    };
    if partial.revision != revision {
        return refresh(state).await;
    }
    let mut delta = Delta::default();
    for (key, flag) in partial.flags {
        match flag {
            Some(flag) => delta.put(flag),
            None => delta.delete(&key),
        }
    }
    if told.kill_switch {
        delta.set_global_kill_switch(partial.global_kill_switch);
    }
    apply(state, revision, delta).await
}

/// How often an instance retries while it has no snapshot yet or its store is failing: a
/// store that returns is followed within about this long, whatever the reconcile interval.
const RETRY: Duration = Duration::from_millis(200);

/// Keeps the snapshot current until the state is dropped (the server stopped): reconciles
/// whenever the store signals a change elsewhere, and every `interval` in any case (every
/// [`RETRY`] while no snapshot is loaded or the store fails), so a missed message heals
/// itself. Holds the state weakly so a stopped server releases its store.
pub fn spawn_sync(state: &Arc<AppState>, interval: Duration) -> tokio::task::JoinHandle<()> {
    let mut signal = state.store().signal();
    let state: Weak<AppState> = Arc::downgrade(state);
    tokio::spawn(async move {
        loop {
            let wait = match state.upgrade() {
                Some(s) if s.is_loaded() && s.store_error().is_none() => interval,
                Some(_) => RETRY,
                None => return,
            };
            let signalled = async {
                match signal.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ok = signalled => if !ok { signal = None },
                () = tokio::time::sleep(wait) => {}
            }
            let Some(state) = state.upgrade() else {
                return;
            };
            if let Err(e) = reconcile(&state).await {
                tracing::warn!(error = %e, "reconcile failed; serving the last good snapshot");
            }
        }
    })
}

/// Prunes audit entries older than the retention (`SWITCHYARD_RETENTION__AUDIT_DAYS`) now and
/// every `every`, until the state is dropped. Harmless on several instances at once: each
/// prunes what is still there. (History is bounded as it is written: see
/// `Store::commit`.)
pub fn spawn_retention(state: &Arc<AppState>, every: Duration) -> tokio::task::JoinHandle<()> {
    let state: Weak<AppState> = Arc::downgrade(state);
    tokio::spawn(async move {
        loop {
            let Some(state) = state.upgrade() else {
                return;
            };
            let days = i64::from(state.settings().retention.audit_days);
            let cutoff = chrono::Utc::now() - chrono::Duration::days(days);
            match state.changes().prune_audit(cutoff).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, days, "pruned old audit entries"),
                Err(e) => tracing::warn!(error = %e, "pruning the audit trail failed"),
            }
            drop(state);
            tokio::time::sleep(every).await;
        }
    })
}

/// What follows a commit made through `AppState::writer`: the change is served before the
/// reply, and a store that failed the write shows in readiness.
#[async_trait]
impl Follow for AppState {
    async fn committed(&self, applied: Option<(u64, Delta)>) {
        let served = match applied {
            Some((revision, delta)) => apply(self, revision, delta).await,
            None => refresh(self).await,
        };
        if let Err(e) = served {
            // Committed all the same: the reconciler serves it once the store answers.
            tracing::warn!(error = %e, "change committed but the snapshot refresh failed");
        }
    }

    fn store_failed(&self, error: String) {
        self.set_store_health(Some(error));
    }

    fn served(&self) -> Snapshot {
        self.published().snapshot.clone()
    }

    fn notify(&self, event: crate::changes::Event) {
        self.notifier().send(event);
    }
}
