//! Switchyard decisions in OpenFeature's vocabulary (SPEC §3, OFREP), shared by the server's
//! `/ofrep` routes and the SDK's OpenFeature provider so both name reasons alike.

use crate::model::{Decision, Flag, Reason};

/// The OpenFeature resolution reason of `decision`, taken on `flag` (`None` when unknown).
///
/// Kill switches and disabled flags → `DISABLED`; whitelist and market rules →
/// `TARGETING_MATCH`; a partial rollout → `SPLIT`; a 0 % or 100 % rollout with no markets →
/// `STATIC` (everyone gets the same answer); a 0 % or 100 % rollout behind a market list →
/// `TARGETING_MATCH` (the market decided); an unknown flag → `ERROR`; no data yet (an SDK
/// serving the caller's default) → `DEFAULT`.
pub fn reason(decision: &Decision, flag: Option<&Flag>) -> &'static str {
    match decision.reason {
        Reason::GlobalKillSwitch | Reason::KillSwitch | Reason::Disabled => "DISABLED",
        Reason::Whitelist | Reason::MarketExcluded => "TARGETING_MATCH",
        Reason::FlagNotFound => "ERROR",
        Reason::NoData => "DEFAULT",
        Reason::Rollout => match flag {
            Some(f) if !matches!(f.rollout_percentage, 0 | 100..) => "SPLIT",
            Some(f) if !f.markets.is_empty() => "TARGETING_MATCH",
            _ => "STATIC",
        },
    }
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
