//! The published snapshot and what every request for it shares: its JSON body, its ETag,
//! the per-flag parts of bulk answers (written once per snapshot, not once per request), and
//! the change that made it from the one before (what streams carry).
//!
//! - [`answer`]: the evaluation answers' JSON.

use std::sync::OnceLock;

use actix_web::web::Bytes;
use switchyard_core::{Delta, Snapshot};

use crate::store::Loaded;

pub mod answer;

/// A snapshot and what every request for it shares: its JSON body and ETag are built once
/// per snapshot, not once per request, and the body only when first asked for.
pub struct Published {
    /// What evaluations read.
    pub snapshot: Snapshot,
    /// `GET /v1/snapshot`'s body, serialised on first use.
    body: OnceLock<Bytes>,
    /// What bulk answers write of each flag, made by the first bulk evaluation.
    flag_parts: OnceLock<answer::FlagParts>,
    /// `GET /v1/snapshot`'s strong ETag, from the snapshot version.
    pub etag: String,
    /// The highest flag version served up to this snapshot (deleted flags included).
    pub max_flag_version: u64,
    /// How many flags have their kill switch on.
    pub killed: usize,
    /// When this snapshot was made in place: the version it was made from and the change,
    /// which streams send to SDKs that hold that version (`api::stream`).
    pub change: Option<InPlace>,
}

/// What made a snapshot in place from the one before it.
pub struct InPlace {
    /// The version it was made from.
    pub base: u64,
    /// What changed.
    pub delta: Delta,
    /// The stream event that carries it, serialised once by the first stream that sends it
    /// (`None`: too large to carry; streams announce the version instead).
    pub event: OnceLock<Option<Bytes>>,
}

impl Published {
    /// The snapshot of what a store returned: the work of a refresh, for the blocking pool
    /// (sorting and indexing thousands of flags takes milliseconds).
    pub fn build(loaded: Loaded) -> Self {
        Published::new(
            Snapshot::new(loaded.revision, loaded.global_kill_switch, loaded.flags)
                .with_segments(loaded.segments),
        )
    }

    /// Publishes `snapshot` as it is.
    pub fn new(snapshot: Snapshot) -> Self {
        let max_flag_version = snapshot.flags().map(|f| f.version).max().unwrap_or(0);
        let killed = snapshot.flags().filter(|f| f.kill_switch).count();
        Published::of(snapshot, max_flag_version, killed)
    }

    fn of(snapshot: Snapshot, max_flag_version: u64, killed: usize) -> Self {
        Published {
            etag: format!("\"v{}\"", snapshot.version),
            snapshot,
            body: OnceLock::new(),
            flag_parts: OnceLock::new(),
            max_flag_version,
            killed,
            change: None,
        }
    }

    /// The snapshot after one commit, made from this one at a cost that grows with what the
    /// commit changed, not with the number of flags (see [`Snapshot::with_changes`]).
    pub fn apply(&self, revision: u64, delta: Delta) -> Self {
        let before = &self.snapshot;
        let mut max_flag_version = self.max_flag_version;
        let mut killed = self.killed;
        for (key, flag) in delta.flags() {
            killed -= usize::from(before.get(key).is_some_and(|f| f.kill_switch));
            if let Some(flag) = flag {
                killed += usize::from(flag.kill_switch);
                max_flag_version = max_flag_version.max(flag.version);
            }
        }
        let change = InPlace {
            base: before.version,
            delta: delta.clone(),
            event: OnceLock::new(),
        };
        Published {
            change: Some(change),
            ..Published::of(
                before.with_changes(revision, delta),
                max_flag_version,
                killed,
            )
        }
    }

    /// What bulk answers write of each flag, in the snapshot's order: made by the first
    /// bulk evaluation of this snapshot (O(flags), like that evaluation itself), so writes
    /// that no bulk evaluation follows cost nothing for it.
    pub fn flag_parts(&self) -> &answer::FlagParts {
        self.flag_parts
            .get_or_init(|| answer::FlagParts::new(self.snapshot.flags()))
    }

    /// `GET /v1/snapshot`'s body, serialised by the first request that asks for it.
    pub fn body(&self) -> Bytes {
        self.body
            .get_or_init(|| {
                Bytes::from(serde_json::to_vec(&self.snapshot).expect("snapshot serialises"))
            })
            .clone()
    }
}
