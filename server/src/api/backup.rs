//! Backup and restore: `GET /v1/export` (the store's current state in the export format) and
//! `POST /v1/import` (validated whole, then written in one atomic commit; `dry_run` shows the
//! plan without writing; `mode=replace` restores exactly, `mode=merge` upserts).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use switchyard_core::{Export, Snapshot};

use super::{Body, resource};
use crate::auth::{Admin, Auth, Viewer};
use crate::changes::ImportMode;
use crate::error::ApiError;
use crate::state::AppState;

/// Registers the backup routes; imports may be up to `import_limit` bytes.
pub fn configure(cfg: &mut web::ServiceConfig, import_limit: usize) {
    cfg.service(resource("/v1/export").route(web::get().to(export)))
        .service(
            resource("/v1/import")
                .app_data(super::BodyLimit(import_limit))
                .route(web::post().to(import)),
        );
}

async fn export(state: web::Data<AppState>, _: Auth<Viewer>) -> Result<HttpResponse, ApiError> {
    let loaded = state.store().load().await?;
    let snapshot = Snapshot::new(loaded.revision, loaded.global_kill_switch, loaded.flags);
    Ok(HttpResponse::Ok().json(snapshot.to_export()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    mode: ImportMode,
    #[serde(default)]
    dry_run: bool,
}

/// The caller is checked before the query or body is read (extractors run in order).
async fn import(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    params: web::Query<Params>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    // A field this version does not know is a 400 naming it (SPEC §6): a restore that
    // silently dropped part of a backup would not be one.
    let backup: Export = super::parse_strict(&body.0)?;
    let writer = state.writer(auth.caller())?;
    let plan = writer.import(backup, params.mode, params.dry_run).await?;
    Ok(HttpResponse::Ok().json(plan))
}
