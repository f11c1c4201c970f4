//! Profiles: named servers and tokens in a TOML file (`--config`, `SWITCHYARD_CONFIG`, or
//! `~/.config/switchyard/config.toml`), e.g.
//!
//! ```toml
//! [profiles.staging]
//! url = "https://flags.staging.example.com"
//! token_env = "STAGING_SWITCHYARD_TOKEN"   # or: token = "…"
//! ```
//!
//! `--url`/`--token` and `SWITCHYARD_URL`/`SWITCHYARD_TOKEN` win over the profile.

use std::path::PathBuf;

use serde::Deserialize;

use crate::error::CliError;

/// One profile.
#[derive(Debug, Default, Deserialize)]
pub struct Profile {
    /// The server's URL.
    pub url: Option<String>,
    /// A token, inline.
    pub token: Option<String>,
    /// The environment variable that holds the token.
    pub token_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    profiles: std::collections::HashMap<String, Profile>,
}

fn default_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SWITCHYARD_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("switchyard/config.toml"))
}

/// Loads profile `name` from `path` (or the default file).
pub fn load(name: &str, path: Option<PathBuf>) -> Result<Profile, CliError> {
    let Some(path) = path.or_else(default_path) else {
        return Err(CliError::Usage(
            "--profile needs a config file: pass --config PATH".into(),
        ));
    };
    let file: File = config::Config::builder()
        .add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| CliError::Usage(format!("config file {}: {e}", path.display())))?;
    let mut profiles = file.profiles;
    let mut profile = profiles.remove(name).ok_or_else(|| {
        let mut known: Vec<String> = profiles.into_keys().collect();
        known.sort();
        CliError::Usage(format!(
            "no profile {name:?} in {} (it has: {})",
            path.display(),
            known.join(", ")
        ))
    })?;
    if profile.token.is_none()
        && let Some(var) = &profile.token_env
    {
        profile.token = std::env::var(var).ok();
    }
    Ok(profile)
}
