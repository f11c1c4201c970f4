//! What one commit changed: the flags written or deleted and the global kill switch, as a
//! snapshot applies it and a stream event carries it.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::flag::{Flag, KillSwitch};
use crate::segment::Segment;

/// What one commit changed, in the order it changed it: flags written or deleted (the last
/// change to a key wins), and the global kill switch when it changed.
/// [`Snapshot::with_changes`] applies it.
///
/// On the wire (a stream event's `changes`): `{"flags": [written flags, by key],
/// "deleted": [keys], "global_kill_switch": {...}}`, the last only when it changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delta {
    pub(crate) flags: HashMap<String, Option<Flag>>,
    pub(crate) global_kill_switch: Option<KillSwitch>,
    pub(crate) segments: HashMap<String, Option<Segment>>,
}

impl Delta {
    /// `flag` is written, whole (created or replaced).
    pub fn put(&mut self, flag: Flag) {
        self.flags.insert(flag.key.clone(), Some(flag));
    }

    /// Flag `key` is deleted.
    pub fn delete(&mut self, key: &str) {
        self.flags.insert(key.to_owned(), None);
    }

    /// The global kill switch becomes `switch`.
    /// Writes `segment`.
    pub fn put_segment(&mut self, segment: Segment) {
        self.segments.insert(segment.key.clone(), Some(segment));
    }

    /// Deletes segment `key`.
    pub fn delete_segment(&mut self, key: &str) {
        self.segments.insert(key.to_owned(), None);
    }

    /// The segments written (`Some`) or deleted (`None`), by key.
    pub fn segments(&self) -> impl Iterator<Item = (&str, Option<&Segment>)> {
        self.segments.iter().map(|(k, s)| (k.as_str(), s.as_ref()))
    }

    pub fn set_global_kill_switch(&mut self, switch: KillSwitch) {
        self.global_kill_switch = Some(switch);
    }

    /// The flags written or deleted: `(key, None)` for a deletion.
    pub fn flags(&self) -> impl Iterator<Item = (&str, Option<&Flag>)> {
        self.flags.iter().map(|(k, f)| (k.as_str(), f.as_ref()))
    }

    /// How many flags it writes or deletes.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// True when it changes no flag (perhaps only the global kill switch).
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }
}

#[derive(Serialize)]
struct DeltaOut<'a> {
    flags: Vec<&'a Flag>,
    deleted: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    global_kill_switch: Option<&'a KillSwitch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    segments: Vec<&'a Segment>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deleted_segments: Vec<&'a str>,
}

#[derive(Deserialize)]
struct DeltaIn {
    #[serde(default)]
    flags: Vec<Flag>,
    #[serde(default)]
    deleted: Vec<String>,
    #[serde(default)]
    global_kill_switch: Option<KillSwitch>,
    #[serde(default)]
    segments: Vec<Segment>,
    #[serde(default)]
    deleted_segments: Vec<String>,
}

impl Serialize for Delta {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (flags, deleted) = sorted_parts(&self.flags, |f| &f.key);
        let (segments, deleted_segments) = sorted_parts(&self.segments, |s| &s.key);
        DeltaOut {
            flags,
            deleted,
            global_kill_switch: self.global_kill_switch.as_ref(),
            segments,
            deleted_segments,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Delta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = DeltaIn::deserialize(d)?;
        let mut delta = Delta::default();
        for key in &wire.deleted {
            delta.delete(key);
        }
        for flag in wire.flags {
            if delta.flags.contains_key(&flag.key) {
                return Err(serde::de::Error::custom(
                    "a flag is both written and deleted, or written twice",
                ));
            }
            delta.put(flag);
        }
        for key in &wire.deleted_segments {
            delta.delete_segment(key);
        }
        for segment in wire.segments {
            if delta.segments.contains_key(&segment.key) {
                return Err(serde::de::Error::custom(
                    "a segment is both written and deleted, or written twice",
                ));
            }
            delta.put_segment(segment);
        }
        if let Some(switch) = wire.global_kill_switch {
            delta.set_global_kill_switch(switch);
        }
        Ok(delta)
    }
}

/// The items written, sorted by `key`, and the keys deleted, sorted.
fn sorted_parts<T>(
    changes: &HashMap<String, Option<T>>,
    key: impl Fn(&T) -> &String,
) -> (Vec<&T>, Vec<&str>) {
    let mut written: Vec<&T> = changes.values().flatten().collect();
    written.sort_unstable_by(|a, b| key(a).cmp(key(b)));
    let mut deleted: Vec<&str> = changes
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.as_str())
        .collect();
    deleted.sort_unstable();
    (written, deleted)
}
