//! `Client`: evaluates flags locally, synchronously, from the last good snapshot; and its
//! builder. Cheap to clone (`Clone + Send + Sync`); the background task stops when the last
//! clone is dropped or `shutdown` is called.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use switchyard_core::client_id::fleet_id_from;
use switchyard_core::{Context, Decision, Export, Flag, Reason, Snapshot};
use tokio::sync::watch;

use crate::bootstrap;
use crate::error::SdkError;
use crate::impact::Impact;
use crate::served::Served;
use crate::shared::{Config, Shared};
use crate::{report, sync};

pub use crate::status::Status;

/// A random client id: 16 hex digits.
fn random_client_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64 ^ u64::from(std::process::id())).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The decision for the flag at `index` of `snapshot`, with the clock in the context only
/// when a date constraint of the snapshot may read it.
fn evaluate_at(snapshot: &Snapshot, index: Option<usize>, ctx: &Context<'_>) -> Decision {
    if snapshot.uses_clock() {
        let clocked = ctx.clone().at(SystemTime::now().into());
        switchyard_core::evaluate_at(snapshot, index, &clocked)
    } else {
        switchyard_core::evaluate_at(snapshot, index, ctx)
    }
}

/// The application's default name: the executable's.
fn default_app() -> String {
    let exe = std::env::current_exe().ok();
    let name = exe
        .as_deref()
        .and_then(Path::file_stem)
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    fleet_id_from(name, "app")
}

/// Stops the background task when the last `Client` clone goes.
struct Task {
    stop: watch::Sender<bool>,
    /// The sync task and, when impact is reported, the reporter (which sends once more as
    /// it stops).
    handles: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for Task {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Evaluates flags locally. Never blocks, never does I/O, never panics.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    task: Option<Arc<Task>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.shared.config.base_url)
            .field("status", &self.status())
            .field("version", &self.snapshot_version())
            .finish()
    }
}

impl Client {
    /// A builder for a client of the server at `base_url`, authenticating with an `sdk` token.
    pub fn builder(base_url: impl Into<String>, sdk_token: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            config: Config {
                base_url: base_url.into().trim_end_matches('/').to_owned(),
                token: sdk_token.into(),
                request_timeout: Duration::from_secs(5),
                refresh_interval: Duration::from_secs(30),
                stream_idle_timeout: Duration::from_secs(45),
                backoff_min: Duration::from_millis(100),
                backoff_max: Duration::from_secs(30),
                persist_path: None,
                client_id: random_client_id(),
                app: default_app(),
                report_impact: true,
                impact_interval: Duration::from_secs(5),
            },
            connect_timeout: Duration::from_secs(2),
            bootstrap: None,
            offline: false,
        }
    }

    /// Whether `flag` is on for `ctx`; `false` when the flag is unknown or no data is loaded.
    pub fn is_enabled(&self, flag: &str, ctx: &Context<'_>) -> bool {
        self.evaluate_or(flag, ctx, false).enabled
    }

    /// Whether `flag` is on for `ctx`; `default` when the flag is unknown or no data is loaded.
    pub fn is_enabled_or(&self, flag: &str, ctx: &Context<'_>, default: bool) -> bool {
        self.evaluate_or(flag, ctx, default).enabled
    }

    /// The full decision (reason, version); `false` when unknown or no data.
    pub fn evaluate(&self, flag: &str, ctx: &Context<'_>) -> Decision {
        self.evaluate_or(flag, ctx, false)
    }

    /// The full decision; an unknown flag gives `default` with reason `FLAG_NOT_FOUND`, no
    /// data yet gives `default` with reason `NO_DATA`. Kill switches always give off.
    pub fn evaluate_or(&self, flag: &str, ctx: &Context<'_>, default: bool) -> Decision {
        self.decide(flag, ctx, |_, decision| match decision.reason {
            Reason::FlagNotFound | Reason::NoData => Decision::new(default, decision.reason, None),
            _ => *decision,
        })
    }

    /// Evaluates `flag` for `ctx` (counting the exposure) and hands the flag evaluated
    /// (`None`: unknown, or no data yet, reason `NO_DATA`) and the decision to `read`: the
    /// one path every getter takes.
    pub(crate) fn decide<T>(
        &self,
        flag: &str,
        ctx: &Context<'_>,
        read: impl FnOnce(Option<&Flag>, &Decision) -> T,
    ) -> T {
        let guard = self.shared.snapshot.load();
        let Some(served) = guard.as_deref() else {
            return read(None, &Decision::new(false, Reason::NoData, None));
        };
        let snapshot = &served.snapshot;
        let index = snapshot.position(flag);
        let decision = evaluate_at(snapshot, index, ctx);
        if let Some(i) = index
            && self.shared.config.report_impact
        {
            served.expose(i, decision.variant);
        }
        read(index.and_then(|i| snapshot.flag_at(i)), &decision)
    }

    /// Counts `event` (e.g. `"error"`) for `flag`, attributed to the variant `ctx`'s user
    /// gets: what impact guards compare between the users who got the feature and those who
    /// did not (docs/api.md#release-plans). An unknown flag, or a name other than 1 to 64 of
    /// `[A-Za-z0-9._:-]`, counts nothing. Never blocks, never does I/O.
    pub fn track(&self, flag: &str, event: &str, ctx: &Context<'_>) {
        if !self.shared.config.report_impact {
            return;
        }
        let guard = self.shared.snapshot.load();
        let Some(served) = guard.as_deref() else {
            return;
        };
        let Some(index) = served.snapshot.position(flag) else {
            return;
        };
        let decision = evaluate_at(&served.snapshot, Some(index), ctx);
        self.shared.impact.track(flag, decision.variant, event);
    }

    /// Counts `event` for every flag whose release plan is running or paused, each with the
    /// variant `ctx`'s user gets: for callers that do not say which flag an event is about
    /// (OpenFeature's `track`).
    pub fn track_all(&self, event: &str, ctx: &Context<'_>) {
        if !self.shared.config.report_impact {
            return;
        }
        let guard = self.shared.snapshot.load();
        let Some(served) = guard.as_deref() else {
            return;
        };
        let planned = served
            .snapshot
            .flags()
            .enumerate()
            .filter(|(_, f)| f.plan.as_ref().is_some_and(|p| p.state.is_open()));
        for (index, flag) in planned {
            let decision = evaluate_at(&served.snapshot, Some(index), ctx);
            self.shared.impact.track(&flag.key, decision.variant, event);
        }
    }

    /// Runs `read` on the snapshot being served (a lock-free load).
    pub fn with_snapshot<T>(&self, read: impl FnOnce(Option<&Snapshot>) -> T) -> T {
        let guard = self.shared.snapshot.load();
        read(guard.as_deref().map(|s| &s.snapshot))
    }

    /// Where the flags come from right now.
    pub fn status(&self) -> Status {
        self.shared.status.borrow().clone()
    }

    /// The version of the snapshot being served (0 for bootstrap data).
    pub fn snapshot_version(&self) -> Option<u64> {
        self.shared.version()
    }

    /// Waits until the client is in step with the server, at most `timeout`. The client
    /// serves (bootstrap data, or defaults) whether or not this succeeds.
    pub async fn wait_until_ready(&self, timeout: Duration) -> Result<(), SdkError> {
        let mut status = self.shared.status.subscribe();
        let settled = status.wait_for(|s| matches!(s, Status::Ready | Status::Unauthorized { .. }));
        match tokio::time::timeout(timeout, settled).await {
            Ok(Ok(s)) if *s == Status::Ready => Ok(()),
            Ok(Ok(s)) => match *s {
                Status::Unauthorized { status } => Err(SdkError::Unauthorized { status }),
                _ => Err(SdkError::Timeout {
                    waited: timeout,
                    status: self.status(),
                }),
            },
            _ => Err(SdkError::Timeout {
                waited: timeout,
                status: self.status(),
            }),
        }
    }

    /// Stops the background updates (sending the last impact counts) and waits for them to
    /// end. Evaluations keep serving the last flags.
    pub async fn shutdown(&self) {
        let Some(task) = &self.task else { return };
        task.stop.send_replace(true);
        let handles = std::mem::take(&mut *task.handles.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in handles {
            let _ = handle.await;
        }
    }
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    config: Config,
    connect_timeout: Duration,
    bootstrap: Option<Export>,
    offline: bool,
}

impl ClientBuilder {
    /// How long one snapshot request may take (default 5 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// How long connecting may take (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How often to poll the snapshot while the event stream is down (default 30 s).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.config.refresh_interval = interval;
        self
    }

    /// How long the stream may stay silent (heartbeats included) before it counts as dead
    /// (default 45 s: three of the server's 15 s heartbeats).
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.stream_idle_timeout = timeout;
        self
    }

    /// The shortest and longest waits between stream reconnections (default 100 ms, 30 s);
    /// each wait doubles, with jitter.
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.config.backoff_min = min;
        self.config.backoff_max = max.max(min);
        self
    }

    /// Flags to serve until the server answers (the export format).
    pub fn bootstrap(mut self, export: Export) -> Self {
        self.bootstrap = Some(export);
        self
    }

    /// Bootstrap flags from a JSON string in the export format.
    pub fn bootstrap_json(self, json: &str) -> Result<Self, SdkError> {
        Ok(self.bootstrap(bootstrap::parse_export(json)?))
    }

    /// Bootstrap flags from a file in the export format (e.g. `switchyard export`).
    pub fn bootstrap_file(self, path: impl AsRef<Path>) -> Result<Self, SdkError> {
        Ok(self.bootstrap(bootstrap::read_export(path.as_ref())?))
    }

    /// Keeps the last snapshot from the server in `path`, and starts from it (before any
    /// bootstrap data), so a restart during an outage still has the server's flags.
    pub fn persist_to(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.persist_path = Some(path.into());
        self
    }

    /// The application's name in the server's fleet view (`switchyard fleet`), e.g.
    /// `checkout`; default: the executable's name. Characters other than letters, digits,
    /// `.`, `_`, `-` and `:` become `-`.
    pub fn app(mut self, name: &str) -> Self {
        self.config.app = fleet_id_from(name, "app");
        self
    }

    /// This client's id in the fleet view; default: random, one per client. Cleaned like
    /// [`ClientBuilder::app`].
    pub fn client_id(mut self, id: &str) -> Self {
        self.config.client_id = fleet_id_from(id, &random_client_id());
        self
    }

    /// Whether to count exposures and tracked events and report them to the server every
    /// [`ClientBuilder::impact_interval`] (default: on; docs/api.md#release-plans). Off, `track` does nothing.
    pub fn report_impact(mut self, on: bool) -> Self {
        self.config.report_impact = on;
        self
    }

    /// How often impact counts are reported (default 5 s, at least 100 ms).
    pub fn impact_interval(mut self, every: Duration) -> Self {
        self.config.impact_interval = every.max(Duration::from_millis(100));
        self
    }

    /// Never contact the server: serve bootstrap (or persisted) data only.
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Builds the client and, unless offline, starts its background task (inside the
    /// current tokio runtime).
    pub fn build(self) -> Result<Client, SdkError> {
        let ClientBuilder {
            mut config,
            connect_timeout,
            bootstrap,
            offline,
        } = self;
        // Offline, nothing would ever be reported: do not count.
        config.report_impact &= !offline;
        let initial = config
            .persist_path
            .as_deref()
            .and_then(bootstrap::read_persisted)
            .or_else(|| bootstrap.map(|export| Snapshot::from_export(0, export)));
        let status = if initial.is_some() {
            Status::Bootstrap
        } else {
            Status::Starting
        };
        let shared = Arc::new(Shared {
            snapshot: ArcSwapOption::new(initial.map(|s| Arc::new(Served::new(s)))),
            status: watch::channel(status).0,
            config,
            impact: Impact::default(),
        });
        if offline {
            return Ok(Client { shared, task: None });
        }
        reqwest::Url::parse(&shared.config.base_url).map_err(|e| SdkError::InvalidUrl {
            url: shared.config.base_url.clone(),
            reason: e.to_string(),
        })?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SdkError::NoRuntime)?;
        // No overall timeout on the client: it would cut the event stream. Snapshot requests
        // set their own.
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .build()
            .map_err(|e| SdkError::Http(e.to_string()))?;
        let (stop, stopped) = watch::channel(false);
        let mut handles = Vec::new();
        if shared.config.report_impact {
            let every = shared.config.impact_interval;
            let reporter = report::report(shared.clone(), http.clone(), every, stopped.clone());
            handles.push(runtime.spawn(reporter));
        }
        handles.push(runtime.spawn(sync::run(shared.clone(), http, stopped)));
        let task = Task {
            stop,
            handles: Mutex::new(handles),
        };
        Ok(Client {
            shared,
            task: Some(Arc::new(task)),
        })
    }
}
