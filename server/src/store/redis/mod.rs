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
use futures_util::StreamExt;
use redis::{AsyncCommands, RedisError, Script};
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_core::{Flag, KillSwitch};
use tokio::sync::watch;

use chrono::{DateTime, Utc};

mod fleet;
mod impact;
mod link;
mod scripts;

pub use self::link::{TlsFiles, Topology};

use self::fleet::FleetScripts;
use self::link::{CONNECT_TIMEOUT, Conn, Link, RESPONSE_TIMEOUT};
use self::scripts::{COMMIT_LUA, RAISE_LUA};
use super::versions;
use super::{
    Ack, AuditEntry, AuditQuery, BeatReply, Change, Commit, Fleet, Heartbeat, HistoryLimit,
    ImpactDelta, ImpactSums, Loaded, Partial, Store, StoreError, TokenRecord, Told,
};

/// How often a write refused at connection time is tried again (50 ms apart).
const WRITE_RETRIES: u32 = 3;
/// How many audit entries one XREVRANGE reads while filtering.
const AUDIT_BATCH: usize = 500;

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

/// How many announcements are remembered: enough for any burst a reconcile could be behind.
const TOLD_KEPT: usize = 64;

/// Reads `"REV K KEY,KEY..."` (K: 1 when the kill switch changed); a bare `"REV"` (tokens
/// changed, or many keys) tells nothing.
fn parse_told(message: &str) -> Option<(u64, Told)> {
    let mut parts = message.splitn(3, ' ');
    let revision = parts.next()?.parse().ok()?;
    let kill_switch = match parts.next()? {
        "1" => true,
        "0" => false,
        _ => return None,
    };
    let keys = parts
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    Some((revision, Told { keys, kill_switch }))
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

    /// Whether the audit indexes cover the whole stream; builds them first when they do not
    /// (a stream written before they existed, once per deployment).
    async fn audit_indexed(&self) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let marker = self.key("audit:indexed");
        if conn.exists(&marker).await.map_err(unavailable)? {
            return Ok(true);
        }
        let mut start = "-".to_owned();
        loop {
            let batch = self.audit_range(&start, "+", AUDIT_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            let mut pipe = redis::pipe();
            for (id, entry) in &batch {
                if let Some(flag) = &entry.flag {
                    pipe.zadd(self.key(&format!("audit:flag:{flag}")), id, id);
                }
                pipe.zadd(self.key(&format!("audit:actor:{}", entry.actor)), id, id);
            }
            let () = pipe.query_async(&mut conn).await.map_err(unavailable)?;
            match batch.last() {
                Some((last, _)) if batch.len() == AUDIT_BATCH => start = format!("({last}-0"),
                _ => break,
            }
        }
        let () = conn.set(&marker, 1).await.map_err(unavailable)?;
        Ok(true)
    }

    /// Up to `count` audit entries from `start` to `end` (stream ids), oldest first.
    async fn audit_range(
        &self,
        start: &str,
        end: &str,
        count: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        let mut conn = self.conn()?;
        let rows: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
            .arg(self.key("audit"))
            .arg(start)
            .arg(end)
            .arg("COUNT")
            .arg(count)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        rows.into_iter().map(audit_row).collect()
    }

    /// A flag's or an actor's entries, newest first, through its index: reads only what it
    /// returns (and what the other filters drop).
    async fn audit_by(
        &self,
        index: &str,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut conn = self.conn()?;
        let mut found = Vec::new();
        let mut max = match query.before {
            Some(before) => format!("({before}"),
            None => "+inf".to_owned(),
        };
        // When the index is the only filter, every entry read is returned: read the page.
        let only_index = query.since.is_none()
            && query.until.is_none()
            && (query.flag.is_none() || query.actor.is_none());
        let batch = if only_index {
            query.limit.clamp(1, AUDIT_BATCH)
        } else {
            AUDIT_BATCH
        };
        loop {
            let ids: Vec<u64> = redis::cmd("ZREVRANGEBYSCORE")
                .arg(index)
                .arg(&max)
                .arg("-inf")
                .arg("LIMIT")
                .arg(0)
                .arg(batch)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if ids.is_empty() {
                return Ok(found);
            }
            let mut pipe = redis::pipe();
            for id in &ids {
                let at = format!("{id}-0");
                pipe.cmd("XRANGE").arg(self.key("audit")).arg(&at).arg(&at);
            }
            let rows: Vec<Vec<(String, Vec<String>)>> =
                pipe.query_async(&mut conn).await.map_err(unavailable)?;
            for row in rows.into_iter().flatten() {
                let (_, entry) = audit_row(row)?;
                if query.matches(&entry) {
                    found.push(entry);
                    if found.len() >= query.limit {
                        return Ok(found);
                    }
                }
            }
            match ids.last() {
                Some(last) if ids.len() == batch => max = format!("({last}"),
                _ => return Ok(found),
            }
        }
    }

    /// Every entry, newest first, filtered as it is read (no flag or actor to index by).
    async fn audit_scan(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut conn = self.conn()?;
        let mut found = Vec::new();
        let mut end = match query.before {
            Some(before) => format!("({before}-0"),
            None => "+".to_owned(),
        };
        // Unfiltered, every entry read is returned: read no more than the page.
        let unfiltered = query.since.is_none() && query.until.is_none();
        let batch = if unfiltered {
            query.limit.clamp(1, AUDIT_BATCH)
        } else {
            AUDIT_BATCH
        };
        loop {
            let rows: Vec<(String, Vec<String>)> = redis::cmd("XREVRANGE")
                .arg(self.key("audit"))
                .arg(&end)
                .arg("-")
                .arg("COUNT")
                .arg(batch)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            let exhausted = rows.len() < batch;
            let mut last_id = 0;
            for row in rows {
                let (id, entry) = audit_row(row)?;
                last_id = id;
                if query.matches(&entry) {
                    found.push(entry);
                    if found.len() >= query.limit {
                        return Ok(found);
                    }
                }
            }
            if exhausted || last_id <= 1 {
                return Ok(found);
            }
            end = format!("({last_id}-0");
        }
    }
}

/// One row of the audit stream as its id and entry.
fn audit_row((stream_id, fields): (String, Vec<String>)) -> Result<(u64, AuditEntry), StoreError> {
    let id: u64 = stream_id
        .split('-')
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("audit id {stream_id:?}")))?;
    let Some(raw) = fields.get(1) else {
        return Err(StoreError::Corrupt(format!("audit entry {id} is empty")));
    };
    let mut entry: AuditEntry = decode(raw)?;
    entry.id = id;
    Ok((id, entry))
}

/// How often the subscriber checks its connection. The pub/sub connection reads only when it
/// has a request in flight, so a Redis that died (and maybe came back) goes unnoticed without
/// one: a PING every `LIVENESS` finds it within that time.
const LIVENESS: Duration = Duration::from_millis(250);
/// The longest pause between two attempts to subscribe again: a Redis that returns is
/// followed within about this long (SPEC §6: a write made then reaches every instance).
const RESUBSCRIBE_MAX: Duration = Duration::from_millis(250);

/// Follows the change channel forever, re-subscribing after any failure with a growing
/// backoff; bumps `notify` on every message and after every (re)subscription, so the
/// instance resyncs whatever it missed. Ends when the store is dropped.
async fn subscribe(
    link: Link,
    channel: String,
    notify: watch::Sender<u64>,
    told: Arc<std::sync::Mutex<std::collections::VecDeque<(u64, Told)>>>,
) {
    let mut backoff = Duration::from_millis(20);
    let mut attempt = 0usize;
    let bump = |notify: &watch::Sender<u64>| notify.send_modify(|n| *n = n.wrapping_add(1));
    loop {
        if notify.is_closed() {
            return;
        }
        // The primary now (Sentinel: the one it names), or the cluster's nodes in turn: a
        // PUBLISH on one cluster node reaches the subscribers of every node.
        let targets = link.subscribe_targets();
        attempt = attempt.wrapping_add(1);
        let connected = match targets.get(attempt % targets.len().max(1)) {
            Some(client) => tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        };
        if let Some(pubsub) = connected {
            let (mut sink, mut messages) = pubsub.split();
            if sink.subscribe(&channel).await.is_ok() {
                tracing::info!(%channel, "subscribed to changes");
                // Messages may have been missed, and the Redis behind may be another (a
                // restart, a failover) whose revisions repeat old ones: forget what was told.
                told.lock().unwrap_or_else(|p| p.into_inner()).clear();
                backoff = Duration::from_millis(20);
                bump(&notify);
                let mut liveness = tokio::time::interval(LIVENESS);
                loop {
                    tokio::select! {
                        message = messages.next() => match message {
                            Some(message) => {
                                let text: Option<String> = message.get_payload().ok();
                                if let Some(announced) = text.as_deref().and_then(parse_told) {
                                    let mut told = told.lock().unwrap_or_else(|p| p.into_inner());
                                    if told.len() >= TOLD_KEPT {
                                        told.pop_front();
                                    }
                                    told.push_back(announced);
                                }
                                bump(&notify);
                            }
                            None => break,
                        },
                        _ = liveness.tick() => {
                            let ping = sink.ping::<redis::Value>();
                            if !matches!(tokio::time::timeout(RESPONSE_TIMEOUT, ping).await, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                    if notify.is_closed() {
                        return;
                    }
                }
                tracing::warn!(%channel, "change subscription lost; reconnecting");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RESUBSCRIBE_MAX);
    }
}

/// One change as the script's seven arguments: op, key, expected version, payload, and for a
/// flag its history record, shared whitelist id and whitelist (see `store::versions`).
fn script_args(change: &Change) -> [String; 7] {
    let version = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let plain = |op: &str, key: &str, expected: String, payload: String| {
        [
            op.into(),
            key.into(),
            expected,
            payload,
            String::new(),
            String::new(),
            String::new(),
        ]
    };
    match change {
        Change::PutFlag { flag, expected } => {
            let stored = versions::store(flag);
            let (id, users) = stored.whitelist.unwrap_or_default();
            let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap_or_default();
            [
                "put".into(),
                flag.key.clone(),
                version(*expected),
                encode(flag),
                text(stored.record),
                id,
                text(users),
            ]
        }
        Change::DeleteFlag { key, expected } => {
            plain("delete", key, version(Some(*expected)), String::new())
        }
        Change::SetGlobalKillSwitch(switch) => plain("kill", "", String::new(), encode(switch)),
        Change::CreateToken(record) => {
            plain("token_create", &record.id, String::new(), encode(record))
        }
        Change::RevokeToken { id } => plain("token_revoke", id, String::new(), String::new()),
    }
}

fn parse_version(text: &str) -> Option<u64> {
    text.parse().ok()
}

#[async_trait]
impl Store for RedisStore {
    async fn load(&self) -> Result<Loaded, StoreError> {
        let mut conn = self.conn()?;
        let (revision, switch, flags): (Option<u64>, Option<String>, Vec<String>) = redis::pipe()
            .atomic()
            .get(self.key("revision"))
            .get(self.key("kill_switch"))
            .hvals(self.key("flags"))
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
        let mut conn = self.conn()?;
        let raw: Option<String> = conn
            .hget(self.key("flags"), key)
            .await
            .map_err(unavailable)?;
        raw.map(|r| decode(&r)).transpose()
    }

    async fn commit(&self, commit: Commit) -> Result<u64, StoreError> {
        let mut invocation = self.commit_script.prepare_invoke();
        // The key routes the script to the deployment's node on a Redis Cluster.
        invocation
            .key(self.key("revision"))
            .arg(&self.prefix)
            .arg(commit.changes.len())
            .arg(commit.audit.len())
            .arg(self.history_limit.map_or(0, std::num::NonZeroUsize::get));
        for change in &commit.changes {
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
        // what they served (SPEC §6), even while the replicas resync after a failover; a raise
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

    async fn add_impact(&self, deltas: &[ImpactDelta]) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        impact::add(&mut conn, &self.prefix, deltas).await
    }

    async fn impact(&self, flag: &str, stage: &str) -> Result<ImpactSums, StoreError> {
        let mut conn = self.conn()?;
        impact::read(&mut conn, &self.prefix, flag, stage).await
    }

    fn changes(&self) -> Option<watch::Receiver<u64>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_tell_what_changed_or_nothing() {
        let told = |keys: &[&str], kill_switch| Told {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            kill_switch,
        };
        assert_eq!(parse_told("7 0 a,b"), Some((7, told(&["a", "b"], false))));
        assert_eq!(parse_told("8 1 "), Some((8, told(&[], true))));
        assert_eq!(parse_told("9 1"), Some((9, told(&[], true))));
        // A bare revision (a token change, a raise, many keys) tells nothing.
        assert_eq!(parse_told("10"), None);
        assert_eq!(parse_told("x 0 a"), None);
        assert_eq!(parse_told("11 2 a"), None);
    }
}
