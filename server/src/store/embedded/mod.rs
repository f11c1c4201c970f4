//! The embedded store, the default: one redb file in the data dir, for a single instance.
//! Each commit is one redb write transaction (version checks included), fsynced before it
//! returns, so a restart keeps every flag, version, history and audit entry, and every token.
//! Heartbeats are kept in memory (`store::fleet::MemoryFleet`): they describe the running
//! process only.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{
    Builder, Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_core::{Flag, KillSwitch, Segment};

use chrono::{DateTime, Utc};

mod commit;

use self::commit::apply;
use super::fleet::MemoryFleet;
use super::versions;
use super::{
    Ack, AuditEntry, AuditQuery, BeatReply, Commit, Fleet, FleetStore, Heartbeat, HistoryLimit,
    ImpactDelta, ImpactStore, ImpactSums, Loaded, Store, StoreError, TokenRecord, Write,
};

const FLAGS: TableDefinition<&str, &[u8]> = TableDefinition::new("flags");
const SEGMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("segments");
const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("history");
/// The large whitelists history versions share (see `versions`): (flag key, whitelist id) →
/// its JSON, written once; and how many versions refer to each.
const SHARED: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("history_whitelists");
const SHARED_REFS: TableDefinition<(&str, &str), u64> =
    TableDefinition::new("history_whitelist_refs");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// The audit trail's indexes: (`"flag"` or `"actor"`, its value, entry id), so a filtered
/// query reads only the entries it returns instead of scanning the whole log.
const AUDIT_BY: TableDefinition<(&str, &str, u64), ()> = TableDefinition::new("audit_by");
const BY_FLAG: &str = "flag";
const BY_ACTOR: &str = "actor";
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Impact sums: (flag, stage) → `ImpactSums` JSON.
const IMPACT: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("impact");

const REVISION: &str = "revision";
/// The highest flag version served before the data went back in time ([`Store::raise`]).
const VERSION_FLOOR: &str = "version_floor";
/// redb's page cache.
const CACHE_BYTES: usize = 16 * 1024 * 1024;
const KILL_SWITCH: &str = "global_kill_switch";

/// The redb-backed store. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    history_limit: HistoryLimit,
    fleet: Arc<MemoryFleet>,
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Unavailable(e.into().to_string())
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own model types to JSON cannot fail (no maps with non-string keys).
    serde_json::to_vec(value).expect("model types serialise")
}

impl EmbeddedStore {
    /// Opens (or creates) `data_dir/switchyard.redb`, keeping every version of history.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(data_dir, None)
    }

    /// Opens (or creates) `data_dir/switchyard.redb`, keeping at most `history_limit`
    /// versions of each flag's history.
    pub fn open_with(data_dir: &Path, history_limit: HistoryLimit) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let path = data_dir.join("switchyard.redb");
        // redb caches the pages it reads; the snapshot lives in memory anyway, so a small
        // cache keeps the footprint low (the OS page cache still holds the file).
        let db = Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        // Create every table once, so readers never meet a missing one.
        let txn = db.begin_write().map_err(db_err)?;
        for table in [FLAGS, SEGMENTS, TOKENS, META] {
            txn.open_table(table).map_err(db_err)?;
        }
        txn.open_table(HISTORY).map_err(db_err)?;
        txn.open_table(SHARED).map_err(db_err)?;
        txn.open_table(SHARED_REFS).map_err(db_err)?;
        txn.open_table(AUDIT).map_err(db_err)?;
        txn.open_table(IMPACT).map_err(db_err)?;
        index_audit(&txn)?;
        txn.commit().map_err(db_err)?;
        Ok(EmbeddedStore {
            db: Arc::new(db),
            history_limit,
            fleet: Arc::default(),
        })
    }

    /// The row `key` of `table`, decoded.
    async fn one<T: DeserializeOwned + Send + 'static>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let key = key.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(table).map_err(db_err)?;
            match table.get(key.as_str()).map_err(db_err)? {
                Some(bytes) => decode(bytes.value()).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    /// Runs blocking redb work off the async executor.
    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }
}

fn read_number(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &str,
) -> Result<u64, StoreError> {
    match table.get(name).map_err(db_err)? {
        Some(bytes) => decode(bytes.value()),
        None => Ok(0),
    }
}

fn read_revision(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<u64, StoreError> {
    read_number(table, REVISION)
}

/// Adds `entry` (id `id`) to the audit indexes.
fn index_entry(
    by: &mut redb::Table<(&str, &str, u64), ()>,
    id: u64,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    if let Some(flag) = &entry.flag {
        by.insert((BY_FLAG, flag.as_str(), id), ())
            .map_err(db_err)?;
    }
    by.insert((BY_ACTOR, entry.actor.as_str(), id), ())
        .map_err(db_err)?;
    Ok(())
}

/// Builds the audit indexes of a file written before they existed (once: an index that
/// holds anything is kept as it is).
fn index_audit(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    let mut by = txn.open_table(AUDIT_BY).map_err(db_err)?;
    if !by.is_empty().map_err(db_err)? {
        return Ok(());
    }
    let audit = txn.open_table(AUDIT).map_err(db_err)?;
    for row in audit.iter().map_err(db_err)? {
        let (id, bytes) = row.map_err(db_err)?;
        index_entry(&mut by, id.value(), &decode(bytes.value())?)?;
    }
    Ok(())
}

/// Every row of `table`, decoded.
fn all<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for entry in table.iter().map_err(db_err)? {
        let (_, bytes) = entry.map_err(db_err)?;
        out.push(decode(bytes.value())?);
    }
    Ok(out)
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn load(&self) -> Result<Loaded, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(db_err)?;
            let meta = txn.open_table(META).map_err(db_err)?;
            let global_kill_switch = match meta.get(KILL_SWITCH).map_err(db_err)? {
                Some(bytes) => decode(bytes.value())?,
                None => KillSwitch::default(),
            };
            Ok(Loaded {
                revision: read_revision(&meta)?,
                global_kill_switch,
                flags: all(&txn.open_table(FLAGS).map_err(db_err)?)?,
                segments: all(&txn.open_table(SEGMENTS).map_err(db_err)?)?,
            })
        })
        .await
    }

    async fn revision(&self) -> Result<u64, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(db_err)?;
            read_revision(&txn.open_table(META).map_err(db_err)?)
        })
        .await
    }

    async fn flag(&self, key: &str) -> Result<Option<Flag>, StoreError> {
        self.one(FLAGS, key).await
    }

    async fn segment(&self, key: &str) -> Result<Option<Segment>, StoreError> {
        self.one(SEGMENTS, key).await
    }

    async fn commit(&self, commit: Commit) -> Result<u64, StoreError> {
        let history_limit = self.history_limit;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            // On error `txn` is dropped uncommitted: redb aborts it, nothing is written.
            let revision = apply(&txn, commit, history_limit)?;
            txn.commit().map_err(db_err)?;
            Ok(revision)
        })
        .await
    }

    async fn history(&self, key: &str) -> Result<Vec<Flag>, StoreError> {
        let key = key.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(HISTORY).map_err(db_err)?;
            let shared = txn.open_table(SHARED).map_err(db_err)?;
            let range = (key.as_str(), 0)..=(key.as_str(), u64::MAX);
            let mut found = Vec::new();
            for entry in table.range(range).map_err(db_err)? {
                let (_, bytes) = entry.map_err(db_err)?;
                found.push(versions::load(bytes.value(), |id| {
                    let users = shared.get((key.as_str(), id)).map_err(db_err)?;
                    Ok(users.map(|g| g.value().to_vec()))
                })?);
            }
            Ok(found)
        })
        .await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let query = query.clone();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(AUDIT).map_err(db_err)?;
            let before = query.before.unwrap_or(u64::MAX);
            let mut found = Vec::new();
            let mut keep = |bytes: &[u8]| -> Result<bool, StoreError> {
                let entry: AuditEntry = decode(bytes)?;
                if query.matches(&entry) {
                    found.push(entry);
                }
                Ok(found.len() >= query.limit)
            };
            // A flag or actor filter reads its index: only the entries that match it.
            let index = match (&query.flag, &query.actor) {
                (Some(flag), _) => Some((BY_FLAG, flag.as_str())),
                (None, Some(actor)) => Some((BY_ACTOR, actor.as_str())),
                (None, None) => None,
            };
            if let Some((kind, value)) = index {
                let by = txn.open_table(AUDIT_BY).map_err(db_err)?;
                for row in by
                    .range((kind, value, 0)..(kind, value, before))
                    .map_err(db_err)?
                    .rev()
                {
                    let (_, _, id) = row.map_err(db_err)?.0.value();
                    let Some(bytes) = table.get(id).map_err(db_err)? else {
                        continue;
                    };
                    if keep(bytes.value())? {
                        break;
                    }
                }
            } else {
                for row in table.range(..before).map_err(db_err)?.rev() {
                    if keep(row.map_err(db_err)?.1.value())? {
                        break;
                    }
                }
            }
            Ok(found)
        })
        .await
    }

    async fn prune_audit(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let pruned = {
                let mut audit = txn.open_table(AUDIT).map_err(db_err)?;
                let mut by = txn.open_table(AUDIT_BY).map_err(db_err)?;
                // Ids grow with time: the old entries are the first ones.
                let mut old = Vec::new();
                for row in audit.iter().map_err(db_err)? {
                    let (id, bytes) = row.map_err(db_err)?;
                    let entry: AuditEntry = decode(bytes.value())?;
                    if entry.at >= cutoff {
                        break;
                    }
                    old.push((id.value(), entry));
                }
                for (id, entry) in &old {
                    audit.remove(id).map_err(db_err)?;
                    if let Some(flag) = &entry.flag {
                        by.remove((BY_FLAG, flag.as_str(), *id)).map_err(db_err)?;
                    }
                    by.remove((BY_ACTOR, entry.actor.as_str(), *id))
                        .map_err(db_err)?;
                }
                old.len()
            };
            txn.commit().map_err(db_err)?;
            Ok(pruned)
        })
        .await
    }

    async fn raise(&self, revision: u64, flag_version: u64) -> Result<u64, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let raised = {
                let mut meta = txn.open_table(META).map_err(db_err)?;
                let raised = read_revision(&meta)?.max(revision);
                let floor = read_number(&meta, VERSION_FLOOR)?.max(flag_version);
                meta.insert(REVISION, encode(&raised).as_slice())
                    .map_err(db_err)?;
                meta.insert(VERSION_FLOOR, encode(&floor).as_slice())
                    .map_err(db_err)?;
                raised
            };
            txn.commit().map_err(db_err)?;
            Ok(raised)
        })
        .await
    }

    async fn version_floor(&self) -> Result<u64, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(db_err)?;
            read_number(&txn.open_table(META).map_err(db_err)?, VERSION_FLOOR)
        })
        .await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(TOKENS).map_err(db_err)?;
            let mut records = Vec::new();
            for entry in table.iter().map_err(db_err)? {
                let (_, bytes) = entry.map_err(db_err)?;
                records.push(decode(bytes.value())?);
            }
            Ok(records)
        })
        .await
    }
}

#[async_trait]
impl FleetStore for EmbeddedStore {
    async fn beat(
        &self,
        beat: &Heartbeat,
        forward: &[Ack],
        forget_after: std::time::Duration,
    ) -> Result<BeatReply, StoreError> {
        let acks = self.fleet.beat(beat, forward, forget_after);
        Ok(BeatReply {
            revision: self.revision().await?,
            acks,
        })
    }

    async fn fleet(&self, forget_after: std::time::Duration) -> Result<Fleet, StoreError> {
        Ok(Fleet {
            revision: self.revision().await?,
            instances: self.fleet.read(forget_after),
        })
    }

    async fn leave(&self, id: &str) -> Result<(), StoreError> {
        self.fleet.leave(id);
        Ok(())
    }
}

#[async_trait]
impl ImpactStore for EmbeddedStore {
    async fn add_impact(&self, deltas: &[ImpactDelta]) -> Result<(), StoreError> {
        let deltas = deltas.to_vec();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut table = txn.open_table(IMPACT).map_err(db_err)?;
                for delta in &deltas {
                    let key = (delta.flag.as_str(), delta.stage.as_str());
                    let mut sums: ImpactSums = match table.get(key).map_err(db_err)? {
                        Some(bytes) => decode(bytes.value())?,
                        None => ImpactSums::default(),
                    };
                    // Bounded: at most MAX_EVENTS names per cohort, whatever is reported.
                    sums.on.add(&delta.sums.on);
                    sums.off.add(&delta.sums.off);
                    table
                        .insert(key, encode(&sums).as_slice())
                        .map_err(db_err)?;
                }
            }
            txn.commit().map_err(db_err)
        })
        .await
    }

    async fn impact(&self, flag: &str, stage: &str) -> Result<ImpactSums, StoreError> {
        let (flag, stage) = (flag.to_owned(), stage.to_owned());
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(IMPACT).map_err(db_err)?;
            match table.get((flag.as_str(), stage.as_str())).map_err(db_err)? {
                Some(bytes) => decode(bytes.value()),
                None => Ok(ImpactSums::default()),
            }
        })
        .await
    }
}
