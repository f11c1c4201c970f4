//! Token management, for admins: issue (the plain token is in the answer, once), list
//! (never a hash), revoke.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{Body, parse_json, resource};
use crate::auth::{Admin, Auth, Role};
use crate::changes::TokenInfo;
use crate::error::ApiError;
use crate::state::AppState;

/// Registers the token routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/tokens")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(resource("/v1/tokens/{id}").route(web::delete().to(revoke)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    name: String,
    role: Role,
}

async fn list(state: web::Data<AppState>, _: Auth<Admin>) -> Result<HttpResponse, ApiError> {
    let records = state.store().tokens().await?;
    let tokens: Vec<TokenInfo> = records.iter().map(TokenInfo::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"tokens": tokens})))
}

async fn create(
    state: web::Data<AppState>,
    auth: Auth<Admin>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let request: CreateRequest = parse_json(&body.0)?;
    let writer = state.writer(auth.caller())?;
    let issued = writer.create_token(&request.name, request.role).await?;
    // The answer holds the plain token: no cache, proxy or browser may keep it.
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(issued))
}

async fn revoke(
    state: web::Data<AppState>,
    id: web::Path<String>,
    auth: Auth<Admin>,
) -> Result<HttpResponse, ApiError> {
    let writer = state.writer(auth.caller())?;
    writer.revoke_token(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
