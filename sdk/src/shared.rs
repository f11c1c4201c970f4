//! What a client and its background tasks share: the served snapshot, the status, the
//! settings the tasks read and the impact counts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use switchyard_core::Snapshot;
use tokio::sync::watch;

use crate::impact::Impact;
use crate::served::Served;
use crate::status::Status;

/// What the client and its background tasks share.
pub(crate) struct Shared {
    pub(crate) snapshot: ArcSwapOption<Served>,
    pub(crate) status: watch::Sender<Status>,
    pub(crate) config: Config,
    pub(crate) impact: Impact,
}

impl Shared {
    /// Serves `snapshot` from now on (the counts of the one it replaces are kept).
    pub(crate) fn install(&self, snapshot: Snapshot, status: Status) {
        let replaced = self.snapshot.swap(Some(Arc::new(Served::new(snapshot))));
        if let Some(old) = replaced {
            self.impact.retire(&old);
        }
        self.status.send_replace(status);
    }

    /// The served snapshot's version, if any.
    pub(crate) fn version(&self) -> Option<u64> {
        self.snapshot.load().as_ref().map(|s| s.snapshot.version)
    }

    /// The version of the server's data being served, if any (not bootstrap data).
    pub(crate) fn server_version(&self) -> Option<u64> {
        self.version().filter(|v| *v > 0)
    }

    /// Notes that the server could not be reached: `Ready` becomes `Stale`.
    /// The server refused the token: says so once (an ERROR log line), keeps the flags.
    pub(crate) fn mark_refused(&self, status: u16) {
        let changed = self.status.send_if_modified(|current| {
            let refused = Status::Unauthorized { status };
            if *current == refused {
                return false;
            }
            *current = refused;
            true
        });
        if changed {
            tracing::error!(
                status,
                "the switchyard server refused this client's token (401: unknown or revoked, \
                 403: not an sdk token); serving the flags it has until the token is fixed"
            );
        }
    }

    pub(crate) fn mark_unreachable(&self) {
        self.status.send_if_modified(|status| {
            if *status == Status::Ready {
                *status = Status::Stale {
                    since: SystemTime::now(),
                };
                true
            } else {
                false
            }
        });
    }
}

/// Settings the background task reads.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) base_url: String,
    pub(crate) token: String,
    pub(crate) request_timeout: Duration,
    pub(crate) refresh_interval: Duration,
    pub(crate) stream_idle_timeout: Duration,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) persist_path: Option<PathBuf>,
    /// This client's id in the server's fleet view.
    pub(crate) client_id: String,
    /// The application's name in the fleet view.
    pub(crate) app: String,
    /// Count exposures and tracked events and report them (docs/api.md#release-plans).
    pub(crate) report_impact: bool,
    /// How often they are reported.
    pub(crate) impact_interval: Duration,
}
