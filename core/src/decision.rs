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

/// Which rule of docs/flags.md#the-decision decided.
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
        for r in Reason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }
}
