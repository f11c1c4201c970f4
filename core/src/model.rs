//! The flag model, shared by server, SDK and CLI: these types are also the wire format
//! (`/v1/snapshot`, `/v1/flags`) and the backup format (`/v1/export`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

pub use crate::context::Context;
use crate::eval;
use crate::plan::ReleasePlan;

/// A feature flag as stored, served and exported (SPEC §1).
///
/// Deserialising is lenient (missing fields take their defaults, unknown fields are ignored,
/// so an older SDK can read a newer server's snapshot); [`crate::validate_flag`] is what
/// decides whether a flag may be stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    /// Unique key: 1–128 chars of `[A-Za-z0-9._-]`, starting with a letter or digit.
    pub key: String,
    /// Free text for people.
    #[serde(default)]
    pub description: String,
    /// Master switch for the flag's targeting; off means off for everyone but nobody else.
    #[serde(default)]
    pub enabled: bool,
    /// 0–100: the share of users (by bucket) that get the flag.
    #[serde(default)]
    pub rollout_percentage: u32,
    /// Stickiness group; `None` means the flag's key. Flags sharing a group bucket users alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Markets the flag is limited to; empty means every market.
    #[serde(default)]
    pub markets: Markets,
    /// Users who get the flag whatever the rollout and markets say.
    #[serde(default)]
    pub whitelist: Whitelist,
    /// The flag's own kill switch: off for everyone, whitelist included.
    #[serde(default)]
    pub kill_switch: bool,
    /// Starts at 1, +1 on every change; set by the server only.
    #[serde(default)]
    pub version: u64,
    /// When the flag last changed; set by the server only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Who last changed the flag (a token's name); set by the server only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// The release plan walking its rollout (SPEC §7); changed only through the plan's own
    /// routes and its scheduler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Box<ReleasePlan>>,
}

/// What a client may set on a flag (SPEC §1): everything but its key, its kill switch (only
/// the kill endpoints change that) and the server's stamps. The one place these fields are
/// listed for writes: [`Flag::spec`] and [`Flag::with_spec`] destructure without `..`, so a
/// field added here is a compile error wherever a write applies it, never silently dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlagSpec {
    /// Free text for people.
    pub description: String,
    /// Master switch for the flag's targeting.
    pub enabled: bool,
    /// 0–100: the share of users (by bucket) that get the flag.
    pub rollout_percentage: u32,
    /// Stickiness group; `None` means the flag's key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Markets the flag is limited to; empty means every market.
    pub markets: Markets,
    /// Users who get the flag whatever the rollout and markets say.
    pub whitelist: Whitelist,
}

impl Flag {
    /// What a client may set on this flag.
    pub fn spec(&self) -> FlagSpec {
        let Flag {
            key: _,
            description,
            enabled,
            rollout_percentage,
            group_id,
            markets,
            whitelist,
            kill_switch: _,
            version: _,
            updated_at: _,
            updated_by: _,
            plan: _,
        } = self;
        FlagSpec {
            description: description.clone(),
            enabled: *enabled,
            rollout_percentage: *rollout_percentage,
            group_id: group_id.clone(),
            markets: markets.clone(),
            whitelist: whitelist.clone(),
        }
    }

    /// This flag with `spec` in place of what a client may set; its key, kill switch and
    /// stamps stay.
    pub fn with_spec(self, spec: FlagSpec) -> Flag {
        let FlagSpec {
            description,
            enabled,
            rollout_percentage,
            group_id,
            markets,
            whitelist,
        } = spec;
        Flag {
            key: self.key,
            description,
            enabled,
            rollout_percentage,
            group_id,
            markets,
            whitelist,
            kill_switch: self.kill_switch,
            version: self.version,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
            plan: self.plan,
        }
    }

    /// A new, disabled flag at 0 % with no targeting.
    pub fn new(key: impl Into<String>) -> Self {
        Flag {
            key: key.into(),
            description: String::new(),
            enabled: false,
            rollout_percentage: 0,
            group_id: None,
            markets: Markets::default(),
            whitelist: Whitelist::default(),
            kill_switch: false,
            version: 0,
            updated_at: None,
            updated_by: None,
            plan: None,
        }
    }

    /// The stickiness group users are bucketed in: `group_id`, else the key.
    pub fn group(&self) -> &str {
        self.group_id.as_deref().unwrap_or(&self.key)
    }
}

/// A flag's market allow-list: upper-case codes, sorted, without duplicates.
///
/// Normalised whenever it is built or deserialised, so lookups need not normalise again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Markets(Vec<String>);

impl Markets {
    /// Normalises `codes`: upper-case, sorted, duplicates dropped.
    pub fn new<I, S>(codes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut codes: Vec<String> = codes
            .into_iter()
            .map(|c| c.into().to_ascii_uppercase())
            .collect();
        codes.sort_unstable();
        codes.dedup();
        Markets(codes)
    }

    /// Whether `market` is in the list, compared case-insensitively.
    pub fn contains(&self, market: &str) -> bool {
        self.0.iter().any(|m| m.eq_ignore_ascii_case(market))
    }

    /// True when the flag is not limited to any market.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many markets are listed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The codes, sorted.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Markets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d).map(Markets::new)
    }
}

/// A flag's user whitelist: a set of user ids, looked up by hash on every evaluation
/// (a sorted list's binary search cost ~100 ns at 1,000 ids; see BENCHMARKS.md).
/// On the wire it is a list sorted by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Whitelist(HashSet<String, foldhash::fast::RandomState>);

impl Whitelist {
    /// The set of `users`; duplicates collapse.
    pub fn new<I, S>(users: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Whitelist(users.into_iter().map(Into::into).collect())
    }

    /// Whether `user` is whitelisted (exact, case-sensitive match).
    pub fn contains(&self, user: &str) -> bool {
        self.0.contains(user)
    }

    /// True when nobody is whitelisted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many users are whitelisted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The user ids, sorted.
    pub fn sorted(&self) -> Vec<&str> {
        let mut users: Vec<&str> = self.0.iter().map(String::as_str).collect();
        users.sort_unstable();
        users
    }
}

impl Serialize for Whitelist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.sorted().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Whitelist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d).map(Whitelist::new)
    }
}

/// The global kill switch: when active, every flag is off for everyone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitch {
    /// Whether every flag is forced off.
    #[serde(default)]
    pub active: bool,
    /// Why it was last flipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who last flipped it (a token's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_by: Option<String>,
    /// When it was last flipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_at: Option<DateTime<Utc>>,
}

/// The variant a decision serves: a boolean flag has exactly two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// The flag is on.
    On,
    /// The flag is off.
    Off,
}

impl Variant {
    /// `"on"` or `"off"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::On => "on",
            Variant::Off => "off",
        }
    }
}

/// Which rule of SPEC §2 decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// Rule 1: the global kill switch is on.
    GlobalKillSwitch,
    /// Rule 2: no flag has this key.
    FlagNotFound,
    /// Rule 3: the flag's kill switch is on.
    KillSwitch,
    /// Rule 4: the flag is disabled.
    Disabled,
    /// Rule 5: the user is whitelisted.
    Whitelist,
    /// Rule 6: the flag is limited to markets and the caller's is not one of them.
    MarketExcluded,
    /// Rules 7–9: the rollout percentage decided.
    Rollout,
    /// Not a rule: an SDK had no flags yet (no server answer, no bootstrap) and served the
    /// caller's default. `evaluate` never returns it.
    NoData,
}

impl Reason {
    /// Every reason, in rule order (for metrics that pre-register a label per reason).
    pub const ALL: [Reason; 8] = [
        Reason::GlobalKillSwitch,
        Reason::FlagNotFound,
        Reason::KillSwitch,
        Reason::Disabled,
        Reason::Whitelist,
        Reason::MarketExcluded,
        Reason::Rollout,
        Reason::NoData,
    ];

    /// The wire name, e.g. `"KILL_SWITCH"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::GlobalKillSwitch => "GLOBAL_KILL_SWITCH",
            Reason::FlagNotFound => "FLAG_NOT_FOUND",
            Reason::KillSwitch => "KILL_SWITCH",
            Reason::Disabled => "DISABLED",
            Reason::Whitelist => "WHITELIST",
            Reason::MarketExcluded => "MARKET_EXCLUDED",
            Reason::Rollout => "ROLLOUT",
            Reason::NoData => "NO_DATA",
        }
    }
}

/// The answer to "is this flag on for this context?".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// On or off.
    pub enabled: bool,
    /// `on` when enabled, else `off`.
    pub variant: Variant,
    /// The rule that decided.
    pub reason: Reason,
    /// The flag's version; `None` when the flag is unknown.
    pub version: Option<u64>,
}

impl Decision {
    /// A decision with the variant that matches `enabled`.
    pub fn new(enabled: bool, reason: Reason, version: Option<u64>) -> Self {
        let variant = if enabled { Variant::On } else { Variant::Off };
        Decision {
            enabled,
            variant,
            reason,
            version,
        }
    }
}

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
}

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

/// What one commit changed, in the order it changed it: flags written or deleted (the last
/// change to a key wins), and the global kill switch when it changed.
/// [`Snapshot::with_changes`] applies it.
///
/// On the wire (a stream event's `changes`): `{"flags": [written flags, by key],
/// "deleted": [keys], "global_kill_switch": {...}}`, the last only when it changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delta {
    flags: HashMap<String, Option<Flag>>,
    global_kill_switch: Option<KillSwitch>,
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
}

#[derive(Deserialize)]
struct DeltaIn {
    #[serde(default)]
    flags: Vec<Flag>,
    #[serde(default)]
    deleted: Vec<String>,
    #[serde(default)]
    global_kill_switch: Option<KillSwitch>,
}

impl Serialize for Delta {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut flags: Vec<&Flag> = self.flags.values().flatten().collect();
        flags.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        let mut deleted: Vec<&str> = self
            .flags
            .iter()
            .filter(|(_, f)| f.is_none())
            .map(|(k, _)| k.as_str())
            .collect();
        deleted.sort_unstable();
        DeltaOut {
            flags,
            deleted,
            global_kill_switch: self.global_kill_switch.as_ref(),
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
        if let Some(switch) = wire.global_kill_switch {
            delta.set_global_kill_switch(switch);
        }
        Ok(delta)
    }
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
        Snapshot {
            version,
            global_kill_switch,
            flags,
            index,
        }
    }

    /// This snapshot with `changes` applied, as `version`: the same as building a snapshot of
    /// the changed flag set. Unchanged flags are shared, not copied; when no key comes or
    /// goes the index is shared too and each changed flag costs one path of the trie, so the
    /// cost grows with the flags changed (and the log of the flags held). When `changes` puts or deletes one key twice, the last change wins.
    pub fn with_changes(&self, version: u64, changes: Delta) -> Snapshot {
        let global_kill_switch = changes
            .global_kill_switch
            .unwrap_or_else(|| self.global_kill_switch.clone());
        let mut flags = self.flags.clone();
        let only_replaces = changes
            .flags
            .iter()
            .all(|(key, flag)| flag.is_some() && self.index.contains_key(key));
        if only_replaces {
            for flag in changes.flags.into_values().flatten() {
                let i = self.index[&flag.key];
                flags.set_mut(i, Arc::new(flag));
            }
            return Snapshot {
                version,
                global_kill_switch,
                flags,
                index: Arc::clone(&self.index),
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
        Snapshot::laid_out(version, global_kill_switch, all)
    }

    /// A snapshot of a backup, e.g. an SDK's bootstrap data.
    pub fn from_export(version: u64, export: Export) -> Self {
        Snapshot::new(version, export.global_kill_switch, export.flags)
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

    /// Whether flag `key` is on for `ctx`: see [`crate::evaluate`].
    pub fn evaluate(&self, key: &str, ctx: &Context<'_>) -> Decision {
        eval::evaluate(self, key, ctx)
    }

    /// The backup of this snapshot.
    pub fn to_export(&self) -> Export {
        Export {
            format: Export::FORMAT,
            global_kill_switch: self.global_kill_switch.clone(),
            flags: self.flags().cloned().collect(),
        }
    }
}

#[derive(Serialize)]
struct SnapshotOut<'a> {
    version: u64,
    global_kill_switch: &'a KillSwitch,
    #[serde(serialize_with = "shared_flags")]
    flags: &'a Flags,
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
}

impl Serialize for Snapshot {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SnapshotOut {
            version: self.version,
            global_kill_switch: &self.global_kill_switch,
            flags: &self.flags,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = SnapshotIn::deserialize(d)?;
        let count = wire.flags.len();
        let snapshot = Snapshot::new(wire.version, wire.global_kill_switch, wire.flags);
        if snapshot.len() != count {
            return Err(serde::de::Error::custom("two flags share one key"));
        }
        Ok(snapshot)
    }
}

/// The backup format of `GET /v1/export` and `POST /v1/import`, and the SDK's bootstrap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// Always [`Export::FORMAT`].
    pub format: u32,
    /// The global kill switch.
    #[serde(default)]
    pub global_kill_switch: KillSwitch,
    /// Every flag, sorted by key.
    #[serde(default)]
    pub flags: Vec<Flag>,
}

impl Export {
    /// The one format this version writes and reads.
    pub const FORMAT: u32 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markets_and_whitelist_normalise_when_deserialised() {
        let flag: Flag = serde_json::from_str(
            r#"{"key":"f","markets":["fr","US","Fr"],"whitelist":["b","a","b"]}"#,
        )
        .unwrap();
        assert_eq!(flag.markets.as_slice(), ["FR", "US"]);
        assert_eq!(flag.whitelist.sorted(), ["a", "b"]);
        assert!(flag.markets.contains("us"));
        assert!(flag.whitelist.contains("a"));
        assert!(!flag.whitelist.contains("A"));
    }

    #[test]
    fn a_spec_round_trips_through_a_flag_and_keeps_the_rest() {
        let flag = Flag {
            kill_switch: true,
            version: 7,
            whitelist: Whitelist::new(["a"]),
            ..Flag::new("f")
        };
        let spec = FlagSpec {
            description: "d".into(),
            enabled: true,
            rollout_percentage: 25,
            group_id: Some("g".into()),
            markets: Markets::new(["fr"]),
            whitelist: Whitelist::new(["b"]),
        };
        let changed = flag.clone().with_spec(spec.clone());
        assert_eq!(changed.spec(), spec);
        assert_eq!(
            (changed.key.as_str(), changed.kill_switch, changed.version),
            ("f", true, 7)
        );
        assert_eq!(flag.clone().with_spec(flag.spec()), flag);
    }

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

    #[test]
    fn decision_wire_shape() {
        let d = Decision::new(true, Reason::Whitelist, Some(7));
        let json = serde_json::to_value(d).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"enabled":true,"variant":"on","reason":"WHITELIST","version":7})
        );
        for r in Reason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }
}
