//! Settings, layered: defaults < optional file (`--config PATH`, TOML) < environment
//! (`SWITCHYARD_` prefix, `__` between levels: `SWITCHYARD_SERVER__LISTEN`). Bad settings stop
//! the start with one line naming the key and the reason.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use switchyard_core::Limits;

/// Everything the server can be told.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// HTTP listener and request handling.
    pub server: ServerSettings,
    /// Where flags live.
    pub store: StoreSettings,
    /// Limits on flags beyond SPEC §1's defaults.
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

/// `[server]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Address and port to listen on (`SWITCHYARD_SERVER__LISTEN`).
    pub listen: String,
    /// HTTP worker threads; 0 means one per core (`SWITCHYARD_SERVER__WORKERS`).
    pub workers: usize,
    /// Largest request body, in bytes (imports have their own limit).
    pub body_limit_bytes: usize,
    /// Largest import body, in bytes.
    pub import_limit_bytes: usize,
    /// Admin writes one token may make per minute before getting 429.
    pub writes_per_minute: u32,
    /// Seconds between reconciles of the snapshot with the store.
    pub reconcile_interval_secs: u64,
    /// Seconds between heartbeats on `/v1/stream`.
    pub stream_heartbeat_secs: u64,
    /// Send `Strict-Transport-Security` (set when served over TLS, e.g. behind a proxy).
    pub hsts: bool,
    /// Seconds a client may take to send a request body, whatever its token (408 after).
    pub body_timeout_secs: u64,
    /// Browser origins allowed to call the evaluation, snapshot, stream and OFREP routes
    /// (`SWITCHYARD_SERVER__CORS_ORIGINS`, comma-separated; empty: no CORS at all).
    #[serde(deserialize_with = "list")]
    pub cors_origins: Vec<String>,
    /// This instance's id in the fleet view (`SWITCHYARD_SERVER__INSTANCE_ID`); the host name
    /// and port when unset.
    pub instance_id: Option<String>,
}

/// A list given as a TOML array or as one comma-separated string (the environment's form),
/// items trimmed, blanks dropped.
fn items<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Text(String),
        List(Vec<String>),
    }
    let items = match Form::deserialize(d)? {
        Form::Text(text) => text.split(',').map(str::to_owned).collect(),
        Form::List(items) => items,
    };
    Ok(items
        .into_iter()
        .map(|i| i.trim().to_owned())
        .filter(|i| !i.is_empty())
        .collect())
}

/// Origins: [`items`] without a trailing `/`.
fn list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(items(d)?
        .into_iter()
        .map(|i| i.trim_end_matches('/').to_owned())
        .collect())
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: "127.0.0.1:8080".into(),
            workers: 0,
            body_limit_bytes: 4 * 1024 * 1024,
            import_limit_bytes: 256 * 1024 * 1024,
            writes_per_minute: 120,
            reconcile_interval_secs: 5,
            stream_heartbeat_secs: 15,
            hsts: false,
            body_timeout_secs: 10,
            cors_origins: Vec::new(),
            instance_id: None,
        }
    }
}

/// `[store]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct StoreSettings {
    /// The embedded store's directory (`SWITCHYARD_STORE__DATA_DIR`).
    pub data_dir: PathBuf,
    /// A Redis URL selects the Redis store (`SWITCHYARD_STORE__REDIS_URL`).
    pub redis_url: Option<String>,
    /// The prefix of every Redis key, so deployments can share a Redis
    /// (`SWITCHYARD_STORE__REDIS_PREFIX`). On a Redis Cluster it becomes a hash tag,
    /// `{prefix}`, so every key shares one slot.
    pub redis_prefix: String,
    /// Sentinels (`host:port` or URLs, `SWITCHYARD_STORE__REDIS_SENTINELS`, comma-separated)
    /// that name the primary. `redis_url`, when set with them, gives the primary's scheme,
    /// credentials and database.
    #[serde(deserialize_with = "items")]
    pub redis_sentinels: Vec<String>,
    /// The name the sentinels monitor the primary under (`SWITCHYARD_STORE__REDIS_MASTER`).
    pub redis_master: Option<String>,
    /// URLs of Redis Cluster nodes to start from (`SWITCHYARD_STORE__REDIS_CLUSTER_NODES`,
    /// comma-separated): selects the Cluster store.
    #[serde(deserialize_with = "items")]
    pub redis_cluster_nodes: Vec<String>,
    /// Replicas that must confirm a write (`WAIT`) before it is acknowledged
    /// (`SWITCHYARD_STORE__REDIS_MIN_REPLICAS_ACKED`; 0 takes the primary's word).
    pub redis_min_replicas_acked: u32,
    /// How long a write waits for those replicas before answering 503.
    pub redis_wait_timeout_ms: u64,
    /// PEM CA file trusted for `rediss://` instead of the system's roots.
    pub redis_ca_file: Option<PathBuf>,
    /// PEM client certificate for Redis servers that ask for one (with `redis_client_key`).
    pub redis_client_cert: Option<PathBuf>,
    /// PEM private key of `redis_client_cert`.
    pub redis_client_key: Option<PathBuf>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            data_dir: PathBuf::from("./switchyard-data"),
            redis_url: None,
            redis_prefix: "switchyard".into(),
            redis_sentinels: Vec::new(),
            redis_master: None,
            redis_cluster_nodes: Vec::new(),
            redis_min_replicas_acked: 0,
            redis_wait_timeout_ms: 500,
            redis_ca_file: None,
            redis_client_cert: None,
            redis_client_key: None,
        }
    }
}

impl StoreSettings {
    fn check_redis(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        let redis_url = |url: &str| url.starts_with("redis://") || url.starts_with("rediss://");
        if let Some(url) = &self.redis_url
            && !redis_url(url)
        {
            return bad(
                "SWITCHYARD_STORE__REDIS_URL",
                "must start with redis:// or rediss:// (the value is not shown: it may hold a \
                 password)",
            );
        }
        if !self.redis_cluster_nodes.iter().all(|u| redis_url(u)) {
            return bad(
                "SWITCHYARD_STORE__REDIS_CLUSTER_NODES",
                "every node must be a redis:// or rediss:// URL (the values are not shown: they \
                 may hold a password)",
            );
        }
        if !self.redis_cluster_nodes.is_empty()
            && (self.redis_url.is_some() || !self.redis_sentinels.is_empty())
        {
            return bad(
                "SWITCHYARD_STORE__REDIS_CLUSTER_NODES",
                "a Cluster is reached through its nodes alone: unset REDIS_URL and \
                 REDIS_SENTINELS",
            );
        }
        if self.redis_sentinels.is_empty() != self.redis_master.is_none() {
            return bad(
                "SWITCHYARD_STORE__REDIS_MASTER",
                "Sentinel needs both REDIS_SENTINELS and REDIS_MASTER (the name the sentinels \
                 monitor)",
            );
        }
        if self.redis_sentinels.len() > 16 || self.redis_cluster_nodes.len() > 64 {
            return bad(
                "SWITCHYARD_STORE__REDIS_SENTINELS",
                "at most 16 sentinels and 64 cluster nodes",
            );
        }
        if self.redis_min_replicas_acked > 16 {
            return bad(
                "SWITCHYARD_STORE__REDIS_MIN_REPLICAS_ACKED",
                "must be 0 to 16",
            );
        }
        if !(1..=60_000).contains(&self.redis_wait_timeout_ms) {
            return bad(
                "SWITCHYARD_STORE__REDIS_WAIT_TIMEOUT_MS",
                "must be 1 to 60000",
            );
        }
        if self.redis_client_cert.is_some() != self.redis_client_key.is_some() {
            return bad(
                "SWITCHYARD_STORE__REDIS_CLIENT_CERT",
                "a client certificate needs REDIS_CLIENT_CERT and REDIS_CLIENT_KEY together",
            );
        }
        for (key, file) in [
            ("SWITCHYARD_STORE__REDIS_CA_FILE", &self.redis_ca_file),
            (
                "SWITCHYARD_STORE__REDIS_CLIENT_CERT",
                &self.redis_client_cert,
            ),
            ("SWITCHYARD_STORE__REDIS_CLIENT_KEY", &self.redis_client_key),
        ] {
            if let Some(path) = file
                && !path.is_file()
            {
                return Err(ConfigError(format!(
                    "{key}: {} is not a readable file",
                    path.display()
                )));
            }
        }
        Ok(())
    }
}

/// `[limits]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Most users in one whitelist (SPEC: 10,000 unless raised).
    pub max_whitelist: usize,
    /// Most markets on one flag.
    pub max_markets: usize,
    /// Most `/v1/stream` connections one token may hold open (SPEC §6); 429 above.
    pub streams_per_token: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        let core = Limits::default();
        LimitSettings {
            max_whitelist: core.max_whitelist,
            max_markets: core.max_markets,
            streams_per_token: 10_000,
        }
    }
}

/// `[retention]`: what the store keeps, so it stops growing (a year of normal use stays well
/// under 1 GB).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RetentionSettings {
    /// Versions kept in each flag's history, newest first; older ones are dropped as new
    /// ones are written (`SWITCHYARD_RETENTION__HISTORY_VERSIONS`).
    pub history_versions: usize,
    /// Days audit entries are kept (`SWITCHYARD_RETENTION__AUDIT_DAYS`).
    pub audit_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            history_versions: 200,
            audit_days: 400,
        }
    }
}

/// `[plans]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct PlanSettings {
    /// Milliseconds between two looks of the plan scheduler at every running plan
    /// (`SWITCHYARD_PLANS__TICK_MS`): holds end and guards trip within about this.
    pub tick_ms: u64,
}

impl Default for PlanSettings {
    fn default() -> Self {
        PlanSettings { tick_ms: 1000 }
    }
}

/// `[guards]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct GuardSettings {
    /// The Prometheus that guards query (`SWITCHYARD_GUARDS__PROMETHEUS_URL`), e.g.
    /// `http://prometheus:9090`; unset: plans with Prometheus guards are refused.
    pub prometheus_url: Option<String>,
    /// How long one query may take before the guard reads `unknown`.
    pub query_timeout_ms: u64,
    /// The `standard` template's error guard: the ratio of 5xx answers (`{flag}` is replaced
    /// by the flag's key).
    pub error_ratio_query: String,
    /// The `standard` template's latency guard: p95 latency in seconds.
    pub latency_p95_query: String,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            prometheus_url: None,
            query_timeout_ms: 2000,
            error_ratio_query: "sum(rate(http_requests_total{status=~\"5..\"}[5m])) / \
                                sum(rate(http_requests_total[5m]))"
                .into(),
            latency_p95_query: "histogram_quantile(0.95, sum by (le) \
                                (rate(http_request_duration_seconds_bucket[5m])))"
                .into(),
        }
    }
}

/// `[notify]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NotifySettings {
    /// URLs that get a `POST` for every plan transition and kill switch change
    /// (`SWITCHYARD_NOTIFY__WEBHOOKS`, comma-separated; a Slack incoming webhook works).
    #[serde(deserialize_with = "items")]
    pub webhooks: Vec<String>,
}

/// `[log]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `switchyard_server=debug`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

/// Bad settings: which key, and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

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

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError(format!("{key}: {why}")));
        if let Err(e) = self.server.listen.parse::<SocketAddr>() {
            return bad(
                "SWITCHYARD_SERVER__LISTEN",
                format!("{:?} is not an address:port ({e})", self.server.listen),
            );
        }
        if self.server.workers > 1024 {
            return bad(
                "SWITCHYARD_SERVER__WORKERS",
                "must be 0 (one per core) to 1024".into(),
            );
        }
        if self.server.writes_per_minute == 0 {
            return bad(
                "SWITCHYARD_SERVER__WRITES_PER_MINUTE",
                "must be at least 1".into(),
            );
        }
        if self.server.reconcile_interval_secs == 0 {
            return bad(
                "SWITCHYARD_SERVER__RECONCILE_INTERVAL_SECS",
                "must be at least 1".into(),
            );
        }
        if self.server.stream_heartbeat_secs == 0 {
            return bad(
                "SWITCHYARD_SERVER__STREAM_HEARTBEAT_SECS",
                "must be at least 1".into(),
            );
        }
        if self.server.body_limit_bytes < 1024 {
            return bad(
                "SWITCHYARD_SERVER__BODY_LIMIT_BYTES",
                "must be at least 1024".into(),
            );
        }
        if !(1..=3600).contains(&self.server.body_timeout_secs) {
            return bad(
                "SWITCHYARD_SERVER__BODY_TIMEOUT_SECS",
                "must be 1 to 3600".into(),
            );
        }
        if self.retention.history_versions < 2 {
            return bad(
                "SWITCHYARD_RETENTION__HISTORY_VERSIONS",
                "must be at least 2 (a rollback needs a version before the current one)".into(),
            );
        }
        if self.retention.audit_days == 0 {
            return bad(
                "SWITCHYARD_RETENTION__AUDIT_DAYS",
                "must be at least 1".into(),
            );
        }
        if self.limits.streams_per_token == 0 {
            return bad(
                "SWITCHYARD_LIMITS__STREAMS_PER_TOKEN",
                "must be at least 1".into(),
            );
        }
        for origin in &self.server.cors_origins {
            let scheme = origin.starts_with("https://") || origin.starts_with("http://");
            if !scheme || origin.contains(char::is_whitespace) || origin.matches('/').count() != 2 {
                return bad(
                    "SWITCHYARD_SERVER__CORS_ORIGINS",
                    format!(
                        "{origin:?} is not an origin: give scheme://host[:port], e.g. \
                         https://app.example.com, separated by commas"
                    ),
                );
            }
        }
        if !(50..=3_600_000).contains(&self.plans.tick_ms) {
            return bad(
                "SWITCHYARD_PLANS__TICK_MS",
                "must be 50 to 3600000 (an hour)".into(),
            );
        }
        if !(50..=60_000).contains(&self.guards.query_timeout_ms) {
            return bad(
                "SWITCHYARD_GUARDS__QUERY_TIMEOUT_MS",
                "must be 50 to 60000".into(),
            );
        }
        let http_url = |u: &str| {
            (u.starts_with("http://") || u.starts_with("https://"))
                && !u.contains(char::is_whitespace)
        };
        if let Some(url) = &self.guards.prometheus_url
            && !http_url(url)
        {
            return bad(
                "SWITCHYARD_GUARDS__PROMETHEUS_URL",
                format!("{url:?} must be an http:// or https:// URL"),
            );
        }
        if self.notify.webhooks.len() > 20 {
            return bad("SWITCHYARD_NOTIFY__WEBHOOKS", "at most 20 URLs".into());
        }
        for url in &self.notify.webhooks {
            if !http_url(url) {
                return bad(
                    "SWITCHYARD_NOTIFY__WEBHOOKS",
                    "every webhook must be an http:// or https:// URL (the values are not shown: \
                     they may hold secrets)"
                        .into(),
                );
            }
        }
        if let Some(id) = &self.server.instance_id
            && !switchyard_core::client_id::is_fleet_id(id)
        {
            return bad(
                "SWITCHYARD_SERVER__INSTANCE_ID",
                format!(
                    "{id:?}: use 1 to {} letters, digits, '.', '_', '-' or ':'",
                    switchyard_core::client_id::MAX_FLEET_ID
                ),
            );
        }
        self.store.check_redis()?;
        let prefix = &self.store.redis_prefix;
        if prefix.is_empty()
            || prefix.len() > 64
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return bad(
                "SWITCHYARD_STORE__REDIS_PREFIX",
                format!("{prefix:?}: use 1 to 64 letters, digits, '_', '-' or '.'"),
            );
        }
        for (key, token) in [
            ("SWITCHYARD_ADMIN_TOKEN", &self.admin_token),
            ("SWITCHYARD_SDK_TOKEN", &self.sdk_token),
        ] {
            if let Some(token) = token
                && (token.len() < MIN_TOKEN_LEN || token.chars().any(char::is_whitespace))
            {
                return bad(
                    key,
                    format!(
                        "must be at least {MIN_TOKEN_LEN} characters with no spaces (the \
                         value is not shown)"
                    ),
                );
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return bad(
                "SWITCHYARD_LOG__FORMAT",
                format!("{:?} is neither \"text\" nor \"json\"", self.log.format),
            );
        }
        Ok(())
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
