//! The load benchmark's baseline: the bare framework on one worker, answering every request
//! (any method, any path) with a fixed body of the size the measured route answers. What
//! Switchyard does per request is the difference between it and this.
//!
//! `baseline_server PORT BODY_BYTES [STATUS]`

use actix_web::{App, HttpResponse, HttpServer, http::StatusCode, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
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
