//! The snapshot: every flag and the global kill switch at one version, sorted and indexed
//! once, made anew from a commit's [`Delta`] at the cost of what it changed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use crate::delta::Delta;
use crate::export::Export;
use crate::flag::{Flag, KillSwitch};
use crate::segment::Segment;

/// Every flag and the global kill switch at one moment: what evaluations read.
///
/// `version` grows with every change to the data it was built from, so two snapshots with
/// one version hold the same flags. On the wire the flags are a list sorted by key.
///
/// The flags are kept sorted once, when the snapshot is built, beside a hash index: lookups
/// are one hash probe and a short walk down a shallow tree, and bulk evaluation and
/// serialisation walk them in order for free. The flags sit in a persistent vector (rpds's
/// bitmapped vector trie) and the index behind an `Arc`, so [`Snapshot::with_changes`]
/// builds the next snapshot sharing every flag that did not change, and the index too when
/// no key came or went: replacing a flag copies one path of the trie, O(log n).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Grows by at least one on every change.
    pub version: u64,
    /// The switch above every flag.
    pub global_kill_switch: KillSwitch,
    flags: Flags,
    index: Arc<Index>,
    /// The segments flags' rules name, by key (few, and rarely changed: a change copies the
    /// map).
    segments: Arc<Segments>,
    /// Whether some date constraint may read the evaluator's clock.
    clock: bool,
}

type Segments = BTreeMap<String, Segment>;

type Flags = rpds::VectorSync<Arc<Flag>>;

/// `flags`, sorted by key, as a trie.
fn sorted_trie(mut flags: Vec<Arc<Flag>>) -> Flags {
    flags.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    let mut trie = Flags::new_sync();
    for flag in flags {
        trie.push_back_mut(flag);
    }
    trie
}
type Index = HashMap<String, usize, foldhash::fast::RandomState>;

fn index_of(flags: &Flags) -> Arc<Index> {
    Arc::new(
        flags
            .iter()
            .enumerate()
            .map(|(i, f)| (f.key.clone(), i))
            .collect(),
    )
}

impl Snapshot {
    /// A snapshot of `flags`; when two flags share a key, the later one wins
    /// (validate an import first: [`crate::validate::validate_export`] reports duplicates).
    pub fn new(
        version: u64,
        global_kill_switch: KillSwitch,
        flags: impl IntoIterator<Item = Flag>,
    ) -> Self {
        let by_key: HashMap<String, Flag> = flags.into_iter().map(|f| (f.key.clone(), f)).collect();
        let shared = by_key.into_values().map(Arc::new).collect();
        Snapshot::laid_out(version, global_kill_switch, shared)
    }

    /// A snapshot of `flags` (keys unique), sorted and indexed.
    fn laid_out(version: u64, global_kill_switch: KillSwitch, flags: Vec<Arc<Flag>>) -> Self {
        let flags = sorted_trie(flags);
        let index = index_of(&flags);
        let mut snapshot = Snapshot {
            version,
            global_kill_switch,
            flags,
            index,
            segments: Arc::default(),
            clock: false,
        };
        snapshot.clock = snapshot.reads_clock();
        snapshot
    }

    /// This snapshot with `segments` (by key; when two share a key, the later one wins).
    pub fn with_segments(mut self, segments: impl IntoIterator<Item = Segment>) -> Self {
        self.segments = Arc::new(segments.into_iter().map(|s| (s.key.clone(), s)).collect());
        self.clock = self.reads_clock();
        self
    }

    /// Whether a date constraint of some flag or segment may read the evaluator's clock:
    /// an evaluator passes its clock in the context ([`crate::Context::at`]) only then.
    pub fn uses_clock(&self) -> bool {
        self.clock
    }

    fn reads_clock(&self) -> bool {
        self.flags.iter().any(|f| f.uses_clock()) || self.segments.values().any(Segment::uses_clock)
    }

    /// The segment with `key`.
    pub fn segment(&self, key: &str) -> Option<&Segment> {
        self.segments.get(key)
    }

    /// Every segment, sorted by key.
    pub fn segments(&self) -> impl ExactSizeIterator<Item = &Segment> + '_ {
        self.segments.values()
    }

    /// This snapshot with `changes` applied, as `version`: the same as building a snapshot of
    /// the changed flag set. Unchanged flags are shared, not copied; when no key comes or
    /// goes the index is shared too and each changed flag costs one path of the trie, so the
    /// cost grows with the flags changed (and the log of the flags held). When `changes` puts or deletes one key twice, the last change wins.
    pub fn with_changes(&self, version: u64, changes: Delta) -> Snapshot {
        let global_kill_switch = changes
            .global_kill_switch
            .unwrap_or_else(|| self.global_kill_switch.clone());
        let segments = if changes.segments.is_empty() {
            Arc::clone(&self.segments)
        } else {
            let mut segments = Segments::clone(&self.segments);
            for (key, segment) in changes.segments {
                match segment {
                    Some(segment) => segments.insert(key, segment),
                    None => segments.remove(&key),
                };
            }
            Arc::new(segments)
        };
        let segments_read_clock = segments.values().any(Segment::uses_clock);
        let mut flags = self.flags.clone();
        let only_replaces = changes
            .flags
            .iter()
            .all(|(key, flag)| flag.is_some() && self.index.contains_key(key));
        if only_replaces {
            // The clock flag is kept when a flag stops reading it (a spare clock read, never
            // a wrong answer) so a replacement need not walk every flag; a rebuild resets it.
            let mut clock = segments_read_clock || self.clock;
            for flag in changes.flags.into_values().flatten() {
                let i = self.index[&flag.key];
                clock |= flag.uses_clock();
                flags.set_mut(i, Arc::new(flag));
            }
            return Snapshot {
                version,
                global_kill_switch,
                flags,
                index: Arc::clone(&self.index),
                segments,
                clock,
            };
        }
        // A key came or went: positions move, so the flags are laid out again and the index
        // rebuilt (creating and deleting flags are the rare writes).
        let changed = changes.flags;
        let mut all: Vec<Arc<Flag>> = self
            .flags
            .iter()
            .filter(|f| !changed.contains_key(&f.key))
            .cloned()
            .collect();
        all.extend(changed.into_values().flatten().map(Arc::new));
        let mut snapshot = Snapshot::laid_out(version, global_kill_switch, all);
        snapshot.segments = segments;
        snapshot.clock |= segments_read_clock;
        snapshot
    }

    /// A snapshot of a backup, e.g. an SDK's bootstrap data.
    pub fn from_export(version: u64, export: Export) -> Self {
        Snapshot::new(version, export.global_kill_switch, export.flags)
            .with_segments(export.segments)
    }

    /// The flag with `key`.
    pub fn get(&self, key: &str) -> Option<&Flag> {
        self.index.get(key).and_then(|&i| self.flag_at(i))
    }

    /// The flag at `index` in [`Snapshot::flags`]'s order.
    pub fn flag_at(&self, index: usize) -> Option<&Flag> {
        self.flags.get(index).map(|f| &**f)
    }

    /// Where flag `key` is in [`Snapshot::flags`].
    pub fn position(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// Every flag, sorted by key.
    pub fn flags(&self) -> impl ExactSizeIterator<Item = &Flag> + '_ {
        self.flags.iter().map(|f| &**f)
    }

    /// How many flags there are.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// True when there is no flag.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// The backup of this snapshot.
    pub fn to_export(&self) -> Export {
        Export {
            format: Export::FORMAT,
            global_kill_switch: self.global_kill_switch.clone(),
            flags: self.flags().cloned().collect(),
            segments: self.segments().cloned().collect(),
        }
    }
}

#[derive(Serialize)]
struct SnapshotOut<'a> {
    version: u64,
    global_kill_switch: &'a KillSwitch,
    #[serde(serialize_with = "shared_flags")]
    flags: &'a Flags,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    segments: Vec<&'a Segment>,
}

fn shared_flags<S: serde::Serializer>(flags: &&Flags, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(flags.iter().map(|f| &**f))
}

#[derive(Deserialize)]
struct SnapshotIn {
    version: u64,
    #[serde(default)]
    global_kill_switch: KillSwitch,
    #[serde(default)]
    flags: Vec<Flag>,
    #[serde(default)]
    segments: Vec<Segment>,
}

impl Serialize for Snapshot {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SnapshotOut {
            version: self.version,
            global_kill_switch: &self.global_kill_switch,
            flags: &self.flags,
            segments: self.segments().collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = SnapshotIn::deserialize(d)?;
        let count = wire.flags.len();
        let segment_count = wire.segments.len();
        let snapshot = Snapshot::new(wire.version, wire.global_kill_switch, wire.flags)
            .with_segments(wire.segments);
        if snapshot.len() != count {
            return Err(serde::de::Error::custom("two flags share one key"));
        }
        if snapshot.segments.len() != segment_count {
            return Err(serde::de::Error::custom("two segments share one key"));
        }
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trips_sorted_and_rejects_duplicate_keys() {
        let snap = Snapshot::new(3, KillSwitch::default(), [Flag::new("b"), Flag::new("a")]);
        let json = serde_json::to_value(&snap).unwrap();
        assert_eq!(json["flags"][0]["key"], "a");
        assert_eq!(json["flags"][1]["key"], "b");
        let back: Snapshot = serde_json::from_value(json).unwrap();
        assert_eq!(back, snap);
        let dup = r#"{"version":1,"flags":[{"key":"a"},{"key":"a"}]}"#;
        assert!(serde_json::from_str::<Snapshot>(dup).is_err());
    }

    #[test]
    fn changes_apply_like_a_rebuild_and_share_what_did_not_change() {
        let flag = |key: &str, version| Flag {
            version,
            ..Flag::new(key)
        };
        let before = Snapshot::new(
            1,
            KillSwitch::default(),
            ["a", "b", "c"].map(|k| flag(k, 1)),
        );

        // Only replacements: unchanged flags and the index are shared.
        let mut delta = Delta::default();
        delta.put(flag("b", 2));
        let after = before.with_changes(2, delta);
        assert_eq!(
            after,
            Snapshot::new(
                2,
                KillSwitch::default(),
                [flag("a", 1), flag("b", 2), flag("c", 1)]
            )
        );
        assert!(Arc::ptr_eq(&before.flags[0], &after.flags[0]));
        assert!(!Arc::ptr_eq(&before.flags[1], &after.flags[1]));
        assert!(Arc::ptr_eq(&before.index, &after.index));

        // Keys come and go, the last change to a key wins, the kill switch changes.
        let mut delta = Delta::default();
        delta.delete("a");
        delta.put(flag("d", 1));
        delta.put(flag("c", 2));
        delta.delete("c");
        delta.put(flag("0", 1));
        delta.delete("0");
        delta.put(flag("0", 3));
        let on = KillSwitch {
            active: true,
            ..KillSwitch::default()
        };
        delta.set_global_kill_switch(on.clone());
        let next = after.with_changes(3, delta);
        let rebuilt = Snapshot::new(3, on, [flag("0", 3), flag("b", 2), flag("d", 1)]);
        assert_eq!(next, rebuilt);
        assert_eq!(next.position("d"), Some(2));
        assert!(Arc::ptr_eq(&after.flags[1], &next.flags[1]));
        assert_eq!(next.get("a"), None);
    }

    #[test]
    fn a_delta_round_trips_on_the_wire() {
        let mut delta = Delta::default();
        delta.put(Flag::new("b"));
        delta.put(Flag::new("a"));
        delta.delete("z");
        let json = serde_json::to_value(&delta).unwrap();
        assert_eq!(json["flags"][0]["key"], "a");
        assert_eq!(json["deleted"], serde_json::json!(["z"]));
        assert!(json.get("global_kill_switch").is_none());
        assert_eq!(serde_json::from_value::<Delta>(json).unwrap(), delta);
        delta.set_global_kill_switch(KillSwitch::default());
        let back: Delta = serde_json::from_str(&serde_json::to_string(&delta).unwrap()).unwrap();
        assert_eq!(back, delta);
        let twice = r#"{"flags":[{"key":"a"}],"deleted":["a"]}"#;
        assert!(serde_json::from_str::<Delta>(twice).is_err());
    }
}
