//! The sections of the settings (`[server]`, `[store]`, …), each with its defaults.

use std::path::PathBuf;

use serde::Deserialize;
use switchyard_core::Limits;

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

/// `[limits]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Most users in one whitelist (10,000 unless raised: docs/flags.md#limits-and-safety-rules).
    pub max_whitelist: usize,
    /// Most markets on one flag.
    pub max_markets: usize,
    /// Most `/v1/stream` connections one token may hold open (docs/flags.md#limits-and-safety-rules); 429 above.
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
