//! Criterion benchmarks of evaluation, each group beside its baseline: `evaluate` beside
//! murmur3 over the same bytes alone (the floor any bucketed evaluation pays; mur3, as the core
//! hashes, and the murmur3 crate it used before), and the SDK's
//! `is_enabled` beside `switchyard-core` called directly; a write applied to the served
//! snapshot in place beside the full reload it replaced; a flag with rules and variants beside
//! a boolean one, and the SDK's typed getters beside `is_enabled` on the same flag.
//!
//! Run: `cargo bench -p switchyard-benches --bench evaluate`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use switchyard_core::{
    Context, Delta, Flag, KillSwitch, Markets, Snapshot, Whitelist, evaluate_flag,
};

/// The issue's flag: a 1,000-id whitelist, 3 markets, a 25 % rollout.
fn realistic_flag(key: &str) -> Flag {
    Flag {
        enabled: true,
        rollout_percentage: 25,
        markets: Markets::new(["FR", "US", "UK"]),
        whitelist: Whitelist::new((0..1_000).map(|i| format!("internal-user-{i}"))),
        version: 7,
        ..Flag::new(key)
    }
}

fn bench_evaluate(c: &mut Criterion) {
    let mut group = c.benchmark_group("evaluate");
    let flag = realistic_flag("new-onboarding");
    // A user outside the whitelist in a listed market: every rule runs, down to the bucket.
    let ctx = Context::new().user("user-4242").market("fr");
    let joined = b"new-onboarding:user-4242";

    group.bench_function("baseline_murmur3_same_bytes", |b| {
        b.iter(|| mur3::murmurhash3_x86_32(black_box(&joined[..]), 0))
    });
    // The murmur3 crate the core used before (the tests' reference): the same hash, read
    // through `io::Read` four bytes at a time.
    group.bench_function("reference_murmur3_crate_same_bytes", |b| {
        b.iter(|| murmur3::murmur3_32(&mut black_box(&joined[..]), 0).unwrap())
    });
    group.bench_function("part_bucket", |b| {
        b.iter(|| switchyard_core::bucket(black_box("new-onboarding"), black_box("user-4242")))
    });
    group.bench_function("part_whitelist_1000_lookup", |b| {
        b.iter(|| flag.whitelist.contains(black_box("user-4242")))
    });
    group.bench_function("part_markets_3_lookup", |b| {
        b.iter(|| flag.markets.contains(black_box("fr")))
    });
    group.bench_function("flag_whitelist1000_3markets_25pct", |b| {
        b.iter(|| evaluate_flag(black_box(&flag), black_box(&ctx)))
    });

    let snapshot = Snapshot::new(
        1,
        KillSwitch::default(),
        (0..10_000).map(|i| realistic_flag(&format!("flag-{i:05}"))),
    );
    group.bench_function("snapshot10000_lookup_and_evaluate", |b| {
        b.iter(|| snapshot.evaluate(black_box("flag-04242"), black_box(&ctx)))
    });
    group.finish();
}

/// The SDK's `is_enabled` beside `switchyard-core` called directly on the same snapshot:
/// what the client adds (a lock-free snapshot load and the default handling), without and
/// with impact counting.
fn bench_sdk(c: &mut Criterion) {
    let mut group = c.benchmark_group("sdk");
    let ctx = Context::new().user("user-4242").market("fr");
    let export =
        Snapshot::new(1, KillSwitch::default(), [realistic_flag("new-onboarding")]).to_export();
    let snapshot = Snapshot::from_export(1, export.clone());
    let client = switchyard_sdk::Client::builder("http://127.0.0.1:9", "unused")
        .offline(true)
        .bootstrap(export)
        .build()
        .expect("an offline client");
    group.bench_function("baseline_core_snapshot_evaluate", |b| {
        b.iter(|| {
            snapshot
                .evaluate(black_box("new-onboarding"), black_box(&ctx))
                .enabled
        })
    });
    group.bench_function("client_is_enabled", |b| {
        b.iter(|| client.is_enabled(black_box("new-onboarding"), black_box(&ctx)))
    });
    // The same, with impact counting on (docs/api.md#release-plans): a running client (its server unreachable,
    // so its reports fail quietly) whose every evaluation counts an exposure.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let counting = runtime.block_on(async {
        switchyard_sdk::Client::builder("http://127.0.0.1:9", "unused")
            .bootstrap(
                Snapshot::new(1, KillSwitch::default(), [realistic_flag("new-onboarding")])
                    .to_export(),
            )
            .build()
            .expect("a client")
    });
    group.bench_function("client_is_enabled_counting_impact", |b| {
        b.iter(|| counting.is_enabled(black_box("new-onboarding"), black_box(&ctx)))
    });
    group.finish();
    drop(counting);
    drop(runtime);
}

/// What a write costs the served snapshot, with `n` flags: applying the commit's one changed
/// flag in place, beside the baseline of reloading every flag from the embedded store,
/// rebuilding the snapshot and serialising its body (what every write did before).
fn bench_snapshot_update(c: &mut Criterion) {
    use switchyard_server::published::Published;
    use switchyard_server::store::embedded::EmbeddedStore;
    use switchyard_server::store::{Commit, Store, Write};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("snapshot_update");
    for n in [1_000, 10_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = EmbeddedStore::open(dir.path()).expect("store");
        let flag = |i: usize, version| Flag {
            enabled: true,
            rollout_percentage: 25,
            markets: Markets::new(["FR", "US", "UK"]),
            whitelist: Whitelist::new((0..10).map(|u| format!("internal-user-{u}"))),
            version,
            ..Flag::new(format!("flag-{i:05}"))
        };
        let writes = (0..n)
            .map(|i| Write::PutFlag {
                flag: flag(i, 1),
                expected: None,
            })
            .collect();
        let commit = Commit {
            writes,
            audit: Vec::new(),
        };
        let revision = runtime.block_on(store.commit(commit)).expect("commit");
        let published = Published::build(runtime.block_on(store.load()).expect("load"));
        assert_eq!(published.snapshot.version, revision);

        group.bench_function(format!("baseline_reload_{n}_flags"), |b| {
            b.iter(|| {
                let loaded = runtime.block_on(store.load()).expect("load");
                let published = Published::build(loaded);
                black_box(published.body())
            })
        });
        let changed = flag(n / 2, 2);
        group.bench_function(format!("in_place_one_of_{n}_flags"), |b| {
            b.iter(|| {
                let mut delta = Delta::default();
                delta.put(changed.clone());
                black_box(published.apply(revision + 1, delta))
            })
        });
    }
    group.finish();
}

/// A context of one attribute, for the constraint benchmarks.
struct OneAttribute(&'static str, String);

impl switchyard_core::constraint::Attributes for OneAttribute {
    fn attribute(&self, name: &str) -> Option<&str> {
        (name == self.0).then_some(self.1.as_str())
    }
}

/// Constraint matching: `IN` over 10 values beside `IN` over 10,000 (a set, so the same
/// cost), and the other kinds a rule holds (`SEMVER_GT`, `STR_STARTS_WITH`, `REGEX`).
fn bench_constraints(c: &mut Criterion) {
    use switchyard_core::constraint::{Constraint, ConstraintSpec};
    let mut group = c.benchmark_group("constraint");
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
    let constraint = |operator: &str, values: Vec<String>, value: Option<&str>| {
        Constraint::new(ConstraintSpec {
            attribute: "a".into(),
            operator: operator.into(),
            values,
            value: value.map(str::to_owned),
            ..ConstraintSpec::default()
        })
        .expect("a valid constraint")
    };
    let users = |n: usize| (0..n).map(|i| format!("user-{i}")).collect::<Vec<_>>();
    for n in [10, 10_000] {
        let c = constraint("IN", users(n), None);
        let ctx = OneAttribute("a", "user-7".into());
        group.bench_function(format!("in_{n}_values"), |b| {
            b.iter(|| c.matches(black_box(&ctx), Some(now)))
        });
    }
    let cases = [
        (
            "semver_gt",
            constraint("SEMVER_GT", Vec::new(), Some("2.2.9")),
            "2.3.1",
        ),
        (
            "str_starts_with_3",
            constraint(
                "STR_STARTS_WITH",
                vec!["a".into(), "b".into(), "user-".into()],
                None,
            ),
            "user-42",
        ),
        (
            "regex",
            constraint("REGEX", Vec::new(), Some(r"^user-\d+$")),
            "user-42",
        ),
    ];
    for (name, c, value) in cases {
        let ctx = OneAttribute("a", value.into());
        group.bench_function(name, |b| b.iter(|| c.matches(black_box(&ctx), Some(now))));
    }
    group.finish();
}

/// A flag beyond on/off: 5 rules of 3 constraints each (`IN` over 1,000 values,
/// `SEMVER_GT`, `STR_STARTS_WITH`) and 3 variants, evaluated for a context every rule's
/// first two constraints match and only the last rule's third: all 15 constraints run
/// before the last rule includes it and its split picks a variant. Beside it, the boolean
/// flag of the `evaluate` group (the baseline of what a flag with no rules costs).
fn ruled_flag(prefix: impl Fn(usize) -> String) -> Flag {
    use switchyard_core::constraint::{Constraint, ConstraintSpec};
    let spec = |attribute: &str, operator: &str, values: Vec<String>, value: Option<&str>| {
        Constraint::new(ConstraintSpec {
            attribute: attribute.into(),
            operator: operator.into(),
            values,
            value: value.map(str::to_owned),
            ..ConstraintSpec::default()
        })
        .expect("a valid constraint")
    };
    let rules = (0..5)
        .map(|i| {
            let mut rule = switchyard_core::Rule::new(format!("rule {i}"));
            rule.constraints = vec![
                spec(
                    "account",
                    "IN",
                    (0..1_000).map(|a| format!("acct-{a}")).collect(),
                    None,
                ),
                spec("app_version", "SEMVER_GT", vec![], Some("2.2.9")),
                spec("device", "STR_STARTS_WITH", vec![prefix(i)], None),
            ];
            rule.rollout_percentage = 100;
            rule
        })
        .collect();
    let variant = |name: &str, weight| switchyard_core::FlagVariant {
        name: name.into(),
        value: serde_json::json!(name),
        weight,
    };
    Flag {
        enabled: true,
        variants: vec![variant("a", 334), variant("b", 333), variant("c", 333)],
        off_value: Some(serde_json::json!("off-value")),
        rules,
        version: 3,
        ..Flag::new("ruled")
    }
}

fn ruled_context() -> Context<'static> {
    Context::new()
        .user("user-4242")
        .with("account", "acct-777")
        .with("app_version", "2.4.1")
        .with("device", "model-4-pro")
}

fn bench_rules(c: &mut Criterion) {
    let mut group = c.benchmark_group("rules");
    let boolean = realistic_flag("new-onboarding");
    let ctx = Context::new().user("user-4242").market("fr");
    group.bench_function("baseline_boolean_flag_no_rules", |b| {
        b.iter(|| evaluate_flag(black_box(&boolean), black_box(&ctx)))
    });
    let flag = ruled_flag(|i| format!("model-{i}"));
    let ruled = ruled_context();
    assert_eq!(
        evaluate_flag(&flag, &ruled).rule,
        Some(4),
        "the last rule decides"
    );
    group.bench_function("flag_5rules_3constraints_3variants", |b| {
        b.iter(|| evaluate_flag(black_box(&flag), black_box(&ruled)))
    });
    // The worst case: the same flag but every rule's prefix `model-`, and a context that
    // matches every cheap constraint while the dear one (the version) refuses it: all 15
    // constraints run and no rule includes it.
    let every = ruled_flag(|_| "model-".to_owned());
    let old_app = ruled_context().with("app_version", "2.0.0");
    assert_eq!(
        evaluate_flag(&every, &old_app).rule,
        None,
        "no rule decides"
    );
    group.bench_function("flag_5rules_every_constraint_runs_none_match", |b| {
        b.iter(|| evaluate_flag(black_box(&every), black_box(&old_app)))
    });
    group.finish();

    // The SDK: a typed getter beside `is_enabled` on the same flag.
    let mut group = c.benchmark_group("sdk_values");
    let export = Snapshot::new(1, KillSwitch::default(), [flag, boolean]).to_export();
    let client = switchyard_sdk::Client::builder("http://127.0.0.1:9", "unused")
        .offline(true)
        .bootstrap(export)
        .build()
        .expect("an offline client");
    group.bench_function("baseline_is_enabled_ruled", |b| {
        b.iter(|| client.is_enabled(black_box("ruled"), black_box(&ruled)))
    });
    group.bench_function("string_value_ruled", |b| {
        b.iter(|| client.string_value(black_box("ruled"), black_box(&ruled), "x"))
    });
    group.bench_function("baseline_is_enabled_boolean", |b| {
        b.iter(|| client.is_enabled(black_box("new-onboarding"), black_box(&ctx)))
    });
    group.bench_function("bool_value_boolean", |b| {
        b.iter(|| client.bool_value(black_box("new-onboarding"), black_box(&ctx), false))
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_evaluate,
    bench_sdk,
    bench_snapshot_update,
    bench_constraints,
    bench_rules
);
criterion_main!(benches);
