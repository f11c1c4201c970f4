//! Keeps the served snapshot current: a refresh after every write this instance makes, and a
//! periodic reconcile that compares the store's revision with the served one (healing any
//! change made elsewhere and tracking the store's health).

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::state::{AppState, Published};
use crate::store::StoreError;

/// Loads flags and tokens from the store and publishes them if they are newer.
pub async fn refresh(state: &AppState) -> Result<(), StoreError> {
    let _serialised = state.refresh_lock.lock().await;
    let result = async {
        let loaded = state.store.load().await?;
        let tokens = state.store.tokens().await?;
        state.tokens.set_stored(&tokens);
        let published = tokio::task::spawn_blocking(move || Published::build(loaded))
            .await
            .map_err(|e| StoreError::Unavailable(format!("building the snapshot: {e}")))?;
        state.publish(published);
        Ok(())
    }
    .await;
    state.set_store_health(result.as_ref().err().map(ToString::to_string));
    result
}

/// One reconcile: refresh when the store's revision differs from the served one.
pub async fn reconcile(state: &AppState) -> Result<(), StoreError> {
    match state.store.revision().await {
        Ok(revision) if state.is_loaded() && revision == state.published().snapshot.version => {
            state.set_store_health(None);
            Ok(())
        }
        Ok(_) => refresh(state).await,
        Err(e) => {
            state.set_store_health(Some(e.to_string()));
            Err(e)
        }
    }
}

/// How often an instance that has no snapshot yet retries loading one.
const UNLOADED_RETRY: Duration = Duration::from_secs(1);

/// Keeps the snapshot current until the state is dropped (the server stopped): reconciles
/// whenever the store signals a change elsewhere, and every `interval` in any case (every
/// second until a first snapshot is loaded), so a missed message heals itself. Holds the
/// state weakly so a stopped server releases its store.
pub fn spawn_sync(state: &Arc<AppState>, interval: Duration) -> tokio::task::JoinHandle<()> {
    let mut changes = state.store.changes();
    let state: Weak<AppState> = Arc::downgrade(state);
    tokio::spawn(async move {
        loop {
            let wait = match state.upgrade() {
                Some(s) if s.is_loaded() => interval,
                Some(_) => UNLOADED_RETRY,
                None => return,
            };
            let signalled = async {
                match changes.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ok = signalled => if !ok { changes = None },
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
