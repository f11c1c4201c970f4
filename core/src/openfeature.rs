//! Switchyard decisions in OpenFeature's vocabulary (docs/flags.md#openfeature-reasons), shared by the server's
//! `/ofrep` routes and the SDK's OpenFeature provider so both name reasons alike.

use crate::model::{Decision, Flag, Pick, Reason};

/// OpenFeature's resolution reasons, as Switchyard gives them.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpenFeatureReason {
    /// A kill switch, or the flag is off.
    Disabled,
    /// A rule about who is asking decided: the whitelist or the markets.
    TargetingMatch,
    /// The flag is unknown.
    Error,
    /// No data yet: the caller's default.
    Default,
    /// A partial rollout put the user on one side.
    Split,
    /// Everyone gets the same answer.
    Static,
}

impl OpenFeatureReason {
    /// Every reason, in the order of their discriminants (`reason as usize` indexes it).
    pub const ALL: [OpenFeatureReason; 6] = [
        OpenFeatureReason::Disabled,
        OpenFeatureReason::TargetingMatch,
        OpenFeatureReason::Error,
        OpenFeatureReason::Default,
        OpenFeatureReason::Split,
        OpenFeatureReason::Static,
    ];

    /// The name on the wire: `DISABLED`, `TARGETING_MATCH`, …
    pub fn as_str(self) -> &'static str {
        match self {
            OpenFeatureReason::Disabled => "DISABLED",
            OpenFeatureReason::TargetingMatch => "TARGETING_MATCH",
            OpenFeatureReason::Error => "ERROR",
            OpenFeatureReason::Default => "DEFAULT",
            OpenFeatureReason::Split => "SPLIT",
            OpenFeatureReason::Static => "STATIC",
        }
    }
}

/// The OpenFeature resolution reason of `decision`, taken on `flag` (`None` when unknown).
///
/// Kill switches and disabled flags → `DISABLED`; whitelist and market rules →
/// `TARGETING_MATCH`; a partial rollout → `SPLIT`; a 0 % or 100 % rollout with no markets →
/// `STATIC` (everyone gets the same answer); a 0 % or 100 % rollout behind a market list →
/// `TARGETING_MATCH` (the market decided); an unknown flag → `ERROR`; no data yet (an SDK
/// serving the caller's default) → `DEFAULT`. Beyond on/off: a variant drawn by a weighted
/// split → `SPLIT`; a rule → `TARGETING_MATCH` at 100 %, `SPLIT` below; a prerequisite
/// failed → `DEFAULT`.
pub fn reason_of(decision: &Decision, flag: Option<&Flag>) -> OpenFeatureReason {
    use OpenFeatureReason as Of;
    match decision.reason {
        Reason::GlobalKillSwitch | Reason::KillSwitch | Reason::Disabled => Of::Disabled,
        _ if flag.is_some_and(|f| drawn_by_split(decision, f)) => Of::Split,
        Reason::Whitelist | Reason::MarketExcluded => Of::TargetingMatch,
        Reason::FlagNotFound => Of::Error,
        Reason::NoData | Reason::PrerequisiteFailed => Of::Default,
        Reason::RuleMatch => match flag
            .zip(decision.rule)
            .and_then(|(f, i)| f.rules.get(usize::from(i)))
        {
            Some(rule) if rule.rollout_percentage < 100 => Of::Split,
            _ => Of::TargetingMatch,
        },
        Reason::Rollout => match flag {
            Some(f) if !matches!(f.rollout_percentage, 0 | 100..) => Of::Split,
            Some(f) if !f.markets.is_empty() => Of::TargetingMatch,
            _ => Of::Static,
        },
    }
}

/// Whether `decision`'s variant was drawn by a weighted split between two or more variants
/// (not pinned by a rule, not the only one with a weight).
fn drawn_by_split(decision: &Decision, flag: &Flag) -> bool {
    let rule = decision.rule.and_then(|i| flag.rules.get(usize::from(i)));
    let weights: &[crate::rule::FlagVariant] = match (decision.pick, rule) {
        (None, _) => return false,
        (Some(Pick::Rule(_)), Some(rule)) => &rule.variants,
        (Some(Pick::Rule(_)), None) => return false,
        (Some(Pick::Flag(_)), Some(rule)) if rule.variant.is_some() => return false,
        (Some(Pick::Flag(_)), _) => &flag.variants,
    };
    weights.iter().filter(|v| v.weight > 0).count() > 1
}

/// [`reason_of`]'s name on the wire.
pub fn reason(decision: &Decision, flag: Option<&Flag>) -> &'static str {
    reason_of(decision, flag).as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate_flag;
    use crate::model::{Context, Markets};

    fn of_reason(flag: &Flag, ctx: &Context<'_>) -> &'static str {
        reason(&evaluate_flag(flag, ctx), Some(flag))
    }

    #[test]
    fn rollout_reasons() {
        let ctx = Context::new().user("u").market("FR");
        let mut flag = Flag {
            enabled: true,
            rollout_percentage: 100,
            ..Flag::new("f")
        };
        assert_eq!(of_reason(&flag, &ctx), "STATIC");
        flag.rollout_percentage = 0;
        assert_eq!(of_reason(&flag, &ctx), "STATIC");
        flag.rollout_percentage = 30;
        assert_eq!(of_reason(&flag, &ctx), "SPLIT");
        flag.markets = Markets::new(["FR"]);
        assert_eq!(of_reason(&flag, &ctx), "SPLIT");
        flag.rollout_percentage = 100;
        assert_eq!(of_reason(&flag, &ctx), "TARGETING_MATCH");
        assert_eq!(of_reason(&flag, &Context::new()), "TARGETING_MATCH");
        flag.kill_switch = true;
        assert_eq!(of_reason(&flag, &ctx), "DISABLED");
    }
}
