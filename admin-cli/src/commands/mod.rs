//! One module per command group; each has `Args` types and `run` functions.

pub mod audit;
pub mod backup;
pub mod completions;
pub mod edit;
pub mod eval;
pub mod flags;
pub mod fleet;
pub mod kill;
pub mod plan;
pub mod segments;
pub mod status;
pub mod targeting;
pub mod tokens;

use crate::error::CliError;

/// Refuses an impossible flag key before any request (a slash would even change the route).
pub fn check_key(key: &str) -> Result<(), CliError> {
    switchyard_core::validate_key(key).map_err(|p| CliError::Usage(format!("flag {}", p.message)))
}

/// `/v1/flags/KEY`, after checking the key.
pub fn flag_path(key: &str) -> Result<String, CliError> {
    check_key(key)?;
    Ok(format!("/v1/flags/{key}"))
}
