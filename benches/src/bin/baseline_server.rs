//! The benchmarks' baseline: the bare framework.
//!
//! `baseline_server PORT BODY_BYTES [STATUS]`: one worker answering every request (any
//! method, any path) with a fixed body of the size the measured route answers. What
//! Switchyard does per request is the difference between it and this.
//!
//! `baseline_server PORT stream`: the streams benchmark's baseline, one worker per core like
//! the server's default. `GET /v1/stream` answers server-sent events, one per flip, each as
//! Switchyard writes it; `POST /v1/flags/checkout/kill` flips, answering the new version in
//! `X-Switchyard-Snapshot-Version`. Nothing else: no tokens, fleet, or heartbeats.

use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, http::StatusCode, web};
use futures_util::StreamExt;
use tokio::sync::watch;

/// Serves the streams baseline on `port` until killed.
async fn streams(port: u16) -> std::io::Result<()> {
    let (flips, _) = watch::channel(1u64);
    let flips = Arc::new(flips);
    HttpServer::new(move || {
        let flips = flips.clone();
        App::new()
            .app_data(web::Data::from(flips))
            .route(
                "/v1/stream",
                web::get().to(|flips: web::Data<watch::Sender<u64>>| async move {
                    let versions = events(flips.subscribe());
                    HttpResponse::Ok()
                        .content_type("text/event-stream")
                        .streaming(versions)
                }),
            )
            .route(
                "/v1/flags/checkout/kill",
                web::post().to(|flips: web::Data<watch::Sender<u64>>| async move {
                    flips.send_modify(|v| *v += 1);
                    let version = *flips.borrow();
                    HttpResponse::Ok()
                        .insert_header(("X-Switchyard-Snapshot-Version", version.to_string()))
                        .finish()
                }),
            )
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}

/// The versions `changes` sees, the current one first, as server-sent events.
fn events(
    changes: watch::Receiver<u64>,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> {
    futures_util::stream::unfold((changes, true), |(mut changes, first)| async move {
        if !first && changes.changed().await.is_err() {
            return None;
        }
        let version = *changes.borrow_and_update();
        let event = format!("event: snapshot\nid: {version}\ndata: {{\"version\":{version}}}\n\n");
        Some((Ok(web::Bytes::from(event)), (changes, false)))
    })
    .boxed_local()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(2).map(String::as_str) == Some("stream") {
        let port = args.get(1).and_then(|p| p.parse().ok());
        let port =
            port.ok_or_else(|| std::io::Error::other("usage: baseline_server PORT stream"))?;
        return streams(port).await;
    }
    let usage = || std::io::Error::other("usage: baseline_server PORT BODY_BYTES [STATUS]");
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).ok_or_else(usage)?;
    let size: usize = args.get(2).and_then(|s| s.parse().ok()).ok_or_else(usage)?;
    let status = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200u16);
    let status = StatusCode::from_u16(status).map_err(|_| usage())?;
    // A JSON object padded to exactly `size` bytes (an empty body when size is 0).
    let body = if size >= 10 {
        format!("{{\"p\":\"{}\"}}", "x".repeat(size - 8))
    } else {
        String::new()
    };
    let body = web::Bytes::from(body);
    HttpServer::new(move || {
        let body = body.clone();
        // The request body is read, as the server reads it: an unread body would make actix
        // close the connection and the baseline would measure reconnects.
        App::new().default_service(web::to(move |_request: web::Bytes| {
            let body = body.clone();
            async move {
                let mut reply = HttpResponse::build(status);
                if body.is_empty() {
                    reply.finish()
                } else {
                    reply.content_type("application/json").body(body)
                }
            }
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
