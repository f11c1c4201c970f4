//! Every change to flags, kill switches and tokens: read the current state, check the
//! expected version, validate, and commit the change with its audit entry in one atomic
//! store step, then have the served snapshot refreshed. [`Changes`] owns the only handle that
//! writes to the store, so nothing can commit around validation and audit; its errors are
//! [`ChangeError`]s, which `crate::error` maps to HTTP.
//!
//! # Layout
//! - [`flags`]: create, replace, patch, delete, roll back.
//! - [`kill`]: the flag's and the global kill switch.
//! - [`import`]: restore or merge a backup.
//! - [`segments`]: create, replace and delete segments.
//! - [`tokens`]: issue and revoke tokens.
//! - [`diff`]: what an audit entry records of a change.
//! - [`plan`]: release plans: start, pause, resume, advance, abort, and the scheduler's steps.
//! - [`events`]: what a change tells the people watching (webhooks).
//! - [`error`] holds `ChangeError`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use switchyard_core::validate::{validate_flag, validate_flag_in, validate_reason};
use switchyard_core::{Delta, Flag, Limits, Snapshot};

use self::diff::audited;
use crate::store::{AuditEntry, Commit, Store, StoreError, Write};

pub mod diff;
pub mod error;
pub mod events;
pub mod flags;
pub mod import;
pub mod kill;
pub mod limit;
pub mod plan;
pub mod precondition;
pub mod segments;
pub mod tokens;

pub use error::ChangeError;
pub use events::Event;
pub use flags::FlagInput;
pub use import::{ImportMode, ImportPlan};
pub use limit::WriteLimit;
pub use precondition::Precondition;
pub use segments::SegmentInput;
pub use tokens::{IssuedToken, TokenInfo};

/// How often an unconditional change retries when a writer on another instance got in first.
const MAX_ATTEMPTS: u32 = 10;

/// What follows a commit: the served snapshot is refreshed (so the change is served before
/// the reply), and a store that failed is reported. Implemented by the server's state
/// (`crate::sync`), so this module needs neither.
#[async_trait]
pub trait Follow: Send + Sync {
    /// A commit landed: serve it. With `Some((revision, delta))`, the commit made the store's
    /// `revision` and changed its flags by `delta` (so the snapshot before it, if that is the
    /// one served, needs only `delta`); with `None`, what it changed is not known here.
    async fn committed(&self, applied: Option<(u64, Delta)>);
    /// The store failed a write.
    fn store_failed(&self, error: String);
    /// The snapshot served now: what a flag's rules and `requires` are checked against (the
    /// segments and flags they name exist, no cycle).
    fn served(&self) -> Snapshot;
    /// A committed change that people watch for (never waits for delivery).
    fn notify(&self, event: Event);
}

/// The store, behind the one path that writes to it.
pub struct Changes {
    store: Arc<dyn Store>,
    limits: Limits,
    /// Each caller's writes per minute.
    rate: WriteLimit,
    /// Serialises this instance's read-modify-write changes, so they queue instead of
    /// retrying against each other (writers on other instances are met by version checks).
    write_lock: tokio::sync::Mutex<()>,
    /// Held shared by every commit from before the store writes it until the snapshot serves
    /// it, and exclusively by [`Changes::settled`]: a reconcile never loads a commit this
    /// instance is about to serve in place (it would turn that write into a full load).
    in_flight: tokio::sync::RwLock<()>,
}

impl Changes {
    /// The write side of `store`; flags must keep within `limits`, callers within `rate`.
    pub fn new(store: Arc<dyn Store>, limits: Limits, rate: WriteLimit) -> Self {
        Changes {
            store,
            limits,
            rate,
            write_lock: tokio::sync::Mutex::new(()),
            in_flight: tokio::sync::RwLock::new(()),
        }
    }

    /// Waits until no commit of this instance is between the store and the snapshot, and
    /// holds new ones back while the guard lives: what a reconcile loads is then either
    /// served already or made elsewhere.
    pub async fn settled(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.in_flight.write().await
    }

    /// Admits one write by `actor` under its rate, then makes changes as `actor` (see
    /// [`Changes::writer`]).
    pub fn admitted_writer<'a>(
        &'a self,
        actor: &'a str,
        follow: &'a dyn Follow,
    ) -> Result<Writer<'a>, ChangeError> {
        self.rate.admit(actor)?;
        Ok(self.writer(actor, follow))
    }

    /// Makes changes as `actor` (a token's name, the audit trail's actor); `follow` serves
    /// them once committed.
    pub fn writer<'a>(&'a self, actor: &'a str, follow: &'a dyn Follow) -> Writer<'a> {
        Writer {
            changes: self,
            actor,
            follow,
            automatic: false,
            revision: AtomicU64::new(0),
        }
    }

    /// Makes changes as the server itself (`plan`, `guard:<name>`): a release plan's own
    /// steps, which do not pause it as a person's change does.
    pub fn automatic_writer<'a>(&'a self, actor: &'a str, follow: &'a dyn Follow) -> Writer<'a> {
        Writer {
            automatic: true,
            ..self.writer(actor, follow)
        }
    }

    /// After the store came back older than what was served: moves it past `revision` and
    /// `flag_version` (see [`Store::raise`]).
    pub async fn raise(&self, revision: u64, flag_version: u64) -> Result<u64, StoreError> {
        self.store.raise(revision, flag_version).await
    }

    /// Retention: drops audit entries older than `cutoff`.
    pub async fn prune_audit(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        self.store.prune_audit(cutoff).await
    }
}

/// Makes changes on behalf of one actor.
pub struct Writer<'a> {
    changes: &'a Changes,
    actor: &'a str,
    follow: &'a dyn Follow,
    /// True for the server's own changes (a plan's steps).
    automatic: bool,
    /// The store revision of this writer's last commit (0: none yet).
    revision: AtomicU64,
}

/// What `commit` changes in the served snapshot, or `None` when it changes tokens (a refresh
/// reloads them with the flags).
fn delta(commit: &Commit) -> Option<Delta> {
    let mut delta = Delta::default();
    for change in &commit.writes {
        match change {
            Write::PutFlag { flag, .. } => delta.put(flag.clone()),
            Write::DeleteFlag { key, .. } => delta.delete(key),
            Write::PutSegment { segment, .. } => delta.put_segment(segment.clone()),
            Write::DeleteSegment { key, .. } => delta.delete_segment(key),
            Write::SetGlobalKillSwitch(switch) => delta.set_global_kill_switch(switch.clone()),
            Write::CreateToken(_) | Write::RevokeToken { .. } => return None,
        }
    }
    Some(delta)
}

fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("model types serialise")
}

/// A reason as given: trimmed, `None` when blank, refused when too long or holding NUL.
fn reason(reason: Option<String>) -> Result<Option<String>, ChangeError> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(r) = &reason {
        validate_reason(r).map_err(ChangeError::BadInput)?;
    }
    Ok(reason)
}

impl Writer<'_> {
    /// Pauses `next`'s running plan when this (a person's) change steers what it steers;
    /// returns the note saying so.
    fn steer(&self, before: &Flag, next: &mut Flag) -> Option<String> {
        plan::pause_if_steered(self.actor, self.automatic, before, next, Utc::now())
    }

    /// Tells the watchers of a pause made by [`Writer::steer`].
    fn told_steered(&self, flag: &Flag, steered: Option<String>) {
        if let (Some(note), Some(p)) = (steered, &flag.plan) {
            let mut detail = serde_json::Map::new();
            detail.insert("state".into(), serde_json::json!(p.state.as_str()));
            self.tell(
                "plan.paused",
                flag,
                format!("The release plan of {} was {note}", flag.key),
                detail,
            );
        }
    }

    /// The snapshot version that serves this writer's changes (its last commit's revision),
    /// if it committed any: what `GET /v1/fleet/wait` is asked to wait for.
    pub fn committed_revision(&self) -> Option<u64> {
        Some(self.revision.load(Ordering::Acquire)).filter(|r| *r > 0)
    }

    fn audit(
        &self,
        action: &str,
        flag: Option<&str>,
        before: Option<Value>,
        after: Option<Value>,
        reason: Option<String>,
    ) -> AuditEntry {
        AuditEntry {
            id: 0,
            at: Utc::now(),
            actor: self.actor.to_owned(),
            action: action.to_owned(),
            flag: flag.map(str::to_owned),
            before,
            after,
            reason,
        }
    }

    /// Stamps `flag` as the next version, written now by this caller.
    fn stamp(&self, mut flag: Flag, version: u64) -> Result<Flag, ChangeError> {
        flag.version = version;
        flag.updated_at = Some(Utc::now());
        flag.updated_by = Some(self.actor.to_owned());
        validate_flag(&flag, &self.changes.limits)?;
        Ok(flag)
    }

    /// [`Writer::stamp`], and what the flag names checked against the served snapshot: the
    /// segments its rules name and the flags it requires exist, and `requires` makes no
    /// cycle. (Another instance's concurrent write may slip past the cycle check; evaluation
    /// ends any cycle at its depth limit, off.)
    fn stamp_in_place(&self, flag: Flag, version: u64) -> Result<Flag, ChangeError> {
        let flag = self.stamp(flag, version)?;
        if flag.requires.is_empty() && flag.rules.iter().all(|r| r.segments.is_empty()) {
            return Ok(flag);
        }
        validate_flag_in(&flag, &self.changes.limits, &self.follow.served())?;
        Ok(flag)
    }

    /// Commits, then refreshes the snapshot so the change is served before the reply.
    async fn commit(&self, commit: Commit) -> Result<(), ChangeError> {
        let delta = delta(&commit);
        let _in_flight = self.changes.in_flight.read().await;
        let revision = match self.changes.store.commit(commit).await {
            Ok(revision) => {
                self.revision.fetch_max(revision, Ordering::AcqRel);
                revision
            }
            Err(e @ StoreError::Unavailable(_)) => {
                self.follow.store_failed(e.to_string());
                return Err(e.into());
            }
            Err(e @ StoreError::NotDurable(_)) => {
                // On the primary, so every other instance serves it: this one too. The caller
                // still hears that a failover now could lose it.
                tracing::warn!(error = %e, "a write was not confirmed by enough replicas");
                self.follow.committed(None).await;
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        self.follow.committed(delta.map(|d| (revision, d))).await;
        Ok(())
    }

    /// The version a new flag `key` starts at: 1, or one past a deleted flag's last version,
    /// or past every version served before the store came back older (so history and ETags
    /// never repeat a version).
    async fn first_version(&self, key: &str, at_least: u64) -> Result<u64, ChangeError> {
        let last = self
            .changes
            .store
            .history(key)
            .await?
            .last()
            .map_or(0, |f| f.version);
        let floor = self.changes.store.version_floor().await?;
        Ok(last.max(floor).saturating_add(1).max(at_least).max(1))
    }

    async fn current(&self, key: &str) -> Result<Flag, ChangeError> {
        self.changes
            .store
            .flag(key)
            .await?
            .ok_or_else(|| ChangeError::FlagNotFound(key.to_owned()))
    }

    /// Changes `key` with `edit`. With an expected version, only from that version (else 409);
    /// without, from whatever version is current, retrying when another writer gets in first.
    async fn update(
        &self,
        key: &str,
        expected: Precondition,
        action: &str,
        why: Option<String>,
        edit: impl Fn(Flag) -> Flag,
    ) -> Result<Flag, ChangeError> {
        let _queued = self.changes.write_lock.lock().await;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                // Another instance wrote first: back off a little, longer each time.
                tokio::time::sleep(std::time::Duration::from_millis(u64::from(attempt) * 5)).await;
            }
            let current = self.current(key).await?;
            expected.check(key, Some(current.version))?;
            let next = edit(current.clone());
            let mut next = self.stamp_in_place(next, current.version.saturating_add(1))?;
            let steered = self.steer(&current, &mut next);
            let (before, after) = audited(Some(&current), Some(&next));
            let mut audit = vec![self.audit(action, Some(key), before, after, why.clone())];
            audit.extend(steered.iter().map(|note| self.steered_pause(key, note)));
            let commit = Commit {
                writes: vec![Write::PutFlag {
                    flag: next.clone(),
                    expected: Some(current.version),
                }],
                audit,
            };
            match self.commit(commit).await {
                Ok(()) => {
                    self.told_steered(&next, steered);
                    return Ok(next);
                }
                Err(ChangeError::Conflict { .. }) if expected.expected().is_none() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ChangeError::Conflict {
            message: format!("flag {key:?} kept changing under this write; retry"),
            current_version: None,
        })
    }
}
