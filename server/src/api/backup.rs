//! Backup and restore: `GET /v1/export` (the store's current state in the export format) and
//! `POST /v1/import` (validated whole, then written in one atomic commit; `dry_run` shows the
//! plan without writing; `mode=replace` restores exactly, `mode=merge` upserts).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::value::RawValue;
use switchyard_core::{Export, Flag, KillSwitch, Segment, Snapshot};

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
    let snapshot = Snapshot::new(loaded.revision, loaded.global_kill_switch, loaded.flags)
        .with_segments(loaded.segments);
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

/// A backup as sent: each part kept raw until it is known to be an object.
#[derive(Deserialize)]
struct RawBackup<'a> {
    format: u32,
    #[serde(default, borrow)]
    global_kill_switch: Option<&'a RawValue>,
    #[serde(default, borrow)]
    flags: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    segments: Vec<&'a RawValue>,
}

/// Reads a backup: objects only, at every level (serde would read a flag from an array), and
/// every field this version does not know is a 400 naming it (docs/flags.md#limits-and-safety-rules): a restore that
/// silently dropped part of a backup would not be one.
fn parse_backup(body: &[u8]) -> Result<Export, ApiError> {
    let mut unknown = Vec::new();
    let raw: RawBackup<'_> = super::strict_object(body, "", &mut unknown)?;
    let global_kill_switch = match raw.global_kill_switch {
        Some(switch) => {
            super::strict_object(switch.get().as_bytes(), "global_kill_switch", &mut unknown)?
        }
        None => KillSwitch::default(),
    };
    let flags = (raw.flags.iter().enumerate())
        .map(|(i, flag)| {
            super::strict_object(flag.get().as_bytes(), &format!("flags[{i}]"), &mut unknown)
        })
        .collect::<Result<Vec<Flag>, _>>()?;
    let segments = (raw.segments.iter().enumerate())
        .map(|(i, segment)| {
            let at = format!("segments[{i}]");
            super::strict_object(segment.get().as_bytes(), &at, &mut unknown)
        })
        .collect::<Result<Vec<Segment>, _>>()?;
    if !unknown.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "the backup has fields this version does not know: {}; nothing was imported",
            unknown.join(", ")
        )));
    }
    Ok(Export {
        format: raw.format,
        global_kill_switch,
        flags,
        segments,
    })
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
    Ok(super::written(HttpResponse::Ok(), &writer).json(plan))
}
