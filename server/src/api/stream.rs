//! `GET /v1/stream`: server-sent events that tell SDKs the snapshot changed. On connect and on
//! every change an `event: snapshot` carries the new version (`data: {"version": N}`); the SDK
//! then fetches `/v1/snapshot` with its ETag. When this instance made version N in place from
//! the version the stream last announced, the event carries the change itself
//! (`{"version": N, "base": B, "changes": {...}}`, up to [`MAX_CHANGE_BYTES`]): an SDK holding
//! version B applies it at once, and its fetch, conditional on version N, is answered 304,
//! so a change does not send every SDK the whole snapshot (and the fetch still tells the
//! fleet view what the SDK serves). Comments (`: heartbeat`) keep idle connections alive and
//! let clients notice a dead one.
//!
//! An SDK that names itself (`X-Switchyard-Client`, docs/api.md#fleet-proof-that-a-change-took) is listed in this instance's
//! heartbeat while its stream is open, at the version it sends as `Last-Event-ID` and then
//! at each version it fetches. The answer names the instance (`X-Switchyard-Instance`), so
//! the SDK can say where its stream is when a fetch lands on another instance.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use tokio::sync::watch;

use super::{client_header, resource};
use crate::auth::{Auth, Caller, Sdk};
use crate::error::ApiError;
use crate::published::Published;
use crate::state::AppState;

/// Registers the stream route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/stream").route(web::get().to(stream)));
}

/// One open stream, counted against its token's cap (and listed in the fleet when the SDK
/// named itself) while it lives.
struct Slot {
    state: web::Data<AppState>,
    caller: Arc<Caller>,
    client: Option<String>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.state.streams().close(&self.caller.name);
        if let Some(client) = &self.client {
            self.state.fleet().clients.disconnect(client);
        }
    }
}

/// The instance id header on stream answers.
pub const INSTANCE_HEADER: &str = "x-switchyard-instance";

/// The version an SDK says it has loaded when it (re)connects: the SSE `Last-Event-ID`,
/// which is the version of the last `snapshot` event it handled.
fn last_event_id(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get("last-event-id")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn snapshot_event(version: u64) -> Bytes {
    Bytes::from(format!(
        "event: snapshot\nid: {version}\ndata: {{\"version\":{version}}}\n\n"
    ))
}

/// The largest change an event carries; beyond it (a large import, say) the event announces
/// the version only, and SDKs fetch the snapshot.
pub const MAX_CHANGE_BYTES: usize = 64 * 1024;

/// `published`'s event for a stream that last announced version `sent`: the change itself
/// when it was made from that version, else the version.
fn event_for(published: &Published, sent: Option<u64>) -> Bytes {
    let version = published.snapshot.version;
    let carried = published.change.as_ref().filter(|c| Some(c.base) == sent);
    let event = carried.and_then(|change| {
        change
            .event
            .get_or_init(|| {
                let changes = serde_json::to_string(&change.delta).ok()?;
                (changes.len() <= MAX_CHANGE_BYTES).then(|| {
                    Bytes::from(format!(
                        "event: snapshot\nid: {version}\ndata: {{\"version\":{version},\"base\":{},\"changes\":{changes}}}\n\n",
                        change.base
                    ))
                })
            })
            .clone()
    });
    event.unwrap_or_else(|| snapshot_event(version))
}

struct Feed {
    changes: watch::Receiver<u64>,
    /// The version this stream last announced.
    sent: Option<u64>,
    tokens: watch::Receiver<u64>,
    stopping: watch::Receiver<bool>,
    heartbeat: tokio::time::Interval,
    announced: bool,
    slot: Slot,
}

/// What ends a stream: the server stopping (docs/flags.md#limits-and-safety-rules: SDKs reconnect elsewhere at once), or
/// the stream's token revoked (its events stop within the propagation of the revoke).
enum Next {
    Send(Bytes),
    Recheck,
    End,
}

async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth<Sdk>,
) -> Result<HttpResponse, ApiError> {
    let sdk = client_header(&req)?;
    let every = Duration::from_secs(state.settings().server.stream_heartbeat_secs);
    let start = tokio::time::Instant::now() + every;
    state.streams().open(&auth.0.name)?;
    if let Some(sdk) = &sdk {
        state.fleet().clients.connect(sdk, last_event_id(&req));
    }
    let feed = Feed {
        changes: state.versions().subscribe(),
        sent: None,
        tokens: state.tokens().changes(),
        stopping: state.stopping().subscribe(),
        heartbeat: tokio::time::interval_at(start, every),
        announced: false,
        slot: Slot {
            state: state.clone(),
            caller: auth.0,
            client: sdk.map(|sdk| sdk.client),
        },
    };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        if !feed.announced {
            feed.announced = true;
            feed.changes.borrow_and_update();
            let version = feed.slot.state.published().snapshot.version;
            feed.sent = Some(version);
            return Some((Ok::<_, actix_web::Error>(snapshot_event(version)), feed));
        }
        loop {
            if *feed.stopping.borrow_and_update() {
                return None;
            }
            let next = tokio::select! {
                _ = feed.stopping.changed() => Next::Recheck,
                _ = feed.tokens.changed() => {
                    let slot = &feed.slot;
                    if slot.state.tokens().admits(&slot.caller) {
                        Next::Recheck
                    } else {
                        slot.state.metrics().stream_revocations.inc();
                        Next::End
                    }
                }
                changed = feed.changes.changed() => match changed {
                    Ok(()) => {
                        feed.changes.borrow_and_update();
                        let published = feed.slot.state.published();
                        let version = published.snapshot.version;
                        if feed.sent == Some(version) {
                            Next::Recheck
                        } else {
                            let event = event_for(&published, feed.sent);
                            feed.sent = Some(version);
                            Next::Send(event)
                        }
                    }
                    Err(_) => Next::End,
                },
                _ = feed.heartbeat.tick() => Next::Send(Bytes::from_static(b": heartbeat\n\n")),
            };
            match next {
                Next::Send(item) => return Some((Ok(item), feed)),
                Next::Recheck => continue,
                Next::End => return None,
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .insert_header((INSTANCE_HEADER, state.fleet().id.as_str()))
        .streaming(events))
}
