//! The background task that keeps a client's flags current. It follows `/v1/stream` (an event
//! per new snapshot version, then a `/v1/snapshot` fetch with the ETag); while the stream is
//! down it polls the snapshot every refresh interval and retries the stream with exponential
//! backoff and jitter. Every failure keeps the last good flags and is logged, never raised.
//!
//! Every request names the client (`X-Switchyard-Client`, docs/api.md#fleet-proof-that-a-change-took), and the stream says
//! which version the client has (`Last-Event-ID`), so the server's fleet view can prove
//! that this app serves a change. A fetch behind a load balancer may land on an instance
//! that lags the one that announced the version: it is retried until the announced version
//! (or a later one) is loaded.
//!
//! An event may carry the change itself (`base` and `changes`): a client holding version
//! `base` applies it at once, then fetches conditionally on the new version as usual (a 304:
//! no snapshot is sent, and the server's fleet view learns what the client serves).

use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ETAG, IF_NONE_MATCH};
use switchyard_core::Snapshot;
use switchyard_core::client_id::{CLIENT_HEADER, ClientHeader};
use tokio::sync::watch;

use crate::bootstrap;
use crate::shared::Shared;
use crate::status::Status;

/// Why one sync step failed (logged, then retried).
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("server answered {0}")]
    Status(StatusCode),
    #[error("malformed snapshot: {0}")]
    Malformed(String),
    #[error("the stream was silent for {0:?}")]
    Idle(Duration),
    #[error("the stream ended")]
    Ended,
}

/// Exponential backoff with jitter: each delay doubles up to `max`, and is drawn uniformly
/// from its upper half, so clients that failed together do not retry together.
struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    fn reset(&mut self) {
        self.next = self.min;
    }

    fn delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        let mut bytes = [0u8; 8];
        let unit = match getrandom::fill(&mut bytes) {
            Ok(()) => u64::from_le_bytes(bytes) as f64 / u64::MAX as f64,
            Err(_) => 0.5,
        };
        base.mul_f64(0.5 + unit / 2.0)
    }
}

/// Runs until `stop` turns true (or the client is gone).
pub(crate) async fn run(
    shared: Arc<Shared>,
    http: reqwest::Client,
    mut stop: watch::Receiver<bool>,
) {
    let config = &shared.config;
    let mut etag: Option<String> = None;
    let mut backoff = Backoff::new(config.backoff_min, config.backoff_max);
    loop {
        let streamed = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            result = follow_stream(&shared, &http, &mut etag) => result,
        };
        match streamed {
            // The stream worked for a while: start over from the shortest wait.
            Err(StreamFailure {
                connected: true,
                error,
            }) => {
                backoff.reset();
                tracing::warn!(error = %error, "switchyard stream lost; reconnecting");
            }
            Err(StreamFailure { error, .. }) => {
                tracing::warn!(error = %error, "switchyard stream unavailable; polling meanwhile");
            }
            Ok(()) => {}
        }
        // Poll until it is time to try the stream again.
        let retry_at = tokio::time::Instant::now() + backoff.delay();
        loop {
            if let Err(e) = fetch(&shared, &http, &mut etag, None).await {
                if !matches!(e, SyncError::Status(s) if s.is_client_error()) {
                    shared.mark_unreachable();
                }
                tracing::debug!(error = %e, "switchyard snapshot poll failed");
            }
            let next_poll = tokio::time::Instant::now() + config.refresh_interval;
            let wake = next_poll.min(retry_at);
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep_until(wake) => {}
            }
            if wake == retry_at {
                break;
            }
        }
    }
}

struct StreamFailure {
    connected: bool,
    error: SyncError,
}

/// Follows `/v1/stream` until it fails, fetching the snapshot whenever a newer version is
/// announced. Returns why it stopped, and whether it had connected.
async fn follow_stream(
    shared: &Shared,
    http: &reqwest::Client,
    etag: &mut Option<String>,
) -> Result<(), StreamFailure> {
    let config = &shared.config;
    let failed = |connected, error| StreamFailure { connected, error };
    let mut request = http
        .get(format!("{}/v1/stream", config.base_url))
        .bearer_auth(&config.token)
        .header(ACCEPT, "text/event-stream")
        .header(CLIENT_HEADER, client_header(shared, None));
    if let Some(version) = shared.server_version() {
        request = request.header("last-event-id", version.to_string());
    }
    let response = request.send().await.map_err(|e| failed(false, e.into()))?;
    if !response.status().is_success() {
        refused(shared, response.status());
        return Err(failed(false, SyncError::Status(response.status())));
    }
    // The instance this stream is on: fetches that land elsewhere name it.
    let instance = response
        .headers()
        .get("x-switchyard-instance")
        .and_then(|v| v.to_str().ok())
        .filter(|v| switchyard_core::client_id::is_fleet_id(v))
        .map(str::to_owned);
    let mut events = response.bytes_stream().eventsource();
    loop {
        let next = tokio::time::timeout(config.stream_idle_timeout, events.next()).await;
        let event = match next {
            Err(_) => return Err(failed(true, SyncError::Idle(config.stream_idle_timeout))),
            Ok(None) => return Err(failed(true, SyncError::Ended)),
            Ok(Some(Err(e))) => return Err(failed(true, SyncError::Malformed(e.to_string()))),
            Ok(Some(Ok(event))) => event,
        };
        if event.event != "snapshot" {
            continue;
        }
        let announcement = serde_json::from_str::<Announcement>(&event.data).ok();
        let announced = announcement.as_ref().and_then(|a| a.version);
        let applied = announcement.is_some_and(|a| apply(shared, etag, a));
        let behind = match (announced, shared.version()) {
            (Some(new), Some(have)) => new > have || *shared.status.borrow() != Status::Ready,
            _ => true,
        };
        // After a change applied here, the fetch is the acknowledgement (a 304 unless the
        // server has moved on).
        if behind || applied {
            catch_up(shared, http, etag, instance.as_deref(), announced).await;
        }
    }
}

/// A stream event's data: the new version, and the change from `base` when it carries one.
#[derive(serde::Deserialize)]
struct Announcement {
    version: Option<u64>,
    base: Option<u64>,
    changes: Option<switchyard_core::Delta>,
}

/// Applies the change `announcement` carries when this client serves the server's version it
/// was made from; true if it did.
fn apply(shared: &Shared, etag: &mut Option<String>, announcement: Announcement) -> bool {
    let (Some(version), Some(base), Some(changes)) = (
        announcement.version,
        announcement.base,
        announcement.changes,
    ) else {
        return false;
    };
    let Some(served) = shared.snapshot.load_full() else {
        return false;
    };
    let current = &served.snapshot;
    if current.version != base || base == 0 || *shared.status.borrow() != Status::Ready {
        return false;
    }
    let next = current.with_changes(version, changes);
    // The server's ETag for that version, so the fetch that follows is conditional on it.
    *etag = Some(format!("\"v{version}\""));
    if let Some(path) = shared.config.persist_path.clone() {
        match serde_json::to_vec(&next) {
            Ok(body) => {
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = bootstrap::persist(&path, &body) {
                        tracing::warn!(error = %e, "could not persist the snapshot");
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "could not serialise the snapshot to persist"),
        }
    }
    shared.install(next, Status::Ready);
    true
}

/// How many times a fetch that returned an older version than the one announced is retried,
/// the first after [`CATCH_UP_FIRST`], each wait doubling.
const CATCH_UP_TRIES: u32 = 6;
const CATCH_UP_FIRST: Duration = Duration::from_millis(25);

/// Fetches until version `announced` (or a later one) is loaded: behind a load balancer the
/// fetch may reach an instance that has not served it yet. Gives up after a few tries; the
/// next announcement or poll catches up.
async fn catch_up(
    shared: &Shared,
    http: &reqwest::Client,
    etag: &mut Option<String>,
    instance: Option<&str>,
    announced: Option<u64>,
) {
    let mut pause = CATCH_UP_FIRST;
    for _ in 0..CATCH_UP_TRIES {
        if let Err(e) = fetch(shared, http, etag, instance).await {
            shared.mark_unreachable();
            tracing::warn!(error = %e, "switchyard snapshot fetch failed; keeping the last good flags");
            return;
        }
        let caught_up = match (announced, shared.server_version()) {
            (Some(want), Some(have)) => have >= want,
            _ => true,
        };
        if caught_up {
            return;
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}

/// This client's `X-Switchyard-Client` header; `stream` names the instance its stream is
/// on, for a fetch that may land on another.
fn client_header(shared: &Shared, stream: Option<&str>) -> String {
    ClientHeader {
        client: shared.config.client_id.clone(),
        app: shared.config.app.clone(),
        stream: stream.map(str::to_owned),
    }
    .to_string()
}

/// Says so when `status` is the server refusing the token (401, 403): a state of its own, not
/// a server that is down.
fn refused(shared: &Shared, status: StatusCode) {
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        shared.mark_refused(status.as_u16());
    }
}

/// Fetches `/v1/snapshot` (conditional on the last ETag) and serves it when it is new;
/// `stream` is the instance the client's stream is on, if it is up.
async fn fetch(
    shared: &Shared,
    http: &reqwest::Client,
    etag: &mut Option<String>,
    stream: Option<&str>,
) -> Result<(), SyncError> {
    let config = &shared.config;
    let mut request = http
        .get(format!("{}/v1/snapshot", config.base_url))
        .bearer_auth(&config.token)
        .header(CLIENT_HEADER, client_header(shared, stream))
        .timeout(config.request_timeout);
    if let Some(tag) = etag.as_deref()
        && shared.version().is_some()
    {
        request = request.header(IF_NONE_MATCH, tag);
    }
    let response = request.send().await?;
    match response.status() {
        StatusCode::NOT_MODIFIED => {
            shared.status.send_replace(Status::Ready);
            return Ok(());
        }
        status if !status.is_success() => {
            refused(shared, status);
            return Err(SyncError::Status(status));
        }
        _ => {}
    }
    let new_etag = response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await?;
    let snapshot: Snapshot =
        serde_json::from_slice(&body).map_err(|e| SyncError::Malformed(e.to_string()))?;
    // Behind a load balancer one instance may lag another: never step back to an older
    // version of the server's data (bootstrap data, version 0, is always replaced).
    let from_server = matches!(
        *shared.status.borrow(),
        Status::Ready | Status::Stale { .. }
    );
    if from_server && shared.version().is_some_and(|have| snapshot.version < have) {
        return Ok(());
    }
    *etag = new_etag;
    shared.install(snapshot, Status::Ready);
    if let Some(path) = config.persist_path.clone() {
        let written = tokio::task::spawn_blocking(move || bootstrap::persist(&path, &body)).await;
        if let Ok(Err(e)) | Err(e) = written.map_err(std::io::Error::other) {
            tracing::warn!(error = %e, "could not persist the snapshot");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        let bounds = [(50, 100), (100, 200), (200, 400), (400, 800), (400, 800)];
        for (low, high) in bounds {
            let d = backoff.delay();
            assert!(
                d >= Duration::from_millis(low) && d <= Duration::from_millis(high),
                "{d:?} not in {low}..={high} ms"
            );
        }
        backoff.reset();
        assert!(backoff.delay() <= Duration::from_millis(100));
    }
}
