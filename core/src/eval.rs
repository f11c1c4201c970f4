//! Evaluation: the rules of docs/flags.md#the-decision, in order; the first that applies decides.
//! Reads only the snapshot and the context (the clock too is the context's): no allocation,
//! no lock, no I/O.

use crate::bucket::{bucket, split};
use crate::constraint::all_match;
use crate::context::Context;
use crate::decision::{Decision, Pick, Reason};
use crate::flag::Flag;
use crate::rule::{MAX_REQUIRES_DEPTH, Rule};
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
/// | 3–11 | see [`evaluate_flag`] | | |
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
    decide(Some(snapshot), flag, ctx, &mut Budget::new())
}

/// Rules 3–12 for one known flag, alone: with no snapshot around it, a flag it requires or
/// a segment a rule names is unknown (the requirement fails, the rule does not match). The
/// global kill switch (rule 1) is [`evaluate`]'s.
///
/// | # | condition | result | reason |
/// |---|---|---|---|
/// | 3 | flag's kill switch on | off | `KILL_SWITCH` |
/// | 4 | `enabled` false | off | `DISABLED` |
/// | 5 | a flag in `requires` not as required | off | `PREREQUISITE_FAILED` |
/// | 6 | user in whitelist | on | `WHITELIST` |
/// | 7 | markets listed, caller's market absent or not listed | off | `MARKET_EXCLUDED` |
/// | 8 | a rule includes the context (the first one decides) | on | `RULE_MATCH` |
/// | 9 | rollout 100 % | on | `ROLLOUT` |
/// | 10 | no stickiness value (user) | off | `ROLLOUT` |
/// | 11 | `bucket(group, user) <= rollout` | on, else off | `ROLLOUT` |
///
/// A flag with variants serves, when on, the variant the deciding rule pins or splits, else
/// the flag's split; when off, `off_value` (see [`Flag::value`]).
pub fn evaluate_flag(flag: &Flag, ctx: &Context<'_>) -> Decision {
    decide(None, flag, ctx, &mut Budget::new())
}

/// How many flags one decision may evaluate through `requires`, counted along every path
/// (validation refuses a flag that would need more, so only data no write allowed meets it).
pub const MAX_PREREQUISITE_EVALUATIONS: usize = 64;

/// What is left of a decision's prerequisite evaluations, and how deep it is.
struct Budget {
    left: usize,
    depth: usize,
}

impl Budget {
    fn new() -> Self {
        Budget {
            left: MAX_PREREQUISITE_EVALUATIONS,
            depth: 0,
        }
    }
}

fn decide(
    snapshot: Option<&Snapshot>,
    flag: &Flag,
    ctx: &Context<'_>,
    budget: &mut Budget,
) -> Decision {
    let version = Some(flag.version);
    let off = |reason| Decision::new(false, reason, version);
    if flag.kill_switch {
        return off(Reason::KillSwitch);
    }
    if !flag.enabled {
        return off(Reason::Disabled);
    }
    if !flag.requires.is_empty() && !requirements_met(snapshot, flag, ctx, budget) {
        return off(Reason::PrerequisiteFailed);
    }
    let on = |reason, rule: Option<(usize, &Rule)>| {
        let decision = Decision::new(true, reason, version);
        if flag.variants.is_empty() && rule.is_none_or(|(_, r)| r.variants.is_empty()) {
            return decision;
        }
        let index = rule.and_then(|(i, _)| u16::try_from(i).ok());
        decision
            .by_rule(index)
            .picking(pick(flag, rule.map(|(_, r)| r), ctx))
    };
    let user = ctx.user_id();
    if let Some(user) = user
        && flag.whitelist.contains(user)
    {
        return on(Reason::Whitelist, None);
    }
    if !flag.markets.is_empty() {
        let listed = ctx
            .market
            .as_deref()
            .is_some_and(|m| flag.markets.contains(m));
        if !listed {
            return off(Reason::MarketExcluded);
        }
    }
    if !flag.rules.is_empty() {
        let sticky = flag.stickiness_value(ctx);
        let found = flag
            .rules
            .iter()
            .enumerate()
            .find(|(_, rule)| includes(snapshot, flag, rule, sticky, ctx));
        if let Some(found) = found {
            let decision = on(Reason::RuleMatch, Some(found));
            // The rule's index, even for a boolean flag (no variant to pick).
            return decision.by_rule(u16::try_from(found.0).ok());
        }
    }
    if flag.rollout_percentage >= 100 {
        return on(Reason::Rollout, None);
    }
    let sticky = if flag.stickiness.is_none() {
        user
    } else {
        flag.stickiness_value(ctx)
    };
    if in_rollout(flag.group(), sticky, flag.rollout_percentage) {
        on(Reason::Rollout, None)
    } else {
        off(Reason::Rollout)
    }
}

/// Whether `sticky` is inside a rollout of `percentage` in `group`. Buckets are 1..=100: at
/// 0 % nobody is inside, at 100 % everyone (with a stickiness value or not), and no hash
/// need say so.
fn in_rollout(group: &str, sticky: Option<&str>, percentage: u32) -> bool {
    if percentage >= 100 {
        return true;
    }
    percentage > 0 && sticky.is_some_and(|s| bucket(group, s) <= percentage)
}

/// Whether `rule` of `flag` includes `ctx`: every constraint, every segment (one the
/// snapshot does not hold matches nothing), and the rule's rollout.
fn includes(
    snapshot: Option<&Snapshot>,
    flag: &Flag,
    rule: &Rule,
    sticky: Option<&str>,
    ctx: &Context<'_>,
) -> bool {
    let now = ctx.now();
    all_match(&rule.constraints, ctx, now)
        && rule.segments.iter().all(|key| {
            snapshot
                .and_then(|s| s.segment(key))
                .is_some_and(|segment| segment.matches(ctx, now))
        })
        && in_rollout(
            rule.group_id.as_deref().unwrap_or(flag.group()),
            sticky,
            rule.rollout_percentage,
        )
}

/// Whether every flag `flag` requires evaluates, for `ctx`, as required. A flag the
/// snapshot does not hold, a chain deeper than [`MAX_REQUIRES_DEPTH`] (a cycle ends there)
/// or a spent budget fails.
fn requirements_met(
    snapshot: Option<&Snapshot>,
    flag: &Flag,
    ctx: &Context<'_>,
    budget: &mut Budget,
) -> bool {
    let Some(snapshot) = snapshot else {
        return false;
    };
    if budget.depth >= MAX_REQUIRES_DEPTH {
        return false;
    }
    flag.requires.iter().all(|required| {
        let Some(parent) = snapshot.get(&required.flag) else {
            return false;
        };
        let Some(left) = budget.left.checked_sub(1) else {
            return false;
        };
        budget.left = left;
        budget.depth += 1;
        let decision = decide(Some(snapshot), parent, ctx, budget);
        budget.depth -= 1;
        decision.enabled == required.enabled
            && (required.variants.is_empty()
                || required
                    .variants
                    .iter()
                    .any(|v| v == parent.variant_name(&decision)))
    })
}

/// The variant a flag that is on serves: the deciding rule's pin, else its own split, else
/// the flag's split; by the stickiness value, or `""` when the context has none (so the
/// choice stays deterministic). `None` when the split's weights are all 0.
fn pick(flag: &Flag, rule: Option<&Rule>, ctx: &Context<'_>) -> Option<Pick> {
    let sticky = flag.stickiness_value(ctx).unwrap_or("");
    let index = |i: usize| u16::try_from(i).ok();
    if let Some(rule) = rule {
        if let Some(name) = &rule.variant {
            let i = flag.variants.iter().position(|v| v.name == *name)?;
            return index(i).map(Pick::Flag);
        }
        if !rule.variants.is_empty() {
            let group = rule.group_id.as_deref().unwrap_or(flag.group());
            let i = split(rule.variants.iter().map(|v| v.weight), group, sticky)?;
            return index(i).map(Pick::Rule);
        }
    }
    let i = split(flag.variants.iter().map(|v| v.weight), flag.group(), sticky)?;
    index(i).map(Pick::Flag)
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
