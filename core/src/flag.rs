//! A flag as stored, served and exported, and its parts: the market allow-list, the user
//! whitelist and the global kill switch (docs/flags.md#a-flag).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::context::Context;
use crate::decision::{Decision, Pick};
use crate::plan::ReleasePlan;
use crate::rule::{FlagVariant, Requirement, Rule};

/// A feature flag as stored, served and exported (docs/flags.md#a-flag).
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
    /// The values it serves when on, with their weights; none: a boolean flag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<FlagVariant>,
    /// What a flag with variants serves when off (variant `off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_value: Option<Value>,
    /// More ways to be on, tried in order after the whitelist and the markets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Flags that must evaluate as required for this one to be on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Requirement>,
    /// The attribute buckets and splits read; `None`: `user_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<String>,
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
    /// The release plan walking its rollout (docs/api.md#release-plans); changed only through the plan's own
    /// routes and its scheduler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Box<ReleasePlan>>,
}

/// What a client may set on a flag (docs/flags.md#a-flag): everything but its key, its kill switch (only
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
    /// The values it serves when on, with their weights; none: a boolean flag.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<FlagVariant>,
    /// What a flag with variants serves when off (variant `off`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub off_value: Option<Value>,
    /// More ways to be on, tried in order after the whitelist and the markets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Flags that must evaluate as required for this one to be on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Requirement>,
    /// The attribute buckets and splits read; `None`: `user_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<String>,
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
            variants,
            off_value,
            rules,
            requires,
            stickiness,
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
            variants: variants.clone(),
            off_value: off_value.clone(),
            rules: rules.clone(),
            requires: requires.clone(),
            stickiness: stickiness.clone(),
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
            variants,
            off_value,
            rules,
            requires,
            stickiness,
        } = spec;
        Flag {
            key: self.key,
            description,
            enabled,
            rollout_percentage,
            group_id,
            markets,
            whitelist,
            variants,
            off_value,
            rules,
            requires,
            stickiness,
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
            variants: Vec::new(),
            off_value: None,
            rules: Vec::new(),
            requires: Vec::new(),
            stickiness: None,
            kill_switch: false,
            version: 0,
            updated_at: None,
            updated_by: None,
            plan: None,
        }
    }

    /// The percentage a release plan walks: rule `rule`'s (`None` when the flag has no
    /// such rule), or the base `rollout_percentage` when `rule` is `None`.
    pub fn walked_percentage(&self, rule: Option<&str>) -> Option<u32> {
        match rule {
            None => Some(self.rollout_percentage),
            Some(name) => self
                .rules
                .iter()
                .find(|r| r.name == name)
                .map(|r| r.rollout_percentage),
        }
    }

    /// Sets the percentage a release plan walks (see [`Flag::walked_percentage`]); a rule
    /// the flag does not have is left alone.
    pub fn set_walked_percentage(&mut self, rule: Option<&str>, percentage: u32) {
        match rule {
            None => self.rollout_percentage = percentage,
            Some(name) => {
                if let Some(r) = self.rules.iter_mut().find(|r| r.name == name) {
                    r.rollout_percentage = percentage;
                }
            }
        }
    }

    /// The stickiness group users are bucketed in: `group_id`, else the key.
    pub fn group(&self) -> &str {
        self.group_id.as_deref().unwrap_or(&self.key)
    }

    /// The value buckets and splits read for `ctx`: the `stickiness` attribute, else the
    /// user id.
    pub fn stickiness_value<'c>(&self, ctx: &'c Context<'_>) -> Option<&'c str> {
        match &self.stickiness {
            None => ctx.user_id(),
            Some(name) => ctx.attribute_value(name).filter(|v| !v.is_empty()),
        }
    }

    /// Whether the flag serves values (it has variants) rather than on/off.
    pub fn has_variants(&self) -> bool {
        !self.variants.is_empty()
    }

    /// Whether a date constraint of a rule may read the evaluator's clock (segments aside).
    pub fn uses_clock(&self) -> bool {
        self.rules.iter().any(Rule::uses_clock)
    }

    /// The variant `decision` (of this flag) served: its name, and its value.
    pub fn served(&self, decision: &Decision) -> Option<&FlagVariant> {
        match decision.pick? {
            Pick::Flag(i) => self.variants.get(usize::from(i)),
            Pick::Rule(i) => self
                .rules
                .get(usize::from(decision.rule?))?
                .variants
                .get(usize::from(i)),
        }
    }

    /// The variant name `decision` (of this flag) served: a variant's, or `on`/`off`.
    pub fn variant_name<'a>(&'a self, decision: &Decision) -> &'a str {
        match self.served(decision) {
            Some(v) => &v.name,
            None => decision.variant.as_str(),
        }
    }

    /// The value `decision` (of this flag) served: a variant's; `off_value` when a flag
    /// with variants is off; `true`/`false` for a boolean flag.
    pub fn value<'a>(&'a self, decision: &Decision) -> &'a Value {
        static TRUE: Value = Value::Bool(true);
        static FALSE: Value = Value::Bool(false);
        static NULL: Value = Value::Null;
        if let Some(v) = self.served(decision) {
            return &v.value;
        }
        if self.has_variants() {
            return self.off_value.as_ref().unwrap_or(&NULL);
        }
        if decision.enabled { &TRUE } else { &FALSE }
    }

    /// The name of the rule that decided, when one did.
    pub fn rule_name<'a>(&'a self, decision: &Decision) -> Option<&'a str> {
        let rule = self.rules.get(usize::from(decision.rule?))?;
        Some(&rule.name)
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
            ..FlagSpec::default()
        };
        let changed = flag.clone().with_spec(spec.clone());
        assert_eq!(changed.spec(), spec);
        assert_eq!(
            (changed.key.as_str(), changed.kill_switch, changed.version),
            ("f", true, 7)
        );
        assert_eq!(flag.clone().with_spec(flag.spec()), flag);
    }
}
