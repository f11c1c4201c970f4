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

/// Parses a backup, refusing any field it does not know, by name (SPEC §6): a field that
/// vanished silently (a `tokens` array, a misspelt `kill_switch`) would be a restore that
/// is not one.
fn parse_backup(body: &[u8]) -> Result<Export, ApiError> {
    if !super::is_object(body) {
        return Err(ApiError::BadRequest(
            "the backup must be a JSON object: {\"format\": 1, \"flags\": [...]}".into(),
        ));
    }
    let mut unknown = Vec::new();
    let mut json = serde_json::Deserializer::from_slice(body);
    let backup: Export = serde_ignored::deserialize(&mut json, |path| {
        if unknown.len() < 20 {
            unknown.push(path.to_string());
        }
    })
    .map_err(|e| ApiError::BadRequest(format!("invalid backup: {e}")))?;
    if !unknown.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "the backup has fields this version does not know: {}; nothing was imported",
            unknown.join(", ")
        )));
    }
    Ok(backup)
}

/// The caller is checked before the query or body is read (extractors run in order).
async fn import(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    params: web::Query<Params>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let backup = parse_backup(&body.0)?;
    let writer = state.writer(auth.caller())?;
    let plan = writer.import(backup, params.mode, params.dry_run).await?;
    Ok(HttpResponse::Ok().json(plan))
}
