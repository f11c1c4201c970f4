//! Native evaluation (`POST /v1/evaluate`, `POST /v1/evaluate/bulk`) and the SDK's snapshot
//! (`GET /v1/snapshot`). Answered from the in-memory snapshot only: no store call, no lock.

use std::borrow::Cow;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use switchyard_core::{Context, Decision, Reason, Snapshot};

use super::{
    Body, bulk_etag_of, check_context, clocked, json_bytes, none_match, parse_json, resource,
};
use crate::auth::{Auth, Sdk};
use crate::error::ApiError;
use crate::published::answer;
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
    let snapshot = &published.snapshot;
    let context = clocked(snapshot, request.context);
    // One lookup serves the evaluation and the answer (which reads the flag).
    let position = snapshot.position(&request.flag);
    let decision = switchyard_core::evaluate_at(snapshot, position, &context);
    state.metrics().count_decision(decision.reason);
    if decision.reason == Reason::FlagNotFound {
        return Err(ApiError::FlagNotFound(request.flag.into_owned()));
    }
    let mut out = Vec::with_capacity(128);
    let flag = position.and_then(|i| snapshot.flag_at(i));
    answer::native(&mut out, &request.flag, &decision, flag);
    Ok(json_bytes(out))
}

/// Every flag's decision for one context, sorted by key. The decisions are counted by
/// reason as they go, and added to the metrics once per reason when the walk is dropped (a
/// shared atomic add per flag was a tenth of a bulk answer over 1,000 flags).
pub fn evaluate_all<'s>(
    state: &'s AppState,
    snapshot: &'s Snapshot,
    ctx: &'s Context<'_>,
) -> impl ExactSizeIterator<Item = (&'s switchyard_core::Flag, Decision)> {
    let decisions = snapshot.flags().map(|flag| {
        // The flag is in hand: no need to look it up again.
        (
            flag,
            switchyard_core::evaluate_found(snapshot, Some(flag), ctx),
        )
    });
    Counted {
        decisions,
        counts: [0; Reason::ALL.len()],
        metrics: state.metrics(),
    }
}

/// Decisions, counted by reason on the way through.
struct Counted<'s, I> {
    decisions: I,
    counts: [u64; Reason::ALL.len()],
    metrics: &'s crate::metrics::Metrics,
}

impl<'s, I: Iterator<Item = (&'s switchyard_core::Flag, Decision)>> Iterator for Counted<'s, I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.decisions.next()?;
        self.counts[item.1.reason as usize] += 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.decisions.size_hint()
    }
}

impl<'s, I: ExactSizeIterator<Item = (&'s switchyard_core::Flag, Decision)>> ExactSizeIterator
    for Counted<'s, I>
{
}

impl<I> Drop for Counted<'_, I> {
    fn drop(&mut self) {
        for reason in Reason::ALL {
            self.metrics
                .count_decisions(reason, self.counts[reason as usize]);
        }
    }
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
    let snapshot = &published.snapshot;
    let etag = bulk_etag_of(snapshot, &request.context);
    if let Some(etag) = etag.as_deref().filter(|e| none_match(req.headers(), e)) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let context = clocked(snapshot, request.context);
    let answers = evaluate_all(&state, snapshot, &context);
    let mut ok = HttpResponse::Ok();
    if let Some(etag) = etag {
        ok.insert_header((header::ETAG, etag));
    }
    Ok(ok
        .content_type("application/json")
        .body(answer::native_bulk(
            snapshot.version,
            answers,
            published.flag_parts(),
        )))
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
        let fleet = state.fleet();
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
