//! Properties of bucketing and evaluation that SPEC §2 says must hold for every input.

use proptest::prelude::*;
use switchyard_core::{
    Context, Flag, KillSwitch, Markets, Reason, Snapshot, Whitelist, bucket, evaluate,
    evaluate_flag,
};

/// Any flag a client could store: enabled or not, any rollout, up to 4 markets, up to 8
/// whitelisted users, maybe a group.
fn any_flag() -> impl Strategy<Value = Flag> {
    (
        "[a-z0-9][a-z0-9._-]{0,20}",
        any::<bool>(),
        0u32..=100,
        proptest::option::of("[a-z0-9]{1,8}"),
        proptest::collection::vec("[A-Z]{2}", 0..4),
        proptest::collection::vec("[a-z0-9-]{1,12}", 0..8),
    )
        .prop_map(|(key, enabled, rollout, group, markets, users)| Flag {
            enabled,
            rollout_percentage: rollout,
            group_id: group,
            markets: Markets::new(markets),
            whitelist: Whitelist::new(users),
            ..Flag::new(key)
        })
}

fn any_context() -> impl Strategy<Value = Context<'static>> {
    (
        proptest::option::of("[a-z0-9-]{0,12}"),
        proptest::option::of("[A-Za-z]{2}"),
    )
        .prop_map(|(user, market)| Context {
            user_id: user.map(Into::into),
            market: market.map(Into::into),
        })
}

/// A deterministic stream of pseudo-random user ids (splitmix64), so the share test needs no
/// 100,000-element strategy.
fn user_ids(seed: u64, count: usize) -> impl Iterator<Item = String> {
    let mut state = seed;
    (0..count).map(move |_| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        format!("{:x}", z ^ (z >> 31))
    })
}

fn rollout(group: &str, percentage: u32) -> Flag {
    Flag {
        enabled: true,
        rollout_percentage: percentage,
        group_id: Some(group.to_owned()),
        ..Flag::new("rollout")
    }
}

proptest! {
    #[test]
    fn bucket_is_in_range_and_deterministic(group in ".{0,40}", user in ".{0,60}") {
        let b = bucket(&group, &user);
        prop_assert!((1..=100).contains(&b));
        prop_assert_eq!(b, bucket(&group, &user));
    }

    #[test]
    fn raising_the_percentage_never_turns_a_user_off(
        group in "[a-z0-9]{1,12}", user in "[a-z0-9-]{1,24}", low in 0u32..=100, step in 0u32..=100,
    ) {
        let high = (low + step).min(100);
        let ctx = Context::new().user(user.as_str());
        let before = evaluate_flag(&rollout(&group, low), &ctx).enabled;
        let after = evaluate_flag(&rollout(&group, high), &ctx).enabled;
        prop_assert!(!before || after, "on at {low} % but off at {high} %");
    }

    #[test]
    fn zero_is_nobody_and_hundred_is_everybody(group in "[a-z0-9]{1,12}", ctx in any_context()) {
        prop_assert!(!evaluate_flag(&rollout(&group, 0), &ctx).enabled);
        prop_assert!(evaluate_flag(&rollout(&group, 100), &ctx).enabled);
    }

    #[test]
    fn kill_switches_beat_everything(flag in any_flag(), ctx in any_context()) {
        // Whitelist the context's user too, so the strongest "on" rule is in play.
        let mut flag = flag;
        let mut users: Vec<String> = flag.whitelist.sorted().into_iter().map(str::to_owned).collect();
        users.extend(ctx.user_id().map(str::to_owned));
        flag.whitelist = Whitelist::new(users);
        flag.enabled = true;
        flag.rollout_percentage = 100;

        let killed = Flag { kill_switch: true, ..flag.clone() };
        let d = evaluate_flag(&killed, &ctx);
        prop_assert_eq!((d.enabled, d.reason), (false, Reason::KillSwitch));

        let global = KillSwitch { active: true, ..KillSwitch::default() };
        let key = flag.key.clone();
        let snapshot = Snapshot::new(1, global, [flag]);
        let d = evaluate(&snapshot, &key, &ctx);
        prop_assert_eq!((d.enabled, d.reason), (false, Reason::GlobalKillSwitch));
    }

    #[test]
    fn whitelist_beats_markets_and_rollout(
        flag in any_flag(), user in "[a-z0-9-]{1,12}", market in proptest::option::of("[A-Z]{2}"),
    ) {
        let mut users: Vec<String> = flag.whitelist.sorted().into_iter().map(str::to_owned).collect();
        users.push(user.clone());
        let flag = Flag { enabled: true, whitelist: Whitelist::new(users), ..flag };
        let ctx = Context { user_id: Some(user.into()), market: market.map(Into::into) };
        let d = evaluate_flag(&flag, &ctx);
        prop_assert_eq!((d.enabled, d.reason), (true, Reason::Whitelist));
    }
}

proptest! {
    // Each case hashes 100,000 ids: a few cases are plenty.
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn share_on_is_within_one_point_over_100k_ids(
        seed in any::<u64>(), percentage in prop::sample::select(vec![1u32, 5, 25, 50, 75, 99]),
    ) {
        const N: usize = 100_000;
        let flag = rollout("share-test", percentage);
        let on = user_ids(seed, N)
            .filter(|u| evaluate_flag(&flag, &Context::new().user(u.as_str())).enabled)
            .count();
        let share = on as f64 * 100.0 / N as f64;
        prop_assert!(
            (share - f64::from(percentage)).abs() <= 1.0,
            "{share:.2} % on at a {percentage} % rollout"
        );
    }
}
