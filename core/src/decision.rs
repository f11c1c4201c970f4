//! What a decision is: the variant served and the rule that decided (docs/flags.md#the-decision).

use serde::{Deserialize, Serialize};

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

/// Which rule of docs/flags.md#the-decision decided. May grow: match it with a `_` arm.
#[non_exhaustive]
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
    /// Rule 5: a flag it requires did not evaluate as required.
    PrerequisiteFailed,
    /// Rule 6: the user is whitelisted.
    Whitelist,
    /// Rule 7: the flag is limited to markets and the caller's is not one of them.
    MarketExcluded,
    /// Rule 8: one of the flag's rules included the context (the decision names which).
    RuleMatch,
    /// Rules 9–11: the rollout percentage decided.
    Rollout,
    /// Not a rule: an SDK had no flags yet (no server answer, no bootstrap) and served the
    /// caller's default. `evaluate` never returns it.
    NoData,
}

impl Reason {
    /// Every reason, in rule order, which is also their discriminants' (`ALL[r as usize] ==
    /// r`): for metrics and answers that keep one entry per reason.
    pub const ALL: [Reason; 10] = [
        Reason::GlobalKillSwitch,
        Reason::FlagNotFound,
        Reason::KillSwitch,
        Reason::Disabled,
        Reason::PrerequisiteFailed,
        Reason::Whitelist,
        Reason::MarketExcluded,
        Reason::RuleMatch,
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
            Reason::PrerequisiteFailed => "PREREQUISITE_FAILED",
            Reason::RuleMatch => "RULE_MATCH",
            Reason::NoData => "NO_DATA",
        }
    }
}

/// Which variant a decision served, by position: one of the flag's, or one of the deciding
/// rule's own. [`crate::Flag::served`] turns it into the variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pick {
    /// The flag's variant at this index.
    Flag(u16),
    /// The deciding rule's own variant at this index.
    Rule(u16),
}

/// The answer to "is this flag on for this context?". May grow: build it with
/// [`Decision::new`].
///
/// `rule` and `pick` are positions in the flag that was evaluated; its
/// [`crate::Flag::variant_name`], [`crate::Flag::value`] and [`crate::Flag::rule_name`] say
/// what they name (a decision stays `Copy`, with no borrow of the flag).
#[non_exhaustive]
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
    /// The flag's rule (its index) that included the context, when one did.
    #[serde(skip)]
    pub rule: Option<u16>,
    /// The variant a flag with variants served when on.
    #[serde(skip)]
    pub pick: Option<Pick>,
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
            rule: None,
            pick: None,
        }
    }

    /// This decision, decided by rule `rule` (an index in the flag's rules).
    pub fn by_rule(self, rule: Option<u16>) -> Self {
        Decision { rule, ..self }
    }

    /// This decision, serving `pick`.
    pub fn picking(self, pick: Option<Pick>) -> Self {
        Decision { pick, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_wire_shape() {
        let d = Decision::new(true, Reason::Whitelist, Some(7));
        let json = serde_json::to_value(d).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"enabled":true,"variant":"on","reason":"WHITELIST","version":7})
        );
        for (i, r) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(r as usize, i, "{r:?} out of order in Reason::ALL");
        }
    }
}
