//! Data to start from when the server is away: bootstrap data (the export format, from a
//! file or a string) and the persisted snapshot (the last one the server gave, written
//! atomically after every change).

use std::path::Path;

use switchyard_core::{Export, Snapshot};

use crate::error::SdkError;

/// Parses bootstrap data in the export format (`GET /v1/export`).
pub fn parse_export(json: &str) -> Result<Export, SdkError> {
    let export: Export = serde_json::from_str(json)
        .map_err(|e| SdkError::Bootstrap(format!("not the export format: {e}")))?;
    if !Export::READS.contains(&export.format) {
        return Err(SdkError::Bootstrap(format!(
            "format {} is not supported (this SDK reads formats 1 and {})",
            export.format,
            Export::FORMAT
        )));
    }
    Ok(export)
}

/// Reads bootstrap data from a file.
pub fn read_export(path: &Path) -> Result<Export, SdkError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SdkError::Bootstrap(format!("cannot read {}: {e}", path.display())))?;
    parse_export(&text)
}

/// The persisted snapshot, if the file exists and holds one. A missing or damaged file is
/// not an error: the SDK falls back to its bootstrap (and logs why).
pub fn read_persisted(path: &Path) -> Option<Snapshot> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str(&text) {
        Ok(snapshot) => Some(snapshot),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring a damaged persisted snapshot");
            None
        }
    }
}

/// Writes `body` (a snapshot as the server sent it) to `path` atomically: a temporary file
/// beside it, then a rename, so a crash never leaves half a file.
pub fn persist(path: &Path, body: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}
