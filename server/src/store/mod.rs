//! Persistence: the `Store` trait every backend implements, and the records it keeps.
//! A write is a [`Commit`]: several changes and their audit entries, applied all or nothing,
//! with every version check inside the same step.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_core::{Flag, KillSwitch, Segment};

use switchyard_core::Role;
pub use switchyard_core::impact::{Cohort, ImpactSums};

pub use self::fleet::{Ack, BeatReply, Fleet, Heartbeat, SdkSeen, SeenHeartbeat};

pub mod embedded;
pub mod fleet;
pub mod redis;
pub mod versions;

/// Everything evaluations need, read at one revision.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// Grows by one with every commit: the snapshot version.
    pub revision: u64,
    /// The global kill switch.
    pub global_kill_switch: KillSwitch,
    /// Every flag.
    pub flags: Vec<Flag>,
    /// Every segment.
    pub segments: Vec<Segment>,
}

/// What the commit that made a revision changed, as another instance was told of it: the
/// flags written or deleted, and whether the global kill switch changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Told {
    /// Keys of the flags written or deleted.
    pub keys: Vec<String>,
    /// True when the global kill switch changed.
    pub kill_switch: bool,
}

/// Some flags and the kill switch, read at one revision ([`Store::load_some`]).
#[derive(Clone, Debug, Default)]
pub struct Partial {
    /// The revision they were read at.
    pub revision: u64,
    /// The global kill switch.
    pub global_kill_switch: KillSwitch,
    /// Each key asked for, with its flag (`None`: there is none).
    pub flags: Vec<(String, Option<Flag>)>,
}

/// One change inside a [`Commit`].
// A flag is most of a write's size; writes are few and short-lived, so none is boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Write {
    /// Write `flag` (its `version` already set by the caller). `expected` is the version the
    /// stored flag must have now; `None` means the flag must not exist.
    PutFlag {
        /// The new state.
        flag: Flag,
        /// The version the write is based on.
        expected: Option<u64>,
    },
    /// Delete the flag, which must be at version `expected`. Its history is kept.
    DeleteFlag {
        /// The flag's key.
        key: String,
        /// The version the delete is based on.
        expected: u64,
    },
    /// Write `segment` (its `version` set by the caller); `expected` as for a flag.
    PutSegment {
        /// The new state.
        segment: Segment,
        /// The version the write is based on (`None`: it must not exist).
        expected: Option<u64>,
    },
    /// Delete the segment, which must be at version `expected`.
    DeleteSegment {
        /// The segment's key.
        key: String,
        /// The version the delete is based on.
        expected: u64,
    },
    /// Replace the global kill switch.
    SetGlobalKillSwitch(KillSwitch),
    /// Add a token; its name must be unused.
    CreateToken(TokenRecord),
    /// Remove the token with this id.
    RevokeToken {
        /// The token's id.
        id: String,
    },
}

/// Changes and their audit entries, applied atomically.
#[derive(Clone, Debug, Default)]
pub struct Commit {
    /// What changes, in order.
    pub writes: Vec<Write>,
    /// What the audit trail records of it (ids are the store's to assign).
    pub audit: Vec<AuditEntry>,
}

/// One line of the audit trail: who did what to which flag, when and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Assigned by the store, growing: newer entries have larger ids.
    #[serde(default)]
    pub id: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The token name that did it.
    pub actor: String,
    /// What was done, e.g. `flag.update`, `kill_switch.activate`.
    pub action: String,
    /// The flag concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// The state before (a flag, the kill switch, a token without its hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The state after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// The reason the caller gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Which audit entries to read: newest first, `limit` at most, older than `before`.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only entries about this flag.
    pub flag: Option<String>,
    /// Only entries by this actor.
    pub actor: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only entries with an id below this one (the paging cursor).
    pub before: Option<u64>,
    /// At most this many entries.
    pub limit: usize,
}

impl AuditQuery {
    /// Whether `entry` passes every filter but the cursor and limit.
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        self.flag
            .as_ref()
            .is_none_or(|f| entry.flag.as_ref() == Some(f))
            && self.actor.as_ref().is_none_or(|a| &entry.actor == a)
            && self.since.is_none_or(|t| entry.at >= t)
            && self.until.is_none_or(|t| entry.at < t)
    }
}

/// An API token as stored: its hash, never the token itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Short random id, used to revoke it.
    pub id: String,
    /// Unique name: the actor recorded in the audit trail.
    pub name: String,
    /// What the token may do.
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub hash: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
}

/// Impact reports to add to a flag's sums in one stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImpactDelta {
    /// The flag.
    pub flag: String,
    /// The stage (`ReleasePlan::stage_key`, or `none` without a plan).
    pub stage: String,
    /// The sums to add.
    pub sums: ImpactSums,
}

/// How many versions of each flag's history a store keeps (the newest); `None`: all.
pub type HistoryLimit = Option<std::num::NonZeroUsize>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A version check failed: the write was based on a stale state. Nothing was written.
    #[error("{key:?} is at version {current:?}, not {expected:?}")]
    Conflict {
        /// The flag concerned.
        key: String,
        /// The version the write expected (`None`: absent).
        expected: Option<u64>,
        /// The version it has (`None`: absent).
        current: Option<u64>,
    },
    /// A token name is taken, or a token id is unknown.
    #[error("{0}")]
    Token(String),
    /// The store cannot be reached or failed; nothing was written.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The write was applied on the primary, but fewer replicas than required confirmed it:
    /// a failover now could lose it.
    #[error("the write may not be durable: {0}")]
    NotDurable(String),
}

/// A place flags, history, audit and tokens live (heartbeats and impact sums are the
/// [`FleetStore`] and [`ImpactStore`] parts). Implementations apply a [`Commit`]
/// atomically, version checks included, and bump the revision by one per commit. Each keeps
/// at most the [`HistoryLimit`] it was opened with of every flag's history.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Every flag and the kill switch, at one revision.
    async fn load(&self) -> Result<Loaded, StoreError>;
    /// The current revision alone (cheap: reconciling compares it).
    async fn revision(&self) -> Result<u64, StoreError>;
    /// One flag as stored now.
    async fn flag(&self, key: &str) -> Result<Option<Flag>, StoreError>;
    /// One segment as stored now.
    async fn segment(&self, key: &str) -> Result<Option<Segment>, StoreError>;
    /// Applies every change and audit entry, or none; returns the new revision.
    async fn commit(&self, commit: Commit) -> Result<u64, StoreError>;
    /// Every stored version of a flag, oldest first (kept after a delete).
    async fn history(&self, key: &str) -> Result<Vec<Flag>, StoreError>;
    /// Audit entries, newest first, filtered and paged.
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;
    /// Every token record.
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Drops audit entries older than `cutoff` (retention); returns how many went.
    async fn prune_audit(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError>;
    /// After the store came back older than what was served (restarted empty, restored from
    /// an old backup, failed over to a lagging replica): moves the revision up to at least
    /// `revision` and the first version of any new flag past `flag_version`, so no reader
    /// ever sees a version repeat or go backwards. Signals the change; returns the revision.
    async fn raise(&self, revision: u64, flag_version: u64) -> Result<u64, StoreError>;
    /// The highest flag version ever served from this store's data (see [`Store::raise`]):
    /// a flag created now starts above it.
    async fn version_floor(&self) -> Result<u64, StoreError>;
    /// A signal that bumps whenever the data may have changed elsewhere (another instance's
    /// write, or a reconnection after which anything may have happened). `None` for stores
    /// only this instance writes.
    fn signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
    /// What the commit that made `revision` changed, when the store told this instance
    /// (Redis's change announcements); `None` when it is not known.
    fn told(&self, _revision: u64) -> Option<Told> {
        None
    }
    /// The flags `keys` and the kill switch at one revision (a commit that changed segments
    /// is not told: readers load it whole). By default read from a whole
    /// [`Store::load`]; a store that implements [`Store::told`] reads just those.
    async fn load_some(&self, keys: &[String]) -> Result<Partial, StoreError> {
        let loaded = self.load().await?;
        let mut by_key: std::collections::HashMap<String, Flag> = loaded
            .flags
            .into_iter()
            .map(|f| (f.key.clone(), f))
            .collect();
        Ok(Partial {
            revision: loaded.revision,
            global_kill_switch: loaded.global_kill_switch,
            flags: keys.iter().map(|k| (k.clone(), by_key.remove(k))).collect(),
        })
    }
}

/// Where instances leave their heartbeats (docs/api.md#fleet-proof-that-a-change-took): a
/// part of the store of its own, so the fleet's code and tests need only this.
#[async_trait]
pub trait FleetStore: Send + Sync + 'static {
    /// Writes this instance's heartbeat (docs/api.md#fleet-proof-that-a-change-took), hands `forward` to the instances they
    /// name, and returns the store's revision and the acks handed to this instance. Entries
    /// are forgotten `forget_after` after their last heartbeat.
    async fn beat(
        &self,
        beat: &Heartbeat,
        forward: &[Ack],
        forget_after: std::time::Duration,
    ) -> Result<BeatReply, StoreError>;
    /// Every heartbeat younger than `forget_after`, aged by the store's clock, and the
    /// store's revision.
    async fn fleet(&self, forget_after: std::time::Duration) -> Result<Fleet, StoreError>;
    /// Removes instance `id`'s heartbeat: it stopped cleanly, it is not `gone`.
    async fn leave(&self, id: &str) -> Result<(), StoreError>;
}

/// Where SDK impact reports are summed per flag and plan stage: a part of the store of its
/// own, so the impact code and its tests need only this.
#[async_trait]
pub trait ImpactStore: Send + Sync + 'static {
    /// Adds SDK impact reports to their flags' stage sums (atomic increments; several
    /// instances may add at once).
    async fn add_impact(&self, deltas: &[ImpactDelta]) -> Result<(), StoreError>;
    /// The sums of `flag` in stage `stage` (see `ReleasePlan::stage_key`).
    async fn impact(&self, flag: &str, stage: &str) -> Result<ImpactSums, StoreError>;
}

/// The whole store a server runs on: flags and audit, heartbeats, impact sums. Every store
/// that implements the three parts is one.
pub trait Stores: Store + FleetStore + ImpactStore {}

impl<T: Store + FleetStore + ImpactStore> Stores for T {}
