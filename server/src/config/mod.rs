//! Settings, layered: defaults < optional file (`--config PATH`, TOML) < environment
//! (`SWITCHYARD_` prefix, `__` between levels: `SWITCHYARD_SERVER__LISTEN`). Bad settings stop
//! the start with one line naming the key and the reason.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use switchyard_core::Limits;

mod check;
mod sections;

/// Everything the server can be told.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// HTTP listener and request handling.
    pub server: ServerSettings,
    /// Where flags live.
    pub store: StoreSettings,
    /// Limits on flags beyond docs/flags.md#a-flag's defaults.
    pub limits: LimitSettings,
    /// How much history and audit the store keeps.
    pub retention: RetentionSettings,
    /// Logging.
    pub log: LogSettings,
    /// Release plans: how often the scheduler looks.
    pub plans: PlanSettings,
    /// Where guards read their values.
    pub guards: GuardSettings,
    /// Who hears of plan transitions and kill switch changes.
    pub notify: NotifySettings,
    /// Bootstrap admin token for a first run (`SWITCHYARD_ADMIN_TOKEN`); hashed at start.
    pub admin_token: Option<String>,
    /// Bootstrap SDK token (`SWITCHYARD_SDK_TOKEN`); hashed at start.
    pub sdk_token: Option<String>,
    /// Seed a few example flags into an empty store (`--demo`).
    pub demo: bool,
}

pub use sections::{
    GuardSettings, LimitSettings, LogSettings, NotifySettings, PlanSettings, RetentionSettings,
    ServerSettings, StoreSettings,
};

/// Bad settings: which key, and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub(crate) String);

/// The shortest token accepted from the environment: shorter ones are guessable.
pub const MIN_TOKEN_LEN: usize = 16;

impl Settings {
    /// Loads defaults < `file` < the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::load_from(file, None)
    }

    /// Like [`Settings::load`], reading `env` instead of the process environment (tests).
    pub fn load_from(
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
    ) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "--config {}: no such file",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path));
        }
        let env = config::Environment::with_prefix("SWITCHYARD")
            .prefix_separator("_")
            .separator("__")
            .source(env);
        let settings: Settings = builder
            .add_source(env)
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError(e.to_string()))?;
        settings.check()?;
        Ok(settings)
    }

    /// The flag limits these settings ask for.
    pub fn limits(&self) -> Limits {
        Limits {
            max_whitelist: self.limits.max_whitelist,
            max_markets: self.limits.max_markets,
            ..Limits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("switchyard.toml");
        std::fs::write(&file, "[server]\nlisten = \"0.0.0.0:9000\"\nworkers = 3\n").unwrap();
        let settings = Settings::load_from(
            Some(&file),
            env(&[
                ("SWITCHYARD_SERVER__WORKERS", "5"),
                ("SWITCHYARD_STORE__DATA_DIR", "/tmp/sy"),
                ("SWITCHYARD_ADMIN_TOKEN", "a-long-enough-admin-token"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.server.listen, "0.0.0.0:9000");
        assert_eq!(settings.server.workers, 5);
        assert_eq!(settings.store.data_dir, PathBuf::from("/tmp/sy"));
        assert_eq!(
            settings.admin_token.as_deref(),
            Some("a-long-enough-admin-token")
        );
        assert_eq!(settings.server.writes_per_minute, 120);
        let cors = Settings::load_from(
            None,
            env(&[(
                "SWITCHYARD_SERVER__CORS_ORIGINS",
                "https://a.example, http://localhost:3000/",
            )]),
        )
        .unwrap();
        assert_eq!(
            cors.server.cors_origins,
            ["https://a.example", "http://localhost:3000"]
        );
    }

    #[test]
    fn sentinel_cluster_and_tls_settings_come_from_the_environment() {
        let sentinel = Settings::load_from(
            None,
            env(&[
                (
                    "SWITCHYARD_STORE__REDIS_SENTINELS",
                    "10.0.0.1:26379, 10.0.0.2:26379,10.0.0.3:26379",
                ),
                ("SWITCHYARD_STORE__REDIS_MASTER", "flags"),
                ("SWITCHYARD_STORE__REDIS_MIN_REPLICAS_ACKED", "1"),
                ("SWITCHYARD_STORE__REDIS_WAIT_TIMEOUT_MS", "250"),
            ]),
        )
        .unwrap();
        assert_eq!(sentinel.store.redis_sentinels.len(), 3);
        assert_eq!(sentinel.store.redis_sentinels[1], "10.0.0.2:26379");
        assert_eq!(sentinel.store.redis_master.as_deref(), Some("flags"));
        assert_eq!(sentinel.store.redis_min_replicas_acked, 1);
        assert_eq!(sentinel.store.redis_wait_timeout_ms, 250);

        let cluster = Settings::load_from(
            None,
            env(&[(
                "SWITCHYARD_STORE__REDIS_CLUSTER_NODES",
                "redis://a:7000,rediss://b:7001",
            )]),
        )
        .unwrap();
        assert_eq!(cluster.store.redis_cluster_nodes.len(), 2);
        let both = Settings::load_from(
            None,
            env(&[
                ("SWITCHYARD_STORE__REDIS_CLUSTER_NODES", "redis://a:7000"),
                ("SWITCHYARD_STORE__REDIS_URL", "redis://b:6379"),
            ]),
        );
        assert!(both.is_err());
        let half_cert = Settings::load_from(
            None,
            env(&[("SWITCHYARD_STORE__REDIS_CLIENT_KEY", "Cargo.toml")]),
        );
        assert!(
            half_cert
                .unwrap_err()
                .to_string()
                .contains("REDIS_CLIENT_CERT")
        );
    }

    #[test]
    fn bad_settings_name_the_key() {
        let cases = [
            (
                "SWITCHYARD_SERVER__LISTEN",
                "nowhere",
                "SWITCHYARD_SERVER__LISTEN",
            ),
            ("SWITCHYARD_SERVER__WORKERS", "many", "workers"),
            (
                "SWITCHYARD_STORE__REDIS_URL",
                "http://x",
                "SWITCHYARD_STORE__REDIS_URL",
            ),
            (
                "SWITCHYARD_STORE__REDIS_PREFIX",
                "a b",
                "SWITCHYARD_STORE__REDIS_PREFIX",
            ),
            ("SWITCHYARD_ADMIN_TOKEN", "short", "SWITCHYARD_ADMIN_TOKEN"),
            ("SWITCHYARD_LOG__FORMAT", "xml", "SWITCHYARD_LOG__FORMAT"),
            (
                "SWITCHYARD_SERVER__CORS_ORIGINS",
                "a.example",
                "SWITCHYARD_SERVER__CORS_ORIGINS",
            ),
            (
                "SWITCHYARD_LIMITS__STREAMS_PER_TOKEN",
                "0",
                "SWITCHYARD_LIMITS__STREAMS_PER_TOKEN",
            ),
            (
                "SWITCHYARD_STORE__REDIS_SENTINELS",
                "127.0.0.1:26379",
                "SWITCHYARD_STORE__REDIS_MASTER",
            ),
            (
                "SWITCHYARD_STORE__REDIS_CLUSTER_NODES",
                "127.0.0.1:7000",
                "SWITCHYARD_STORE__REDIS_CLUSTER_NODES",
            ),
            (
                "SWITCHYARD_STORE__REDIS_MIN_REPLICAS_ACKED",
                "99",
                "SWITCHYARD_STORE__REDIS_MIN_REPLICAS_ACKED",
            ),
            (
                "SWITCHYARD_STORE__REDIS_CA_FILE",
                "/nonexistent/ca.pem",
                "SWITCHYARD_STORE__REDIS_CA_FILE",
            ),
            (
                "SWITCHYARD_STORE__REDIS_CLIENT_CERT",
                "/nonexistent/cert.pem",
                "SWITCHYARD_STORE__REDIS_CLIENT_CERT",
            ),
        ];
        for (key, value, named) in cases {
            let err = Settings::load_from(None, env(&[(key, value)])).unwrap_err();
            assert!(err.to_string().contains(named), "{key}: {err}");
            assert!(!err.to_string().contains('\n'), "{key}: {err}");
        }
        let err = Settings::load_from(Some(Path::new("/nope.toml")), env(&[])).unwrap_err();
        assert!(err.to_string().contains("/nope.toml"));
    }
}
