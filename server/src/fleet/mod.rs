//! The fleet (docs/api.md#fleet-proof-that-a-change-took): proof that a change took. Every instance writes a heartbeat to the
//! store about every second — the version it serves, its streams, and the version each SDK
//! streaming from it has loaded — and reads everyone's back to answer `GET /v1/fleet` and
//! `GET /v1/fleet/wait`.
//!
//! # Layout
//! - [`clients`]: the SDKs streaming from this instance and the versions they loaded.
//! - [`beat`]: the heartbeat task, the lag check behind readiness, the fleet metrics.
//! - [`verdict`]: whether the fleet serves a version yet, and who is behind.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::store::{Ack, BeatReply, Fleet, FleetStore, Heartbeat, StoreError};

pub mod clients;
pub mod verdict;

pub use clients::Clients;

/// How often an instance writes its heartbeat when nothing changes (it also writes at once
/// when its version or its SDKs' versions change).
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A heartbeat older than this is `gone` (docs/api.md#fleet-proof-that-a-change-took).
pub const GONE_AFTER: Duration = Duration::from_secs(3);
/// A `gone` instance is forgotten this long after its last heartbeat.
pub const FORGET_AFTER: Duration = Duration::from_secs(60);
/// Serving a version older than the store's for longer than this makes readiness degraded.
pub const LAG_DEGRADES_AFTER: Duration = Duration::from_secs(3);

/// Fleet waits one instance runs at once; more get 429.
pub const MAX_WAITS: usize = 64;

/// This instance's part in the fleet.
pub struct FleetState {
    /// The instance's id.
    pub id: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// The SDKs streaming from it.
    pub clients: Clients,
    /// Waits running at once (`GET /v1/fleet/wait`): each polls the store, so they are few.
    pub waits: tokio::sync::Semaphore,
    /// Since when the store has been ahead of what this instance serves, and at which revision.
    behind: Mutex<Option<(Instant, u64)>>,
    /// The store's heartbeat part.
    store: Arc<dyn FleetStore>,
}

impl FleetState {
    /// The fleet state of instance `id`, starting now, keeping its heartbeats in `store`.
    pub fn new(id: String, store: Arc<dyn FleetStore>) -> Self {
        FleetState {
            id,
            started_at: Utc::now(),
            clients: Clients::default(),
            waits: tokio::sync::Semaphore::new(MAX_WAITS),
            behind: Mutex::new(None),
            store,
        }
    }

    /// Writes this instance's heartbeat, handing `forward` over (see `tasks::heartbeat`).
    pub async fn beat(&self, beat: &Heartbeat, forward: &[Ack]) -> Result<BeatReply, StoreError> {
        self.store.beat(beat, forward, FORGET_AFTER).await
    }

    /// Every instance's heartbeat, aged by the store's clock.
    pub async fn read(&self) -> Result<Fleet, StoreError> {
        self.store.fleet(FORGET_AFTER).await
    }

    /// Removes this instance's heartbeat (a clean stop).
    pub async fn leave(&self) -> Result<(), StoreError> {
        self.store.leave(&self.id).await
    }

    /// This instance's heartbeat while it serves `version` with `streams` open streams.
    pub fn heartbeat(&self, version: u64, streams: u64) -> Heartbeat {
        let (sdks, lagging) = self.clients.summary(version);
        Heartbeat {
            id: self.id.clone(),
            version,
            started_at: self.started_at,
            streams,
            sdks,
            lagging,
        }
    }

    /// Records the store's revision against the version served; returns how long this
    /// instance has been behind the store (`None`: it is not).
    pub fn observe(&self, revision: u64, served: u64) -> Option<Duration> {
        let mut behind = self.behind.lock().unwrap_or_else(|p| p.into_inner());
        if revision <= served {
            *behind = None;
            return None;
        }
        let (since, _) = *behind.get_or_insert((Instant::now(), revision));
        *behind = Some((since, revision));
        Some(since.elapsed())
    }

    /// Why readiness is degraded, when this instance has served an older version than the
    /// store's for longer than [`LAG_DEGRADES_AFTER`] (it stopped following the store).
    pub fn lag_problem(&self, served: u64) -> Option<String> {
        let behind = self.behind.lock().unwrap_or_else(|p| p.into_inner());
        let (since, revision) = (*behind)?;
        let lagging = since.elapsed();
        (revision > served && lagging > LAG_DEGRADES_AFTER).then(|| {
            format!(
                "serving version {served} while the store has been at {revision} or later for \
                 {:.1} s: this instance is not following the store",
                lagging.as_secs_f64()
            )
        })
    }
}

/// The default instance id: the host name and the port, e.g. `web-1:8080`.
pub fn default_id(port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let host = switchyard_core::client_id::fleet_id_from(host.trim(), "localhost");
    let mut id = format!("{host}:{port}");
    id.truncate(switchyard_core::client_id::MAX_FLEET_ID);
    id
}
