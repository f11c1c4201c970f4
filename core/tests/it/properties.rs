//! Properties of bucketing and evaluation that docs/flags.md#the-decision says must hold for every input.

use proptest::prelude::*;
use std::collections::BTreeMap;

use switchyard_core::{
    Context, Delta, Flag, KillSwitch, Markets, Reason, Snapshot, Whitelist, bucket, evaluate,
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
        .prop_map(|(user, market)| {
            let mut ctx = Context::new();
            ctx.user_id = user.map(Into::into);
            ctx.market = market.map(Into::into);
            ctx
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
    fn bucket_is_the_reference_murmur3_of_the_joined_string(
        group in ".{0,40}", user in ".{0,1100}"
    ) {
        // The murmur3 crate, hashing `group:user` as one string, is the reference.
        let joined = format!("{group}:{user}");
        let reference = murmur3::murmur3_32(&mut joined.as_bytes(), 0).unwrap() % 100 + 1;
        prop_assert_eq!(bucket(&group, &user), reference);
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
        let mut ctx = Context::new().user(user);
        ctx.market = market.map(Into::into);
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

/// One change a commit can make: put flag (key, version), delete key, flip the kill switch.
#[derive(Clone, Debug)]
enum Op {
    Put(u8, u64),
    Delete(u8),
    Kill(bool),
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..24, 1u64..50).prop_map(|(k, v)| Op::Put(k, v)),
        (0u8..24).prop_map(Op::Delete),
        any::<bool>().prop_map(Op::Kill),
    ]
}

fn versioned(key: u8, version: u64) -> Flag {
    Flag {
        version,
        rollout_percentage: u32::from(key) * 4,
        ..Flag::new(format!("f{key:02}"))
    }
}

proptest! {
    /// A snapshot changed commit by commit equals one built afresh from the same flags, so an
    /// instance applying writes in place serves what a reload would.
    #[test]
    fn changes_applied_in_place_equal_a_rebuild(
        initial in proptest::collection::btree_map(0u8..24, 1u64..50, 0..16),
        commits in proptest::collection::vec(proptest::collection::vec(any_op(), 1..5), 1..12),
    ) {
        let mut model: BTreeMap<u8, Flag> =
            initial.iter().map(|(&k, &v)| (k, versioned(k, v))).collect();
        let mut switch = KillSwitch::default();
        let mut snapshot = Snapshot::new(1, switch.clone(), model.values().cloned());
        for (n, ops) in commits.into_iter().enumerate() {
            let mut delta = Delta::default();
            for op in ops {
                match op {
                    Op::Put(k, v) => {
                        model.insert(k, versioned(k, v));
                        delta.put(versioned(k, v));
                    }
                    Op::Delete(k) => {
                        model.remove(&k);
                        delta.delete(&format!("f{k:02}"));
                    }
                    Op::Kill(active) => {
                        switch = KillSwitch { active, ..KillSwitch::default() };
                        delta.set_global_kill_switch(switch.clone());
                    }
                }
            }
            let version = n as u64 + 2;
            snapshot = snapshot.with_changes(version, delta);
            let rebuilt = Snapshot::new(version, switch.clone(), model.values().cloned());
            prop_assert_eq!(&snapshot, &rebuilt);
            for flag in model.values() {
                prop_assert_eq!(snapshot.get(&flag.key), Some(flag));
            }
        }
    }
}
