//! Every setting checked at start: the first bad one stops it with one line naming its
//! environment variable, made from the section and field (`server.workers` →
//! `SWITCHYARD_SERVER__WORKERS`), so no name is written twice.

use std::net::SocketAddr;
use std::ops::RangeInclusive;

use super::{ConfigError, MIN_TOKEN_LEN, Settings, StoreSettings};

/// The environment variable of `section.field` (`""` as the section: a top-level one).
pub(crate) fn var(section: &str, field: &str) -> String {
    if section.is_empty() {
        format!("SWITCHYARD_{}", field.to_uppercase())
    } else {
        format!(
            "SWITCHYARD_{}__{}",
            section.to_uppercase(),
            field.to_uppercase()
        )
    }
}

/// The error for `section.field`.
pub(crate) fn bad(section: &str, field: &str, why: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("{}: {why}", var(section, field)))
}

/// A number setting: (section, field), its value, what it may be, and what to say if not.
type Range<'a> = ((&'a str, &'a str), u64, RangeInclusive<u64>, &'a str);

fn http_url(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://")) && !u.contains(char::is_whitespace)
}

impl Settings {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let (server, any) = (&self.server, u64::MAX);
        if let Err(e) = server.listen.parse::<SocketAddr>() {
            let why = format!("{:?} is not an address:port ({e})", server.listen);
            return Err(bad("server", "listen", why));
        }
        let at_least_1 = "must be at least 1";
        let ranges: [Range; 12] = [
            (
                ("server", "workers"),
                server.workers as u64,
                0..=1024,
                "must be 0 (one per core) to 1024",
            ),
            (
                ("server", "writes_per_minute"),
                server.writes_per_minute.into(),
                1..=any,
                at_least_1,
            ),
            (
                ("server", "reconcile_interval_secs"),
                server.reconcile_interval_secs,
                1..=any,
                at_least_1,
            ),
            (
                ("server", "stream_heartbeat_secs"),
                server.stream_heartbeat_secs,
                1..=any,
                at_least_1,
            ),
            (
                ("server", "body_limit_bytes"),
                server.body_limit_bytes as u64,
                1024..=any,
                "must be at least 1024",
            ),
            (
                ("server", "body_timeout_secs"),
                server.body_timeout_secs,
                1..=3600,
                "must be 1 to 3600",
            ),
            (
                ("retention", "history_versions"),
                self.retention.history_versions as u64,
                2..=any,
                "must be at least 2 (a rollback needs a version before the current one)",
            ),
            (
                ("retention", "audit_days"),
                self.retention.audit_days.into(),
                1..=any,
                at_least_1,
            ),
            (
                ("limits", "streams_per_token"),
                self.limits.streams_per_token as u64,
                1..=any,
                at_least_1,
            ),
            (
                ("plans", "tick_ms"),
                self.plans.tick_ms,
                50..=3_600_000,
                "must be 50 to 3600000 (an hour)",
            ),
            (
                ("guards", "query_timeout_ms"),
                self.guards.query_timeout_ms,
                50..=60_000,
                "must be 50 to 60000",
            ),
            (
                ("notify", "webhooks"),
                self.notify.webhooks.len() as u64,
                0..=20,
                "at most 20 URLs",
            ),
        ];
        for ((section, field), value, range, why) in ranges {
            if !range.contains(&value) {
                return Err(bad(section, field, why));
            }
        }
        for origin in &server.cors_origins {
            let scheme = origin.starts_with("https://") || origin.starts_with("http://");
            if !scheme || origin.contains(char::is_whitespace) || origin.matches('/').count() != 2 {
                let why = format!(
                    "{origin:?} is not an origin: give scheme://host[:port], e.g. \
                     https://app.example.com, separated by commas"
                );
                return Err(bad("server", "cors_origins", why));
            }
        }
        if let Some(url) = &self.guards.prometheus_url
            && !http_url(url)
        {
            let why = format!("{url:?} must be an http:// or https:// URL");
            return Err(bad("guards", "prometheus_url", why));
        }
        if !self.notify.webhooks.iter().all(|u| http_url(u)) {
            let why = "every webhook must be an http:// or https:// URL (the values are not \
                       shown: they may hold secrets)";
            return Err(bad("notify", "webhooks", why));
        }
        if let Some(id) = &server.instance_id
            && !switchyard_core::client_id::is_fleet_id(id)
        {
            let why = format!(
                "{id:?}: use 1 to {} letters, digits, '.', '_', '-' or ':'",
                switchyard_core::client_id::MAX_FLEET_ID
            );
            return Err(bad("server", "instance_id", why));
        }
        self.store.check_redis()?;
        let prefix = &self.store.redis_prefix;
        let prefix_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if prefix.is_empty() || prefix.len() > 64 || !prefix.chars().all(prefix_chars) {
            let why = format!("{prefix:?}: use 1 to 64 letters, digits, '_', '-' or '.'");
            return Err(bad("store", "redis_prefix", why));
        }
        for (field, token) in [
            ("admin_token", &self.admin_token),
            ("sdk_token", &self.sdk_token),
        ] {
            if let Some(token) = token
                && (token.len() < MIN_TOKEN_LEN || token.chars().any(char::is_whitespace))
            {
                let why = format!(
                    "must be at least {MIN_TOKEN_LEN} characters with no spaces (the value is \
                     not shown)"
                );
                return Err(bad("", field, why));
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            let why = format!("{:?} is neither \"text\" nor \"json\"", self.log.format);
            return Err(bad("log", "format", why));
        }
        Ok(())
    }
}

impl StoreSettings {
    pub(super) fn check_redis(&self) -> Result<(), ConfigError> {
        let refuse = |field: &str, why: &str| Err(bad("store", field, why));
        let redis_url = |url: &str| url.starts_with("redis://") || url.starts_with("rediss://");
        if let Some(url) = &self.redis_url
            && !redis_url(url)
        {
            return refuse(
                "redis_url",
                "must start with redis:// or rediss:// (the value is not shown: it may hold a \
                 password)",
            );
        }
        if !self.redis_cluster_nodes.iter().all(|u| redis_url(u)) {
            return refuse(
                "redis_cluster_nodes",
                "every node must be a redis:// or rediss:// URL (the values are not shown: they \
                 may hold a password)",
            );
        }
        if !self.redis_cluster_nodes.is_empty()
            && (self.redis_url.is_some() || !self.redis_sentinels.is_empty())
        {
            return refuse(
                "redis_cluster_nodes",
                "a Cluster is reached through its nodes alone: unset REDIS_URL and \
                 REDIS_SENTINELS",
            );
        }
        if self.redis_sentinels.is_empty() != self.redis_master.is_none() {
            return refuse(
                "redis_master",
                "Sentinel needs both REDIS_SENTINELS and REDIS_MASTER (the name the sentinels \
                 monitor)",
            );
        }
        if self.redis_sentinels.len() > 16 || self.redis_cluster_nodes.len() > 64 {
            return refuse(
                "redis_sentinels",
                "at most 16 sentinels and 64 cluster nodes",
            );
        }
        if self.redis_min_replicas_acked > 16 {
            return refuse("redis_min_replicas_acked", "must be 0 to 16");
        }
        if !(1..=60_000).contains(&self.redis_wait_timeout_ms) {
            return refuse("redis_wait_timeout_ms", "must be 1 to 60000");
        }
        if self.redis_client_cert.is_some() != self.redis_client_key.is_some() {
            return refuse(
                "redis_client_cert",
                "a client certificate needs REDIS_CLIENT_CERT and REDIS_CLIENT_KEY together",
            );
        }
        for (key, file) in [
            ("redis_ca_file", &self.redis_ca_file),
            ("redis_client_cert", &self.redis_client_cert),
            ("redis_client_key", &self.redis_client_key),
        ] {
            if let Some(path) = file
                && !path.is_file()
            {
                return Err(bad(
                    "store",
                    key,
                    format!("{} is not a readable file", path.display()),
                ));
            }
        }
        Ok(())
    }
}
