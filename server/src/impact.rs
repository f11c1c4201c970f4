//! Impact reports from SDKs (docs/api.md#release-plans), summed: `POST /v1/impact` adds to an in-memory buffer
//! (the request never waits on the store), and a task adds the buffer to the store once a
//! second, each flag's sums to the stage its plan is in then (`ReleasePlan::stage_key`; `none`
//! without a plan). The store adds atomically, so every instance's reports meet in the same
//! sums. A batch the store refuses is dropped and counted: reports are statistics, never
//! queued without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_core::impact::ImpactSums;

use crate::store::{ImpactDelta, ImpactStore, StoreError};

/// How often the buffer goes to the store.
pub const FLUSH: Duration = Duration::from_secs(1);
/// The most flags the buffer holds between flushes; reports for more are dropped.
const MAX_FLAGS: usize = 100_000;

/// Reports received since the last flush, by flag, and the store's part they go to.
pub struct ImpactBuffer {
    sums: Mutex<HashMap<String, ImpactSums>>,
    store: Arc<dyn ImpactStore>,
}

impl ImpactBuffer {
    /// An empty buffer that flushes to `store`.
    pub fn new(store: Arc<dyn ImpactStore>) -> Self {
        ImpactBuffer {
            sums: Mutex::default(),
            store,
        }
    }

    /// Adds flushed reports to the store's sums (see `tasks::impact`).
    pub async fn add_to_store(&self, deltas: &[ImpactDelta]) -> Result<(), StoreError> {
        self.store.add_impact(deltas).await
    }

    /// A flag's sums in one stage, as the store holds them.
    pub async fn stored(&self, flag: &str, stage: &str) -> Result<ImpactSums, StoreError> {
        self.store.impact(flag, stage).await
    }

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

    /// Everything received since the last take.
    pub fn take(&self) -> HashMap<String, ImpactSums> {
        std::mem::take(&mut *self.sums.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
