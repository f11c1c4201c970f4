//! Segments (docs/api.md#segments): list and read (viewer, with ETag), create or replace
//! (`PUT`, editor, conditional on the version when it replaces) and delete (editor; a 409
//! while a rule uses it). Reads come from the served snapshot, as flags' do.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use switchyard_core::Segment;

use super::{Body, if_match, none_match, parse_json, parse_optional_json, resource, written};
use crate::auth::{Auth, Editor, Viewer};
use crate::changes::{Precondition, SegmentInput};
use crate::error::ApiError;
use crate::state::AppState;

/// Registers the segment routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/segments").route(web::get().to(list)))
        .service(
            resource("/v1/segments/{key}")
                .route(web::get().to(get))
                .route(web::put().to(put))
                .route(web::delete().to(delete)),
        );
}

/// A segment's ETag: its version, quoted.
fn etag(segment: &Segment) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{}\"", segment.version))
}

/// `{"version", "segments"}`: every segment, sorted by key, at the served snapshot version.
async fn list(state: web::Data<AppState>, _: Auth<Viewer>) -> HttpResponse {
    let published = state.published();
    let segments: Vec<&Segment> = published.snapshot.segments().collect();
    HttpResponse::Ok().json(serde_json::json!({
        "version": published.snapshot.version,
        "segments": segments,
    }))
}

async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<String>,
    _: Auth<Viewer>,
) -> Result<HttpResponse, ApiError> {
    let published = state.published();
    let segment = published
        .snapshot
        .segment(&key)
        .ok_or_else(|| ApiError::NotFound(format!("no segment has the key {:?}", key.as_str())))?;
    if none_match(req.headers(), &etag(segment).1) {
        return Ok(HttpResponse::NotModified()
            .insert_header(etag(segment))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header(etag(segment))
        .json(segment))
}

async fn put(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<String>,
    auth: Auth<Editor>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let expected = Precondition::if_match(if_match(req.headers())?);
    let input = SegmentInput::from_object(parse_json(&body.0)?)?;
    let writer = state.writer(auth.caller())?;
    let (segment, created) = writer.put_segment(&key, input, expected).await?;
    let mut builder = if created {
        let mut b = HttpResponse::Created();
        b.insert_header((header::LOCATION, format!("/v1/segments/{}", segment.key)));
        b
    } else {
        HttpResponse::Ok()
    };
    builder.insert_header(etag(&segment));
    Ok(written(builder, &writer).json(&segment))
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
    auth: Auth<Editor>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let request: DeleteRequest = parse_optional_json(&body.0)?;
    let expected =
        Precondition::if_match(if_match(req.headers())?).or_body(request.expected_version);
    let writer = state.writer(auth.caller())?;
    let deleted = writer
        .delete_segment(&key, expected, request.reason)
        .await?;
    Ok(written(HttpResponse::Ok(), &writer).json(serde_json::json!({"deleted": deleted})))
}
