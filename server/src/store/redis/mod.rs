//! The Redis store, shared by any number of instances. Every key lives under one prefix, so
//! two deployments can share a Redis. A commit is one Lua script — every version check, then
//! every write, the audit entries, the revision bump and a PUBLISH — so two instances writing
//! at once never lose an update. Pub/sub notifies every instance; a reconnecting subscriber
//! task re-subscribes after an outage. Redis types never leave this file.
//!
//! Keys: `{p}:flags` (hash key → flag), `{p}:history:{key}` (hash version → flag),
//! `{p}:audit` (stream, id `N-0`), `{p}:audit:seq`, `{p}:audit:flag:{key}` and
//! `{p}:audit:actor:{name}` (sorted sets of entry ids: the audit indexes),
//! `{p}:audit:indexed` (set once the indexes cover the whole stream), `{p}:tokens` (hash id → record),
//! `{p}:kill_switch`, `{p}:revision`, `{p}:version_floor`; channel `{p}:changes` carries each new revision.
//! The fleet's heartbeats: see [`fleet`]; impact sums: see [`impact`].
//! Scripts build key names from the prefix; on a Redis Cluster the prefix is a hash tag
//! (`{p}`), so every key lives in one slot and each script runs whole on one node. How the
//! store reaches Redis (one server, Sentinel, Cluster, TLS): see [`link`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::{AsyncCommands, RedisError, Script};
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_core::{Flag, KillSwitch, Segment};
use tokio::sync::watch;

use chrono::{DateTime, Utc};

mod audit;
mod fleet;
mod impact;
mod link;
mod scripts;
mod subscriber;

pub use self::link::{TlsFiles, Topology};

use self::audit::AUDIT_BATCH;
use self::fleet::FleetScripts;
use self::link::{Conn, Link};
use self::scripts::{COMMIT_LUA, RAISE_LUA, script_args};
use self::subscriber::subscribe;
use super::versions;
use super::{
    Ack, AuditEntry, AuditQuery, BeatReply, Commit, Fleet, FleetStore, Heartbeat, HistoryLimit,
    ImpactDelta, ImpactStore, ImpactSums, Loaded, Partial, Store, StoreError, TokenRecord, Told,
};

/// How often a write refused at connection time is tried again (50 ms apart).
const WRITE_RETRIES: u32 = 3;

/// How the store reaches Redis, and what a commit waits for before it is acknowledged.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// One server, Sentinel, or Cluster.
    pub topology: Topology,
    /// CA and client certificate files for `rediss://`.
    pub tls: TlsFiles,
    /// Replicas that must confirm a commit (`WAIT`) before it is acknowledged; 0 takes the
    /// primary's word. Below that within `wait_timeout`, the commit fails as not durable.
    pub min_replicas_acked: u32,
    /// How long a commit waits for those replicas.
    pub wait_timeout: Duration,
}

impl RedisOptions {
    /// One server at `url`, acknowledging on the primary's word.
    pub fn single(url: &str) -> Self {
        RedisOptions {
            topology: Topology::Single(url.to_owned()),
            tls: TlsFiles::default(),
            min_replicas_acked: 0,
            wait_timeout: Duration::from_millis(500),
        }
    }
}

/// The Redis-backed store. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    link: Link,
    prefix: String,
    commit_script: Script,
    raise_script: Script,
    fleet: FleetScripts,
    history_limit: HistoryLimit,
    min_replicas_acked: u32,
    wait_timeout: Duration,
    changes: watch::Receiver<u64>,
    /// The latest change announcements, newest last: what another instance's commit changed.
    told: Arc<std::sync::Mutex<std::collections::VecDeque<(u64, Told)>>>,
}

fn unavailable(e: RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

fn decode<T: DeserializeOwned>(raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("model types serialise")
}

impl RedisStore {
    /// A store on `url` (`redis://` or `rediss://`, with password and db) under `prefix`.
    /// Connects lazily: Redis may be down now; commands fail until it is up.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, prefix, None).await
    }

    /// Like [`RedisStore::connect`], keeping at most `history_limit` versions of each flag's
    /// history.
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        history_limit: HistoryLimit,
    ) -> Result<Self, StoreError> {
        Self::open(&RedisOptions::single(url), prefix, history_limit).await
    }

    /// A store reached as `options` say, under `prefix`. On a Redis Cluster the prefix
    /// becomes a hash tag (`{prefix}`), so every key of the deployment shares one hash slot
    /// and each script runs on one node. Never waits for Redis.
    pub async fn open(
        options: &RedisOptions,
        prefix: &str,
        history_limit: HistoryLimit,
    ) -> Result<Self, StoreError> {
        let link = Link::open(&options.topology, &options.tls)?;
        let prefix = if link.is_cluster() && !prefix.contains('{') {
            format!("{{{prefix}}}")
        } else {
            prefix.to_owned()
        };
        let (notify, changes) = watch::channel(0);
        let told = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        tokio::spawn(subscribe(
            link.clone(),
            format!("{prefix}:changes"),
            notify,
            told.clone(),
        ));
        Ok(RedisStore {
            link,
            prefix,
            commit_script: Script::new(COMMIT_LUA),
            raise_script: Script::new(RAISE_LUA),
            fleet: FleetScripts::default(),
            history_limit,
            min_replicas_acked: options.min_replicas_acked,
            wait_timeout: options.wait_timeout,
            changes,
            told,
        })
    }

    /// The connection for commands.
    fn conn(&self) -> Result<Conn, StoreError> {
        self.link.commands()
    }

    /// Runs a write script on the commits connection and returns its reply with the
    /// connection (for [`RedisStore::confirm`]). A refused connection means the script was
    /// never sent (the connection is being re-made after an outage), so it is tried again a
    /// few times: the first write after Redis returns does not fail for a connection only
    /// writes use.
    async fn write<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<(T, Conn), StoreError> {
        let mut conn = self.link.commits()?;
        let mut refused = 0;
        loop {
            match invocation.invoke_async(&mut conn).await {
                Ok(reply) => return Ok((reply, conn)),
                Err(e) if e.is_connection_refusal() && refused < WRITE_RETRIES => {
                    refused += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
    }

    /// After a commit on `conn`: waits until the configured number of replicas confirm every
    /// write made on it (`WAIT`), or says the write may not be durable.
    async fn confirm(&self, conn: &mut Conn) -> Result<(), StoreError> {
        let wanted = self.min_replicas_acked;
        if wanted == 0 {
            return Ok(());
        }
        let timeout_ms = u64::try_from(self.wait_timeout.as_millis()).unwrap_or(u64::MAX);
        let acked: u64 = redis::cmd("WAIT")
            .arg(wanted)
            .arg(timeout_ms)
            .query_async(conn)
            .await
            .map_err(|e| StoreError::NotDurable(format!("WAIT failed ({e})")))?;
        if acked < u64::from(wanted) {
            return Err(StoreError::NotDurable(format!(
                "{acked} of the {wanted} replicas required confirmed it within {timeout_ms} ms"
            )));
        }
        Ok(())
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.prefix)
    }

    /// The field `key` of the hash `hash` (`flags` or `segments`), decoded.
    async fn one<T: serde::de::DeserializeOwned>(
        &self,
        hash: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let mut conn = self.conn()?;
        let raw: Option<String> = conn.hget(self.key(hash), key).await.map_err(unavailable)?;
        raw.map(|r| decode(&r)).transpose()
    }
}

fn parse_version(text: &str) -> Option<u64> {
    text.parse().ok()
}

#[async_trait]
impl Store for RedisStore {
    async fn load(&self) -> Result<Loaded, StoreError> {
        let mut conn = self.conn()?;
        type Read = (Option<u64>, Option<String>, Vec<String>, Vec<String>);
        let (revision, switch, flags, segments): Read = redis::pipe()
            .atomic()
            .get(self.key("revision"))
            .get(self.key("kill_switch"))
            .hvals(self.key("flags"))
            .hvals(self.key("segments"))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        // Decoding thousands of flags takes milliseconds: not on a thread that answers requests.
        tokio::task::spawn_blocking(move || {
            Ok(Loaded {
                revision: revision.unwrap_or(0),
                global_kill_switch: match switch {
                    Some(raw) => decode(&raw)?,
                    None => KillSwitch::default(),
                },
                flags: flags
                    .iter()
                    .map(|raw| decode(raw))
                    .collect::<Result<_, _>>()?,
                segments: segments
                    .iter()
                    .map(|raw| decode(raw))
                    .collect::<Result<_, _>>()?,
            })
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("decoding the flags: {e}")))?
    }

    async fn revision(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let revision: Option<u64> = conn.get(self.key("revision")).await.map_err(unavailable)?;
        Ok(revision.unwrap_or(0))
    }

    async fn flag(&self, key: &str) -> Result<Option<Flag>, StoreError> {
        self.one("flags", key).await
    }

    async fn segment(&self, key: &str) -> Result<Option<Segment>, StoreError> {
        self.one("segments", key).await
    }

    async fn commit(&self, commit: Commit) -> Result<u64, StoreError> {
        let mut invocation = self.commit_script.prepare_invoke();
        // The key routes the script to the deployment's node on a Redis Cluster.
        invocation
            .key(self.key("revision"))
            .arg(&self.prefix)
            .arg(commit.writes.len())
            .arg(commit.audit.len())
            .arg(self.history_limit.map_or(0, std::num::NonZeroUsize::get));
        for change in &commit.writes {
            for arg in script_args(change) {
                invocation.arg(arg);
            }
        }
        for entry in &commit.audit {
            invocation
                .arg(encode(entry))
                .arg(entry.flag.as_deref().unwrap_or(""))
                .arg(&entry.actor);
        }
        let (reply, mut conn): (Vec<String>, _) = self.write(&invocation).await?;
        match reply
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["ok", revision] => {
                let revision = parse_version(revision)
                    .ok_or_else(|| StoreError::Corrupt(format!("bad revision {revision:?}")))?;
                self.confirm(&mut conn).await?;
                Ok(revision)
            }
            ["conflict", key, expected, current] => Err(StoreError::Conflict {
                key: (*key).to_owned(),
                expected: parse_version(expected),
                current: parse_version(current),
            }),
            ["token", message] => Err(StoreError::Token((*message).to_owned())),
            other => Err(StoreError::Corrupt(format!(
                "unexpected script reply {other:?}"
            ))),
        }
    }

    async fn history(&self, key: &str) -> Result<Vec<Flag>, StoreError> {
        let mut conn = self.conn()?;
        let history = self.key(&format!("history:{key}"));
        let raw: Vec<String> = conn.hvals(&history).await.map_err(unavailable)?;
        let mut ids = Vec::new();
        for record in &raw {
            ids.extend(versions::shared_whitelist(record.as_bytes())?);
        }
        ids.sort();
        ids.dedup();
        let shared: Vec<Option<String>> = if ids.is_empty() {
            Vec::new()
        } else {
            redis::cmd("HMGET")
                .arg(format!("{history}:wl"))
                .arg(&ids)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?
        };
        let lookup = |id: &str| {
            let at = ids.binary_search_by(|i| i.as_str().cmp(id)).ok();
            Ok(at.and_then(|at| shared[at].clone()).map(String::into_bytes))
        };
        let mut found: Vec<Flag> = raw
            .iter()
            .map(|r| versions::load(r.as_bytes(), lookup))
            .collect::<Result<_, _>>()?;
        found.sort_by_key(|f| f.version);
        Ok(found)
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        if query.before == Some(0) {
            return Ok(Vec::new());
        }
        let index = match (&query.flag, &query.actor) {
            (Some(flag), _) => Some(self.key(&format!("audit:flag:{flag}"))),
            (None, Some(actor)) => Some(self.key(&format!("audit:actor:{actor}"))),
            (None, None) => None,
        };
        match index {
            Some(index) if self.audit_indexed().await? => self.audit_by(&index, query).await,
            _ => self.audit_scan(query).await,
        }
    }

    async fn prune_audit(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        let mut pruned = 0;
        loop {
            // Ids grow with time: the old entries are the first ones.
            let batch = self.audit_range("-", "+", AUDIT_BATCH).await?;
            let old: Vec<&(u64, AuditEntry)> =
                batch.iter().take_while(|(_, e)| e.at < cutoff).collect();
            if old.is_empty() {
                return Ok(pruned);
            }
            let mut pipe = redis::pipe();
            for (id, entry) in &old {
                pipe.xdel(self.key("audit"), &[format!("{id}-0")]).ignore();
                if let Some(flag) = &entry.flag {
                    pipe.zrem(self.key(&format!("audit:flag:{flag}")), id)
                        .ignore();
                }
                pipe.zrem(self.key(&format!("audit:actor:{}", entry.actor)), id)
                    .ignore();
            }
            let () = pipe.query_async(&mut conn).await.map_err(unavailable)?;
            pruned += old.len();
            if old.len() < batch.len() {
                return Ok(pruned);
            }
        }
    }

    async fn raise(&self, revision: u64, flag_version: u64) -> Result<u64, StoreError> {
        let mut invocation = self.raise_script.prepare_invoke();
        invocation
            .key(self.key("revision"))
            .arg(&self.prefix)
            .arg(revision)
            .arg(flag_version);
        // No WAIT: the instances must serve the store's data as soon as the revision is past
        // what they served (docs/flags.md#limits-and-safety-rules), even while the replicas resync after a failover; a raise
        // lost in a later failover is noticed and made again the same way.
        let (raised, _): (String, _) = self.write(&invocation).await?;
        parse_version(&raised)
            .ok_or_else(|| StoreError::Corrupt(format!("bad revision {raised:?}")))
    }

    async fn version_floor(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let floor: Option<u64> = conn
            .get(self.key("version_floor"))
            .await
            .map_err(unavailable)?;
        Ok(floor.unwrap_or(0))
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut conn = self.conn()?;
        let raw: Vec<String> = conn.hvals(self.key("tokens")).await.map_err(unavailable)?;
        raw.iter().map(|r| decode(r)).collect()
    }

    fn signal(&self) -> Option<watch::Receiver<u64>> {
        Some(self.changes.clone())
    }

    fn told(&self, revision: u64) -> Option<Told> {
        let told = self.told.lock().unwrap_or_else(|p| p.into_inner());
        told.iter()
            .rev()
            .find(|(r, _)| *r == revision)
            .map(|(_, t)| t.clone())
    }

    async fn load_some(&self, keys: &[String]) -> Result<Partial, StoreError> {
        let mut conn = self.conn()?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .get(self.key("revision"))
            .get(self.key("kill_switch"));
        if !keys.is_empty() {
            pipe.cmd("HMGET").arg(self.key("flags")).arg(keys);
        }
        let (revision, switch, flags): (Option<u64>, Option<String>, Vec<Option<String>>) =
            if keys.is_empty() {
                let (revision, switch): (Option<u64>, Option<String>) =
                    pipe.query_async(&mut conn).await.map_err(unavailable)?;
                (revision, switch, Vec::new())
            } else {
                pipe.query_async(&mut conn).await.map_err(unavailable)?
            };
        Ok(Partial {
            revision: revision.unwrap_or(0),
            global_kill_switch: match switch {
                Some(raw) => decode(&raw)?,
                None => KillSwitch::default(),
            },
            flags: keys
                .iter()
                .cloned()
                .zip(flags)
                .map(|(key, raw)| Ok((key, raw.as_deref().map(decode).transpose()?)))
                .collect::<Result<_, StoreError>>()?,
        })
    }
}

#[async_trait]
impl FleetStore for RedisStore {
    async fn beat(
        &self,
        beat: &Heartbeat,
        forward: &[Ack],
        forget_after: Duration,
    ) -> Result<BeatReply, StoreError> {
        let mut conn = self.conn()?;
        self.fleet
            .beat(&mut conn, &self.prefix, beat, forward, forget_after)
            .await
    }

    async fn fleet(&self, forget_after: Duration) -> Result<Fleet, StoreError> {
        let mut conn = self.conn()?;
        self.fleet.read(&mut conn, &self.prefix, forget_after).await
    }

    async fn leave(&self, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        redis::pipe()
            .atomic()
            .zrem(self.key("fleet"), id)
            .del(self.key(&format!("fleet:beat:{id}")))
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl ImpactStore for RedisStore {
    async fn add_impact(&self, deltas: &[ImpactDelta]) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        impact::add(&mut conn, &self.prefix, deltas).await
    }

    async fn impact(&self, flag: &str, stage: &str) -> Result<ImpactSums, StoreError> {
        let mut conn = self.conn()?;
        impact::read(&mut conn, &self.prefix, flag, stage).await
    }
}
