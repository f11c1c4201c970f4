//! Impact over HTTP (docs/api.md#release-plans): `POST /v1/impact` (sdk) takes an SDK's batch of exposures and
//! tracked events per flag and variant, validated whole and bounded, and answers 202 at once;
//! `GET /v1/flags/{key}/impact` (viewer) shows the current stage's sums.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use switchyard_core::Variant;
use switchyard_core::impact::Cohort;
use switchyard_core::impact::{MAX_EVENT_BYTES, is_event_name};
use switchyard_core::validate::validate_key;

use super::{Body, parse_json, resource, served};
use crate::auth::{Auth, Sdk, Viewer};
use crate::error::ApiError;
use crate::state::AppState;
use crate::tasks::impact::stage_of;

pub use switchyard_core::impact::{MAX_COUNT, MAX_EVENTS_PER_ITEM, MAX_REPORT_ITEMS as MAX_ITEMS};

/// Registers the impact routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/impact").route(web::post().to(report)))
        .service(resource("/v1/flags/{key}/impact").route(web::get().to(sums)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    events: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    flag: String,
    variant: Variant,
    #[serde(default)]
    exposures: u64,
    #[serde(default)]
    counts: BTreeMap<String, u64>,
}

/// Every problem of `report`, by position; `None` when it is good.
fn problems(report: &Report) -> Option<String> {
    if report.events.len() > MAX_ITEMS {
        return Some(format!(
            "events holds {} items; the limit is {MAX_ITEMS} (send several reports)",
            report.events.len()
        ));
    }
    let mut found = Vec::new();
    for (i, item) in report.events.iter().enumerate() {
        if let Err(p) = validate_key(&item.flag) {
            found.push(format!("events[{i}].flag {}", p.message));
        }
        if item.exposures > MAX_COUNT {
            found.push(format!("events[{i}].exposures is above {MAX_COUNT}"));
        }
        if item.counts.len() > MAX_EVENTS_PER_ITEM {
            found.push(format!(
                "events[{i}].counts names {} events; the limit is {MAX_EVENTS_PER_ITEM}",
                item.counts.len()
            ));
        }
        for (event, n) in &item.counts {
            if !is_event_name(event) {
                found.push(format!(
                    "events[{i}].counts: {event:?} must be 1 to {MAX_EVENT_BYTES} letters, digits, '.', '_', '-' or ':'"
                ));
            }
            if *n > MAX_COUNT {
                found.push(format!("events[{i}].counts.{event} is above {MAX_COUNT}"));
            }
        }
    }
    (!found.is_empty()).then(|| found.join("; "))
}

async fn report(
    state: web::Data<AppState>,
    _: Auth<Sdk>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let report: Report = parse_json(&body.0)?;
    if let Some(why) = problems(&report) {
        return Err(ApiError::BadRequest(why));
    }
    let m = state.metrics();
    m.impact_reports.inc();
    for item in report.events {
        let on = item.variant == Variant::On;
        let cohort = Cohort {
            exposures: item.exposures,
            counts: item.counts,
        };
        match state.impact().add(&item.flag, on, &cohort) {
            Some(left_out) => {
                m.impact_exposures
                    .with_label_values(&[if on { "on" } else { "off" }])
                    .inc_by(cohort.exposures);
                m.impact_dropped
                    .inc_by(u64::try_from(left_out).unwrap_or(u64::MAX));
            }
            None => m.impact_dropped.inc(),
        }
    }
    Ok(HttpResponse::Accepted().json(serde_json::json!({"accepted": true})))
}

async fn sums(
    state: web::Data<AppState>,
    key: web::Path<String>,
    _: Auth<Viewer>,
) -> Result<HttpResponse, ApiError> {
    let plan_stage = {
        let published = state.published();
        served(&published, &key)?.plan.as_ref().map(|p| p.stage)
    };
    let stage = stage_of(&state, &key).ok_or_else(|| ApiError::FlagNotFound(key.clone()))?;
    let sums = state.impact().stored(&key, &stage).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "flag": key.as_str(),
        "stage": plan_stage,
        "on": sums.on,
        "off": sums.off,
    })))
}
