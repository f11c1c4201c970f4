//! Operations: liveness, readiness (store reachable and a snapshot loaded; degraded says why)
//! and Prometheus metrics. Unauthenticated, as probes and scrapers expect; nothing secret.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// How long readiness waits for the store before calling it unreachable.
const STORE_CHECK: Duration = Duration::from_secs(2);

/// Registers the health and metrics routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/health/live").route(web::get().to(live)))
        .service(super::resource("/health/ready").route(web::get().to(ready)))
        .service(super::resource("/metrics").route(web::get().to(metrics)));
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The store's revision, or why it did not answer in time.
async fn store_revision(state: &AppState) -> Result<u64, String> {
    match tokio::time::timeout(STORE_CHECK, state.store().revision()).await {
        Ok(Ok(revision)) => Ok(revision),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("the store did not answer within {STORE_CHECK:?}")),
    }
}

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let mut store = store_revision(&state).await;
    // A store older than what was served is healed by a reconcile; until that has worked,
    // this instance and the store disagree, and readiness says so (docs/flags.md#limits-and-safety-rules).
    if let Ok(revision) = store
        && state.is_loaded()
        && revision < state.published().snapshot.version
    {
        let _ = crate::tasks::sync::reconcile(&state).await;
        store = store_revision(&state).await;
    }
    state.set_store_health(store.as_ref().err().cloned());
    let version = state.published().snapshot.version;
    let problem = match (&store, state.is_loaded()) {
        (Err(e), _) => Some(format!(
            "store unreachable: {e}; serving the last good snapshot"
        )),
        (Ok(_), false) => Some("no snapshot loaded yet".to_owned()),
        (Ok(revision), true) if *revision < version => Some(format!(
            "the store is at revision {revision}, older than the version {version} served: \
             it came back older (restarted empty, restored, or failed over) and has not yet \
             been moved past it"
        )),
        (Ok(_), true) => state.fleet().lag_problem(version),
    };
    match problem {
        None => HttpResponse::Ok().json(json!({
            "status": "ready", "store": "ok", "snapshot_version": version,
        })),
        Some(reason) => HttpResponse::ServiceUnavailable().json(json!({
            "status": "degraded", "reason": reason, "snapshot_version": version,
            "snapshot_loaded": state.is_loaded(),
        })),
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics().render())
}
