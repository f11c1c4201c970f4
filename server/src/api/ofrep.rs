//! OFREP, the OpenFeature Remote Evaluation Protocol (`testdata/ofrep/openapi.yaml`), so stock
//! OpenFeature SDKs can use Switchyard. Errors answer in OFREP's own shape
//! (`key`, `errorCode`, `errorDetails`), not problem+json.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;
use serde_json::json;
use switchyard_core::{Context, Reason};

use super::evaluate::evaluate_all;
use super::{Body, bulk_etag_of, clocked, json_bytes, none_match, resource};
use crate::auth::{Auth, Sdk};
use crate::published::answer;
use crate::state::AppState;

/// Registers the OFREP routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/ofrep/v1/evaluate/flags/{key}").route(web::post().to(evaluate)))
        .service(resource("/ofrep/v1/evaluate/flags").route(web::post().to(evaluate_bulk)));
}

/// An OFREP error answer.
#[derive(Debug, thiserror::Error)]
#[error("{details}")]
pub struct OfrepError {
    status: StatusCode,
    key: Option<String>,
    code: &'static str,
    details: String,
}

impl ResponseError for OfrepError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({"errorCode": self.code, "errorDetails": self.details});
        if let Some(key) = &self.key {
            body["key"] = json!(key);
        }
        HttpResponse::build(self.status).json(body)
    }
}

#[derive(Default, Deserialize)]
struct OfrepRequest<'a> {
    #[serde(default, borrow)]
    context: Context<'a>,
}

/// Parses the body: not JSON → `PARSE_ERROR`; JSON of the wrong shape (not an object, a
/// context over docs/flags.md#limits-and-safety-rules's limits) → `INVALID_CONTEXT`.
fn parse<'a>(body: &'a [u8], key: Option<&str>) -> Result<OfrepRequest<'a>, OfrepError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(OfrepRequest::default());
    }
    let invalid = |code, details| OfrepError {
        status: StatusCode::BAD_REQUEST,
        key: key.map(str::to_owned),
        code,
        details,
    };
    let is_json = || serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
    if !super::is_object(body) {
        return Err(match is_json() {
            true => invalid("INVALID_CONTEXT", "the body must be a JSON object".into()),
            false => invalid("PARSE_ERROR", "the body is not JSON".into()),
        });
    }
    // UTF-8 checked once (JSON is UTF-8): serde_json then borrows each string unchecked.
    let text = std::str::from_utf8(body).map_err(|_| {
        invalid(
            "PARSE_ERROR",
            "the body is not JSON: it is not UTF-8".into(),
        )
    })?;
    let request: OfrepRequest<'a> = serde_json::from_str(text).map_err(|e| {
        let code = if is_json() {
            "INVALID_CONTEXT"
        } else {
            "PARSE_ERROR"
        };
        invalid(code, format!("invalid request body: {e}"))
    })?;
    switchyard_core::validate_context(&request.context)
        .map_err(|e| invalid("INVALID_CONTEXT", format!("context: {e}")))?;
    Ok(request)
}

/// The loaded snapshot, or OFREP's general error with 503 while there is none.
fn loaded(
    state: &AppState,
) -> Result<arc_swap::Guard<std::sync::Arc<crate::published::Published>>, OfrepError> {
    state.loaded_snapshot().map_err(|e| OfrepError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        key: None,
        code: "GENERAL",
        details: e.to_string(),
    })
}

async fn evaluate(
    state: web::Data<AppState>,
    key: web::Path<String>,
    _: Auth<Sdk>,
    body: Body,
) -> Result<HttpResponse, OfrepError> {
    let request = parse(&body.0, Some(&key))?;
    let published = loaded(&state)?;
    let snapshot = &published.snapshot;
    // One lookup serves the evaluation and the reason (which reads the flag).
    let position = snapshot.position(&key);
    let context = clocked(snapshot, request.context);
    let decision = switchyard_core::evaluate_at(snapshot, position, &context);
    state.metrics().count_decision(decision.reason);
    if decision.reason == Reason::FlagNotFound {
        return Err(OfrepError {
            status: StatusCode::NOT_FOUND,
            key: Some(key.into_inner()),
            code: "FLAG_NOT_FOUND",
            details: "no flag has this key".into(),
        });
    }
    let mut out = Vec::with_capacity(160);
    let flag = position.and_then(|i| snapshot.flag_at(i));
    answer::ofrep(&mut out, &key, &decision, flag);
    Ok(json_bytes(out))
}

async fn evaluate_bulk(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Auth<Sdk>,
    body: Body,
) -> Result<HttpResponse, OfrepError> {
    let request = parse(&body.0, None)?;
    let published = loaded(&state)?;
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
    Ok(ok.content_type("application/json").body(answer::ofrep_bulk(
        snapshot.version,
        answers,
        published.flag_parts(),
    )))
}
