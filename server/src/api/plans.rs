//! Release plans over HTTP (docs/api.md#release-plans): start one (`PUT /v1/flags/{key}/plan`, editor), read
//! one or all (`GET …/plan`, `GET /v1/plans`, viewer), and a person's pause, resume, advance
//! and abort (editor; `DELETE …/plan` aborts). Every change is a flag write: its answer is
//! the plan's view and carries the snapshot version that serves it.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use switchyard_core::Flag;

use super::{Body, parse_json, parse_optional_json, resource, served, written};
use crate::auth::{Auth, Editor, Viewer};
use crate::changes::Writer;
use crate::error::ApiError;
use crate::plans::template::{self, PlanRequest};
use crate::plans::view::view;
use crate::state::AppState;

/// Registers the plan routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/flags/{key}/plan")
            .route(web::get().to(get))
            .route(web::put().to(start))
            .route(web::delete().to(abort)),
    )
    .service(resource("/v1/flags/{key}/plan/{action}").route(web::post().to(act)))
    .service(resource("/v1/plans").route(web::get().to(list)));
}

/// The view of `flag`'s plan, with `status`, and the write's version when there was one.
fn answer(
    state: &AppState,
    builder: actix_web::HttpResponseBuilder,
    writer: Option<&Writer<'_>>,
    flag: &Flag,
) -> Result<HttpResponse, ApiError> {
    let shown = view(flag, state.guards(), Utc::now())
        .ok_or_else(|| ApiError::NotFound(format!("flag {:?} has no release plan", flag.key)))?;
    let mut builder = match writer {
        Some(w) => written(builder, w),
        None => builder,
    };
    Ok(builder.json(shown))
}

async fn get(
    state: web::Data<AppState>,
    key: web::Path<String>,
    _: Auth<Viewer>,
) -> Result<HttpResponse, ApiError> {
    let published = state.published();
    answer(&state, HttpResponse::Ok(), None, served(&published, &key)?)
}

async fn list(state: web::Data<AppState>, _: Auth<Viewer>) -> HttpResponse {
    let published = state.published();
    let now = Utc::now();
    let plans: Vec<_> = published
        .snapshot
        .flags()
        .filter_map(|f| view(f, state.guards(), now))
        .collect();
    HttpResponse::Ok().json(serde_json::json!({ "plans": plans }))
}

async fn start(
    state: web::Data<AppState>,
    key: web::Path<String>,
    auth: Auth<Editor>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let mut request: PlanRequest = parse_json(&body.0)?;
    let why = request.reason.take();
    let plan = template::build(
        &key,
        request,
        &state.settings().guards,
        state.guards().configured(),
        Utc::now(),
    )?;
    let writer = state.writer(auth.caller())?;
    let flag = writer.start_plan(&key, plan, why).await?;
    answer(&state, HttpResponse::Created(), Some(&writer), &flag)
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActRequest {
    reason: Option<String>,
}

async fn act(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    auth: Auth<Editor>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let (key, action) = path.into_inner();
    let request: ActRequest = parse_optional_json(&body.0)?;
    let writer = state.writer(auth.caller())?;
    let why = request.reason;
    let flag = match action.as_str() {
        "pause" => writer.pause_plan(&key, why).await?,
        "resume" => writer.resume_plan(&key, why).await?,
        "abort" => writer.abort_plan(&key, why).await?,
        "advance" => {
            let statuses = {
                let published = state.published();
                match &served(&published, &key)?.plan {
                    Some(plan) => state.guards().statuses(&key, plan),
                    None => Vec::new(),
                }
            };
            writer.advance_plan(&key, &statuses, why).await?
        }
        other => {
            return Err(ApiError::NotFound(format!(
                "no plan action {other:?}: use pause, resume, advance or abort"
            )));
        }
    };
    answer(&state, HttpResponse::Ok(), Some(&writer), &flag)
}

async fn abort(
    state: web::Data<AppState>,
    key: web::Path<String>,
    auth: Auth<Editor>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let request: ActRequest = parse_optional_json(&body.0)?;
    let writer = state.writer(auth.caller())?;
    let flag = writer.abort_plan(&key, request.reason).await?;
    answer(&state, HttpResponse::Ok(), Some(&writer), &flag)
}
