//! `GET /v1/stream`: server-sent events that tell SDKs the snapshot changed. On connect and on
//! every change an `event: snapshot` carries the new version (`data: {"version": N}`); the SDK
//! then fetches `/v1/snapshot` with its ETag. Comments (`: heartbeat`) keep idle connections
//! alive and let clients notice a dead one.

use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use prometheus::IntGauge;
use tokio::sync::watch;

use super::resource;
use crate::auth::{Auth, Sdk};
use crate::state::AppState;

/// Registers the stream route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/stream").route(web::get().to(stream)));
}

/// Counts an open stream while it lives.
struct Open(IntGauge);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn snapshot_event(version: u64) -> Bytes {
    Bytes::from(format!(
        "event: snapshot\nid: {version}\ndata: {{\"version\":{version}}}\n\n"
    ))
}

struct Feed {
    changes: watch::Receiver<u64>,
    heartbeat: tokio::time::Interval,
    announced: bool,
    _open: Open,
}

async fn stream(state: web::Data<AppState>, _: Auth<Sdk>) -> HttpResponse {
    let every = Duration::from_secs(state.settings.server.stream_heartbeat_secs);
    let start = tokio::time::Instant::now() + every;
    state.metrics.stream_clients.inc();
    let feed = Feed {
        changes: state.changes.subscribe(),
        heartbeat: tokio::time::interval_at(start, every),
        announced: false,
        _open: Open(state.metrics.stream_clients.clone()),
    };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        if !feed.announced {
            feed.announced = true;
            let version = *feed.changes.borrow_and_update();
            return Some((Ok::<_, actix_web::Error>(snapshot_event(version)), feed));
        }
        let item = tokio::select! {
            changed = feed.changes.changed() => {
                changed.ok()?;
                snapshot_event(*feed.changes.borrow_and_update())
            }
            _ = feed.heartbeat.tick() => Bytes::from_static(b": heartbeat\n\n"),
        };
        Some((Ok(item), feed))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events)
}
