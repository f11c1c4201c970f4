//! The web console (docs/api.md#console): `GET /console` and its two assets, compiled into the binary
//! (nothing fetched from elsewhere, no build step: plain HTML, CSS and a JavaScript module in
//! `server/console/`). Its CSP allows only this origin's script, style and API calls — no
//! inline script or style. `GET /v1/me` (any role) tells the console who the token is, so it
//! shows only the controls the role may use.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::resource;
use crate::auth::{Auth, Sdk};

const INDEX: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/app.js");
const STYLE: &str = include_str!("../../console/app.css");

/// The console's policy: its own script, style and API, nothing else, never framed.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// Registers the console's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/console").route(web::get().to(|| asset(INDEX, "text/html; charset=utf-8"))),
    )
    .service(
        resource("/console/app.js")
            .route(web::get().to(|| asset(SCRIPT, "text/javascript; charset=utf-8"))),
    )
    .service(
        resource("/console/app.css")
            .route(web::get().to(|| asset(STYLE, "text/css; charset=utf-8"))),
    )
    .service(resource("/v1/me").route(web::get().to(me)));
}

async fn asset(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CONSOLE_CSP))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

async fn me(auth: Auth<Sdk>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "name": auth.0.name,
        "role": auth.0.role,
    }))
}
