//! Flag administration: list, read (with ETag), create/replace (`PUT`), partial change
//! (`PATCH`), delete, history and rollback. Writes carry the expected version (`If-Match` or
//! `expected_version`); a stale one gets 409 and changes nothing.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use switchyard_core::Flag;

use super::{Body, if_match, none_match, parse_json, parse_optional_json, resource, written};
use crate::auth::{Admin, Auth, Editor, Viewer};
use crate::changes::{FlagInput, Precondition};
use crate::error::ApiError;
use crate::state::AppState;
use switchyard_core::FlagPatch;

/// Registers the flag routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/flags").route(web::get().to(list)))
        .service(
            resource("/v1/flags/{key}")
                .route(web::get().to(get))
                .route(web::put().to(put))
                .route(web::patch().to(patch))
                .route(web::delete().to(delete)),
        )
        .service(resource("/v1/flags/{key}/history").route(web::get().to(history)))
        .service(resource("/v1/flags/{key}/rollback").route(web::post().to(rollback)));
}

/// What a write expects: the version `If-Match` names; the changes add the body's.
fn precondition(req: &HttpRequest) -> Result<Precondition, ApiError> {
    Ok(Precondition::if_match(if_match(req.headers())?))
}

/// A flag's ETag: its version, quoted.
fn etag(flag: &Flag) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{}\"", flag.version))
}

fn flag_response(mut builder: actix_web::HttpResponseBuilder, flag: &Flag) -> HttpResponse {
    builder.insert_header(etag(flag)).json(flag)
}

/// `{"version", "global_kill_switch", "flags"}`: the snapshot's own wire shape, so its
/// serialised body serves.
async fn list(state: web::Data<AppState>, _: Auth<Viewer>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.published().body())
}

async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<String>,
    _: Auth<Viewer>,
) -> Result<HttpResponse, ApiError> {
    let published = state.published();
    let flag = super::served(&published, &key)?;
    if none_match(req.headers(), &etag(flag).1) {
        return Ok(HttpResponse::NotModified()
            .insert_header(etag(flag))
            .finish());
    }
    Ok(flag_response(HttpResponse::Ok(), flag))
}

async fn put(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<String>,
    auth: Auth<Editor>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let expected = precondition(&req)?;
    let input = FlagInput::from_object(parse_json(&body.0)?)?;
    let writer = state.writer(auth.caller())?;
    let (flag, created) = writer.put(&key, input, expected).await?;
    let builder = if created {
        let mut b = HttpResponse::Created();
        b.insert_header((header::LOCATION, format!("/v1/flags/{}", flag.key)));
        b
    } else {
        HttpResponse::Ok()
    };
    Ok(flag_response(written(builder, &writer), &flag))
}

async fn patch(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<String>,
    auth: Auth<Editor>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let expected = precondition(&req)?;
    let change: FlagPatch = super::parse_strict(&body.0)?;
    let writer = state.writer(auth.caller())?;
    let flag = writer.patch(&key, change, expected).await?;
    Ok(flag_response(written(HttpResponse::Ok(), &writer), &flag))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteRequest {
    expected_version: Option<u64>,
    reason: Option<String>,
}

async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<String>,
    auth: Auth<Admin>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let request: DeleteRequest = parse_optional_json(&body.0)?;
    let expected = precondition(&req)?.or_body(request.expected_version);
    let writer = state.writer(auth.caller())?;
    let deleted = writer.delete(&key, expected, request.reason).await?;
    Ok(written(HttpResponse::Ok(), &writer).json(serde_json::json!({"deleted": deleted})))
}

async fn history(
    state: web::Data<AppState>,
    key: web::Path<String>,
    _: Auth<Viewer>,
) -> Result<HttpResponse, ApiError> {
    let mut versions = state.store().history(&key).await?;
    if versions.is_empty() {
        return Err(ApiError::FlagNotFound(key.into_inner()));
    }
    versions.reverse();
    let exists = state.published().snapshot.get(&key).is_some();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "key": key.as_str(),
        "deleted": !exists,
        "versions": versions,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    to_version: u64,
    expected_version: Option<u64>,
    reason: Option<String>,
}

async fn rollback(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<String>,
    auth: Auth<Editor>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let request: RollbackRequest = parse_json(&body.0)?;
    let expected = precondition(&req)?.or_body(request.expected_version);
    let writer = state.writer(auth.caller())?;
    let flag = writer
        .rollback(&key, request.to_version, expected, request.reason)
        .await?;
    Ok(flag_response(written(HttpResponse::Ok(), &writer), &flag))
}
