//! The audit trail (`GET /v1/audit`): newest first, filtered by flag, actor and time, paged
//! with `limit` and the `before` cursor the previous page gave.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::auth::{Auth, Viewer};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::AuditQuery;

/// The most entries one page may hold.
pub const MAX_PAGE: usize = 1000;

/// Registers the audit route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/v1/audit").route(web::get().to(audit)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    flag: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<u64>,
    limit: Option<usize>,
}

fn time(name: &str, value: Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(&v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    ApiError::BadRequest(format!(
                        "{name} {v:?} is not an RFC 3339 time such as 2026-11-22T10:00:00Z ({e})"
                    ))
                })
        })
        .transpose()
}

/// The caller is checked before the query is read (extractors run in order), so an
/// anonymous caller learns nothing of the parameters.
async fn audit(
    _: Auth<Viewer>,
    state: web::Data<AppState>,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let limit = params.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {MAX_PAGE}"
        )));
    }
    let query = AuditQuery {
        flag: params.flag,
        actor: params.actor,
        since: time("since", params.since)?,
        until: time("until", params.until)?,
        before: params.before,
        limit,
    };
    // One query at a time, its answer built off the workers (see AppState::audit_queries).
    let _turn = state
        .audit_queries()
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(format!("audit queue closed: {e}")))?;
    let entries = state.store().audit(&query).await?;
    let body = tokio::task::spawn_blocking(move || {
        let next_before = (entries.len() == limit)
            .then(|| entries.last().map(|e| e.id))
            .flatten();
        serde_json::to_vec(&serde_json::json!({
            "entries": entries,
            "next_before": next_before,
        }))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("building the audit page: {e}")))?
    .map_err(|e| ApiError::Internal(format!("serialising the audit page: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
