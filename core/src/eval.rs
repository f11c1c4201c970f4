//! Evaluation: the rules of docs/flags.md#the-decision, in order; the first that applies decides.
//! Reads only the snapshot and the context: no allocation, no lock, no I/O.

use crate::bucket::bucket;
use crate::context::Context;
use crate::decision::{Decision, Reason};
use crate::flag::Flag;
use crate::snapshot::Snapshot;

impl Snapshot {
    /// Whether flag `key` is on for `ctx`: see [`crate::evaluate`].
    pub fn evaluate(&self, key: &str, ctx: &Context<'_>) -> Decision {
        evaluate(self, key, ctx)
    }
}

/// Whether flag `key` is on for `ctx` in `snapshot`: the one entry point of the rules.
///
/// | # | condition | result | reason |
/// |---|---|---|---|
/// | 1 | global kill switch on | off | `GLOBAL_KILL_SWITCH` |
/// | 2 | flag unknown | off (error) | `FLAG_NOT_FOUND` |
/// | 3–9 | see [`evaluate_flag`] | | |
pub fn evaluate(snapshot: &Snapshot, key: &str, ctx: &Context<'_>) -> Decision {
    evaluate_at(snapshot, snapshot.position(key), ctx)
}

/// [`evaluate`] for the flag at `index` in `snapshot` (from [`Snapshot::position`]; `None`:
/// unknown), for callers that also want the index (the SDK counts exposures by it).
pub fn evaluate_at(snapshot: &Snapshot, index: Option<usize>, ctx: &Context<'_>) -> Decision {
    evaluate_found(snapshot, index.and_then(|i| snapshot.flag_at(i)), ctx)
}

/// [`evaluate`] for a flag of `snapshot` already in hand (`None`: unknown), for callers that
/// walk the snapshot's flags (bulk evaluation).
pub fn evaluate_found(snapshot: &Snapshot, flag: Option<&Flag>, ctx: &Context<'_>) -> Decision {
    if snapshot.global_kill_switch.active {
        return Decision::new(false, Reason::GlobalKillSwitch, flag.map(|f| f.version));
    }
    let Some(flag) = flag else {
        return Decision::new(false, Reason::FlagNotFound, None);
    };
    evaluate_flag(flag, ctx)
}

/// Rules 3–9 for one known flag; the global kill switch (rule 1) is [`evaluate`]'s.
///
/// | # | condition | result | reason |
/// |---|---|---|---|
/// | 3 | flag's kill switch on | off | `KILL_SWITCH` |
/// | 4 | `enabled` false | off | `DISABLED` |
/// | 5 | user in whitelist | on | `WHITELIST` |
/// | 6 | markets listed, caller's market absent or not listed | off | `MARKET_EXCLUDED` |
/// | 7 | rollout 100 % | on | `ROLLOUT` |
/// | 8 | no user | off | `ROLLOUT` |
/// | 9 | `bucket(group, user) <= rollout` | on, else off | `ROLLOUT` |
pub fn evaluate_flag(flag: &Flag, ctx: &Context<'_>) -> Decision {
    let version = Some(flag.version);
    let decide = |enabled, reason| Decision::new(enabled, reason, version);
    if flag.kill_switch {
        return decide(false, Reason::KillSwitch);
    }
    if !flag.enabled {
        return decide(false, Reason::Disabled);
    }
    let user = ctx.user_id();
    if let Some(user) = user
        && flag.whitelist.contains(user)
    {
        return decide(true, Reason::Whitelist);
    }
    if !flag.markets.is_empty() {
        let listed = ctx
            .market
            .as_deref()
            .is_some_and(|m| flag.markets.contains(m));
        if !listed {
            return decide(false, Reason::MarketExcluded);
        }
    }
    if flag.rollout_percentage >= 100 {
        return decide(true, Reason::Rollout);
    }
    // Buckets are 1..=100: at 0 % nobody is inside, and no hash need say so.
    let Some(user) = user.filter(|_| flag.rollout_percentage > 0) else {
        return decide(false, Reason::Rollout);
    };
    decide(
        bucket(flag.group(), user) <= flag.rollout_percentage,
        Reason::Rollout,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KillSwitch, Markets, Whitelist};

    fn flag() -> Flag {
        Flag {
            enabled: true,
            rollout_percentage: 50,
            group_id: Some("AB12A".into()),
            markets: Markets::new(["FR", "US"]),
            whitelist: Whitelist::new(["vip"]),
            version: 7,
            ..Flag::new("f")
        }
    }

    fn eval(flag: Flag, user: Option<&str>, market: Option<&str>) -> Decision {
        let mut ctx = Context::new();
        ctx.user_id = user.map(Into::into);
        ctx.market = market.map(Into::into);
        evaluate_flag(&flag, &ctx)
    }

    #[test]
    fn each_rule_in_order() {
        let r = |d: Decision| (d.enabled, d.reason);
        use Reason::*;
        let killed = Flag {
            kill_switch: true,
            ..flag()
        };
        assert_eq!(
            r(eval(killed, Some("vip"), Some("FR"))),
            (false, KillSwitch)
        );
        let disabled = Flag {
            enabled: false,
            ..flag()
        };
        assert_eq!(
            r(eval(disabled, Some("vip"), Some("FR"))),
            (false, Disabled)
        );
        assert_eq!(r(eval(flag(), Some("vip"), None)), (true, Whitelist));
        assert_eq!(r(eval(flag(), Some("122"), None)), (false, MarketExcluded));
        assert_eq!(
            r(eval(flag(), Some("122"), Some("DE"))),
            (false, MarketExcluded)
        );
        assert_eq!(r(eval(flag(), Some("122"), Some("fr"))), (true, Rollout));
        assert_eq!(r(eval(flag(), Some("155"), Some("fr"))), (false, Rollout));
        assert_eq!(r(eval(flag(), None, Some("fr"))), (false, Rollout));
        assert_eq!(r(eval(flag(), Some(""), Some("fr"))), (false, Rollout));
        let full = Flag {
            rollout_percentage: 100,
            ..flag()
        };
        assert_eq!(r(eval(full, None, Some("US"))), (true, Rollout));
    }

    #[test]
    fn global_kill_switch_and_unknown_flags() {
        let mut snap = Snapshot::new(1, KillSwitch::default(), [flag()]);
        let ctx = Context::new().user("vip");
        let missing = evaluate(&snap, "nope", &ctx);
        assert_eq!(missing, Decision::new(false, Reason::FlagNotFound, None));
        snap.global_kill_switch.active = true;
        let killed = evaluate(&snap, "f", &ctx);
        assert_eq!(
            killed,
            Decision::new(false, Reason::GlobalKillSwitch, Some(7))
        );
        let killed_missing = evaluate(&snap, "nope", &ctx);
        assert_eq!(killed_missing.reason, Reason::GlobalKillSwitch);
    }
}
