//! Native evaluation (`POST /v1/evaluate`, `POST /v1/evaluate/bulk`) and the SDK's snapshot
//! (`GET /v1/snapshot`). Answered from the in-memory snapshot only: no store call, no lock.

use std::borrow::Cow;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use switchyard_core::{Context, Decision, Reason, Snapshot};

use super::{Body, answer, bulk_etag, check_context, json_bytes, none_match, parse_json, resource};
use crate::auth::{Auth, Sdk};
use crate::error::ApiError;
use crate::state::AppState;

/// Registers the evaluation routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/evaluate").route(web::post().to(evaluate)))
        .service(resource("/v1/evaluate/bulk").route(web::post().to(evaluate_bulk)))
        .service(resource("/v1/snapshot").route(web::get().to(snapshot)));
}

#[derive(Deserialize)]
struct EvalRequest<'a> {
    #[serde(borrow)]
    flag: Cow<'a, str>,
    #[serde(default, borrow)]
    context: Context<'a>,
}

#[derive(Default, Deserialize)]
struct BulkRequest<'a> {
    #[serde(default, borrow)]
    context: Context<'a>,
}

async fn evaluate(
    state: web::Data<AppState>,
    _: Auth<Sdk>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let request: EvalRequest<'_> = parse_json(&body.0)?;
    check_context(&request.context)?;
    let published = state.loaded_snapshot()?;
    let decision = published.snapshot.evaluate(&request.flag, &request.context);
    state.metrics.count_decision(decision.reason);
    if decision.reason == Reason::FlagNotFound {
        return Err(ApiError::FlagNotFound(request.flag.into_owned()));
    }
    let mut out = Vec::with_capacity(128);
    answer::native(&mut out, &request.flag, &decision);
    Ok(json_bytes(out))
}

/// Every flag's decision for one context, sorted by key.
pub fn evaluate_all<'s>(
    state: &'s AppState,
    snapshot: &'s Snapshot,
    ctx: &'s Context<'_>,
) -> impl ExactSizeIterator<Item = (&'s switchyard_core::Flag, Decision)> {
    snapshot.flags().map(|flag| {
        // The flag is in hand: no need to look it up again.
        let decision = switchyard_core::evaluate_found(snapshot, Some(flag), ctx);
        state.metrics.count_decision(decision.reason);
        (flag, decision)
    })
}

async fn evaluate_bulk(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Auth<Sdk>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let request: BulkRequest<'_> = super::parse_optional_json(&body.0)?;
    check_context(&request.context)?;
    let published = state.loaded_snapshot()?;
    let etag = bulk_etag(published.snapshot.version, &request.context);
    if none_match(req.headers(), &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let snapshot = &published.snapshot;
    let answers = evaluate_all(&state, snapshot, &request.context);
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .content_type("application/json")
        .body(answer::native_bulk(snapshot.version, answers)))
}

async fn snapshot(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Auth<Sdk>,
) -> Result<HttpResponse, ApiError> {
    let sdk = super::client_header(&req)?;
    let published = state.loaded_snapshot()?;
    if let Some(sdk) = &sdk {
        // Whether it gets the body or a 304, the SDK now has this version.
        let fleet = &state.fleet;
        fleet
            .clients
            .fetched(&fleet.id, sdk, published.snapshot.version);
    }
    let etag = (header::ETAG, published.etag.clone());
    if none_match(req.headers(), &published.etag) {
        return Ok(HttpResponse::NotModified().insert_header(etag).finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header(etag)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .content_type("application/json")
        .body(published.body()))
}
