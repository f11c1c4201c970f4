//! `AppState`: what every request and background task shares, behind one `Arc` — the store
//! handle, the published snapshot (swapped atomically, read without a lock), tokens, metrics
//! and the write limiter, and each subsystem's own state.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Guard};
use switchyard_core::{Flag, Snapshot};

use crate::changes::{Changes, WriteLimit, Writer};
use crate::config::Settings;
use crate::error::ApiError;
use crate::fleet::FleetState;
use crate::impact::ImpactBuffer;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::plans::guards::Guards;
use crate::published::Published;
use crate::store::{
    AuditEntry, AuditQuery, Loaded, Partial, Store, StoreError, Stores, TokenRecord, Told,
};
use crate::streams::StreamSlots;
use crate::tokens::{Caller, Tokens};

/// The store, read-only: what handlers and the sync loop may do with it.
#[derive(Clone, Copy)]
pub struct Reads<'a>(&'a dyn Store);

impl Reads<'_> {
    /// Every flag and the kill switch, at one revision.
    pub async fn load(&self) -> Result<Loaded, StoreError> {
        self.0.load().await
    }
    /// The current revision.
    pub async fn revision(&self) -> Result<u64, StoreError> {
        self.0.revision().await
    }
    /// Every stored version of a flag, oldest first.
    pub async fn history(&self, key: &str) -> Result<Vec<Flag>, StoreError> {
        self.0.history(key).await
    }
    /// Audit entries, newest first, filtered and paged.
    pub async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.0.audit(query).await
    }
    /// Every token record.
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.0.tokens().await
    }
    /// The store's signal that data may have changed elsewhere.
    pub fn signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.0.signal()
    }
    /// What the commit that made `revision` changed, if the store told.
    pub fn told(&self, revision: u64) -> Option<Told> {
        self.0.told(revision)
    }
    /// Some flags and the kill switch, at one revision.
    pub async fn load_some(&self, keys: &[String]) -> Result<Partial, StoreError> {
        self.0.load_some(keys).await
    }
}

/// Shared by every request.
pub struct AppState {
    /// Where flags live: read through [`AppState::store`], written only through
    /// [`AppState::changes`].
    store: Arc<dyn Store>,
    /// The one path that writes to the store: versioned, validated, audited.
    changes: Changes,
    /// The snapshot being served.
    published: ArcSwap<Published>,
    /// True once a snapshot has been loaded from the store.
    loaded: AtomicBool,
    /// The highest flag version this instance has served, deleted flags included: a store
    /// that comes back older is moved past it (`sync::refresh`).
    served_flag_version: AtomicU64,
    /// `None` while the store answers; the last error while it does not.
    /// A std Mutex: it is never held across an await.
    store_error: Mutex<Option<String>>,
    /// Accepted tokens.
    tokens: Tokens,
    /// Prometheus metrics.
    metrics: Metrics,
    /// The settings the server started with.
    settings: Settings,
    /// Serialises snapshot refreshes so an older load never replaces a newer one.
    refresh_lock: tokio::sync::Mutex<()>,
    /// The version of each snapshot published, for streams that follow changes.
    versions: tokio::sync::watch::Sender<u64>,
    /// True once the server is stopping: open streams end at once (docs/flags.md#limits-and-safety-rules), so SDKs
    /// reconnect elsewhere and the process exits without waiting on them.
    stopping: tokio::sync::watch::Sender<bool>,
    /// Audit queries run one at a time per instance, off the workers: a caller looping on
    /// `/v1/audit` waits its turn instead of taking the cores evaluations need.
    audit_queries: tokio::sync::Semaphore,
    /// This instance in the fleet: its id, its SDKs, whether it follows the store.
    fleet: FleetState,
    /// Webhooks for plan transitions and kill switch changes.
    notifier: Notifier,
    /// What the release plans' guards read.
    guards: Guards,
    /// SDK impact reports waiting for the next flush to the store.
    impact: ImpactBuffer,
    /// Open streams per token, each capped at `limits.streams_per_token`.
    streams: StreamSlots,
}

impl AppState {
    /// The one path that writes to the store: versioned, validated, audited.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// The accepted tokens.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The Prometheus metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The settings the server started with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The version of each snapshot published, for streams that follow changes.
    pub fn versions(&self) -> &tokio::sync::watch::Sender<u64> {
        &self.versions
    }

    /// True once the server is stopping: open streams end at once.
    pub fn stopping(&self) -> &tokio::sync::watch::Sender<bool> {
        &self.stopping
    }

    /// Audit queries run one at a time per instance, off the workers.
    pub fn audit_queries(&self) -> &tokio::sync::Semaphore {
        &self.audit_queries
    }

    /// The open streams per token, and their cap.
    pub fn streams(&self) -> &StreamSlots {
        &self.streams
    }

    /// This instance in the fleet: its id, its SDKs, whether it follows the store.
    pub fn fleet(&self) -> &FleetState {
        &self.fleet
    }

    /// Webhooks for plan transitions and kill switch changes.
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// What the release plans' guards read.
    pub fn guards(&self) -> &Guards {
        &self.guards
    }

    /// SDK impact reports waiting for the next flush to the store.
    pub fn impact(&self) -> &ImpactBuffer {
        &self.impact
    }

    /// State with an empty, not-yet-loaded snapshot.
    pub fn new(settings: Settings, store: Arc<dyn Stores>) -> Self {
        let instance = settings.server.instance_id.clone().unwrap_or_default();
        let metrics = Metrics::new();
        let notifier = Notifier::start(
            settings.notify.webhooks.clone(),
            metrics.webhook_failures.clone(),
        );
        let guards = Guards::new(&settings.guards);
        let tokens = Tokens::new(
            settings.admin_token.as_deref(),
            settings.sdk_token.as_deref(),
        );
        let fleet = FleetState::new(instance, store.clone());
        let streams = StreamSlots::new(
            settings.limits.streams_per_token,
            metrics.stream_clients.clone(),
            metrics.stream_rejections.clone(),
        );
        let impact = ImpactBuffer::new(store.clone());
        let store: Arc<dyn Store> = store;
        AppState {
            changes: Changes::new(
                store.clone(),
                settings.limits(),
                WriteLimit::new(
                    settings.server.writes_per_minute,
                    metrics.rate_limited.clone(),
                ),
            ),
            store,
            published: ArcSwap::from_pointee(Published::new(Snapshot::default())),
            loaded: AtomicBool::new(false),
            served_flag_version: AtomicU64::new(0),
            store_error: Mutex::new(None),
            tokens,
            metrics,
            settings,
            refresh_lock: tokio::sync::Mutex::new(()),
            versions: tokio::sync::watch::channel(0).0,
            stopping: tokio::sync::watch::channel(false).0,
            streams,
            fleet,
            notifier,
            guards,
            impact,
            audit_queries: tokio::sync::Semaphore::new(1),
        }
    }

    /// The store, to read. Writes go through [`AppState::writer`].
    pub fn store(&self) -> Reads<'_> {
        Reads(self.store.as_ref())
    }

    /// A writer for `caller`, or 429 when the caller is over its write rate.
    pub fn writer<'a>(&'a self, caller: &'a Caller) -> Result<Writer<'a>, ApiError> {
        Ok(self.changes.admitted_writer(&caller.name, self)?)
    }

    /// Held while the snapshot is refreshed, so an older load never replaces a newer one.
    pub(crate) fn refresh_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.refresh_lock
    }

    /// The snapshot being served (a lock-free load).
    pub fn published(&self) -> Guard<Arc<Published>> {
        self.published.load()
    }

    /// Serves `published` from now on, unless a newer snapshot is already served. Cheap: the
    /// snapshot was built beforehand (see [`Published::build`]), and the one it replaces is
    /// freed on the blocking pool, not on a thread that answers requests.
    pub fn publish(&self, published: Published) {
        let current = self.published.load().snapshot.version;
        let snapshot = &published.snapshot;
        if self.loaded.load(Ordering::Acquire) && snapshot.version <= current {
            return;
        }
        let m = &self.metrics;
        m.snapshot_version.set(snapshot.version as i64);
        m.snapshot_flags.set(snapshot.len() as i64);
        m.global_kill_switch
            .set(i64::from(snapshot.global_kill_switch.active));
        m.flags_killed.set(published.killed as i64);
        let version = snapshot.version;
        self.served_flag_version
            .fetch_max(published.max_flag_version, Ordering::AcqRel);
        let published = Arc::new(published);
        let replaced = self.published.swap(Arc::clone(&published));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            // SDKs streaming will fetch a snapshot loaded whole (their event names only its
            // version): serialised here, off the workers. One made in place reaches them in
            // the event itself, and its body waits until someone asks.
            let prebuild = published.change.is_none() && self.metrics.stream_clients.get() > 0;
            runtime.spawn_blocking(move || {
                drop(replaced);
                if prebuild {
                    published.body();
                }
            });
        }
        self.loaded.store(true, Ordering::Release);
        self.versions.send_replace(version);
    }

    /// The highest flag version this instance has ever served.
    pub fn served_flag_version(&self) -> u64 {
        self.served_flag_version.load(Ordering::Acquire)
    }

    /// True once a snapshot has been loaded.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// The snapshot, or 503 while none has been loaded (an instance that started while its
    /// store was down): answering from an empty snapshot would call every flag unknown.
    pub fn loaded_snapshot(&self) -> Result<Guard<Arc<Published>>, ApiError> {
        if self.is_loaded() {
            Ok(self.published())
        } else {
            Err(ApiError::Unavailable(
                "no snapshot loaded yet: the store has not answered since this instance started"
                    .into(),
            ))
        }
    }

    /// Records whether the store answered.
    pub fn set_store_health(&self, error: Option<String>) {
        self.metrics.store_up.set(i64::from(error.is_none()));
        if error.is_some() {
            self.metrics.store_errors.inc();
        }
        *self.store_error.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }

    /// The store's last error, if it is failing.
    pub fn store_error(&self) -> Option<String> {
        self.store_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
