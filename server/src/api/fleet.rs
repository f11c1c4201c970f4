//! The fleet view (docs/api.md#fleet-proof-that-a-change-took): `GET /v1/fleet` lists every instance and the SDKs streaming
//! from each, by version; `GET /v1/fleet/wait?version=N&timeout_ms=T` answers once every
//! live instance and every SDK connected to them serves version N or later, or at the
//! timeout with who is behind. Both read the heartbeats in the store (viewer).

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use switchyard_core::MAX_VERSION;

use super::resource;
use crate::auth::{Auth, Viewer};
use crate::error::ApiError;
use crate::fleet::verdict::{self, Verdict};
use crate::state::AppState;
use crate::store::SdkSeen;

/// How often a wait reads the heartbeats again.
const POLL: Duration = Duration::from_millis(20);
/// A wait's timeout when none is given, and the longest one may ask for.
const DEFAULT_WAIT_MS: u64 = 5_000;
const MAX_WAIT_MS: u64 = 60_000;

/// Registers the fleet routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/fleet").route(web::get().to(fleet)))
        .service(resource("/v1/fleet/wait").route(web::get().to(wait)));
}

#[derive(Serialize)]
struct Instance<'a> {
    id: &'a str,
    version: u64,
    age_ms: u64,
    state: &'static str,
    started_at: chrono::DateTime<chrono::Utc>,
    streams: u64,
    sdks: &'a BTreeMap<u64, u64>,
    lagging_sdks: &'a [SdkSeen],
}

async fn fleet(state: web::Data<AppState>, _: Auth<Viewer>) -> Result<HttpResponse, ApiError> {
    let mut fleet = state.fleet().read().await?;
    fleet.instances.sort_by(|a, b| a.beat.id.cmp(&b.beat.id));
    let newest = fleet.instances.iter().map(|s| s.beat.version).max();
    let instances: Vec<Instance<'_>> = fleet
        .instances
        .iter()
        .map(|seen| Instance {
            id: &seen.beat.id,
            version: seen.beat.version,
            age_ms: seen.age_ms,
            state: verdict::state(seen),
            started_at: seen.beat.started_at,
            streams: seen.beat.streams,
            sdks: &seen.beat.sdks,
            lagging_sdks: &seen.beat.lagging,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "latest_version": fleet.revision.max(newest.unwrap_or(0)),
        "instances": instances,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitQuery {
    version: u64,
    timeout_ms: Option<u64>,
}

#[derive(Serialize)]
struct Waited {
    #[serde(flatten)]
    verdict: Verdict,
    elapsed_ms: u64,
}

async fn wait(
    state: web::Data<AppState>,
    _: Auth<Viewer>,
    query: web::Query<WaitQuery>,
) -> Result<HttpResponse, ApiError> {
    let WaitQuery {
        version,
        timeout_ms,
    } = query.into_inner();
    if version == 0 || version > MAX_VERSION {
        return Err(ApiError::BadRequest(format!(
            "version must be 1 to {MAX_VERSION}"
        )));
    }
    let timeout_ms = timeout_ms.unwrap_or(DEFAULT_WAIT_MS);
    if timeout_ms > MAX_WAIT_MS {
        return Err(ApiError::BadRequest(format!(
            "timeout_ms must be at most {MAX_WAIT_MS}"
        )));
    }
    let _turn = state
        .fleet()
        .waits
        .try_acquire()
        .map_err(|_| ApiError::RateLimited(1))?;
    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_millis(timeout_ms);
    let mut expected = None;
    loop {
        let verdict = match state.fleet().read().await {
            Ok(fleet) => {
                let expected = expected.get_or_insert_with(|| verdict::live_ids(&fleet));
                Some(verdict::judge(expected, &fleet, version))
            }
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.into()),
            Err(_) => None,
        };
        let now = tokio::time::Instant::now();
        if let Some(verdict) = verdict
            && (verdict.verified || now >= deadline)
        {
            let elapsed = now.duration_since(started);
            return Ok(HttpResponse::Ok().json(Waited {
                verdict,
                elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            }));
        }
        tokio::time::sleep(POLL.min(deadline.saturating_duration_since(now))).await;
    }
}
