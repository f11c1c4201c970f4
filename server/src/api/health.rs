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

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let store = match tokio::time::timeout(STORE_CHECK, state.store.revision()).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("the store did not answer within {STORE_CHECK:?}")),
    };
    state.set_store_health(store.clone());
    let version = state.published().snapshot.version;
    let problem = match (&store, state.is_loaded()) {
        (Some(e), _) => Some(format!(
            "store unreachable: {e}; serving the last good snapshot"
        )),
        (None, false) => Some("no snapshot loaded yet".to_owned()),
        (None, true) => None,
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
        .body(state.metrics.render())
}
