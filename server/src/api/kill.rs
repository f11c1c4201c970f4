//! Kill switches, the responder's tools: a flag's own (`POST /v1/flags/{key}/kill`) and the
//! global one (`POST /v1/kill-switch`). Turning one on needs a reason, for the audit trail.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{Body, parse_json, resource, written};
use crate::auth::{Auth, Responder, Viewer};
use crate::error::ApiError;
use crate::state::AppState;

/// Registers the kill-switch routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/flags/{key}/kill").route(web::post().to(kill_flag)))
        .service(
            resource("/v1/kill-switch")
                .route(web::get().to(global_state))
                .route(web::post().to(kill_global)),
        );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KillRequest {
    active: bool,
    reason: Option<String>,
}

async fn kill_flag(
    state: web::Data<AppState>,
    key: web::Path<String>,
    auth: Auth<Responder>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let request: KillRequest = parse_json(&body.0)?;
    let writer = state.writer(auth.caller())?;
    let flag = writer
        .kill_flag(&key, request.active, request.reason)
        .await?;
    Ok(written(HttpResponse::Ok(), &writer).json(flag))
}

async fn kill_global(
    state: web::Data<AppState>,
    auth: Auth<Responder>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let request: KillRequest = parse_json(&body.0)?;
    let writer = state.writer(auth.caller())?;
    let switch = writer.global_kill(request.active, request.reason).await?;
    Ok(written(HttpResponse::Ok(), &writer).json(switch))
}

async fn global_state(state: web::Data<AppState>, _: Auth<Viewer>) -> HttpResponse {
    HttpResponse::Ok().json(&state.published().snapshot.global_kill_switch)
}
