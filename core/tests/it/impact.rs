//! The impact guard's statistics (docs/api.md#release-plans): simulated stages in which the guard looks after
//! every batch of exposures, as a running plan does.
//! - With the on-rate exactly at the limit (`max_ratio` × the off-rate, the worst case the
//!   guard must not trip on), the sequential test trips in at most `1 − confidence` of the
//!   stages (checked with the simulation's own margin), while the same data judged by a
//!   fixed-sample z-test at every look trips far more often: the reason for the sequential
//!   test.
//! - With the on-rate 5× the off-rate it trips in nearly every stage, soon.
//! - Properties: more on-cohort events never make the test less sure, more off-cohort
//!   events never make it more sure, and equal rates below the ratio never trip.

use proptest::prelude::*;
use switchyard_core::impact::{ImpactSums, assess, p_value};

/// Events among `n` exposures at rate `p`: a binomial draw, counted by geometric jumps
/// (exact, and fast for small rates).
fn binomial(rng: &mut fastrand::Rng, n: u64, p: f64) -> u64 {
    let log_q = (1.0 - p).ln();
    let (mut at, mut events) = (0u64, 0u64);
    loop {
        let u = 1.0 - rng.f64(); // (0, 1]
        at += (u.ln() / log_q).floor() as u64 + 1;
        if at > n {
            return events;
        }
        events += 1;
    }
}

struct Stage {
    batch: u64,
    looks: usize,
    min_exposures: u64,
    max_ratio: f64,
    confidence: f64,
}

/// Whether one simulated stage ever trips: (sequential test, fixed-sample z-test at every
/// look), and at which look the sequential test tripped.
fn simulate(rng: &mut fastrand::Rng, s: &Stage, p_on: f64, p_off: f64) -> (Option<usize>, bool) {
    let mut sums = ImpactSums::default();
    let (mut sequential, mut naive) = (None, false);
    for look in 0..s.looks {
        sums.on.exposures += s.batch;
        sums.off.exposures += s.batch;
        *sums.on.counts.entry("error".into()).or_default() += binomial(rng, s.batch, p_on);
        *sums.off.counts.entry("error".into()).or_default() += binomial(rng, s.batch, p_off);
        let a = assess(&sums, "error", s.max_ratio, s.min_exposures, s.confidence);
        if a.harmful && sequential.is_none() {
            sequential = Some(look);
        }
        if a.enough {
            // A fixed-sample one-sided z-test of the same hypothesis (log ratio), at 95 %.
            let (n1, n0) = (sums.on.exposures as f64, sums.off.exposures as f64);
            let p1 = (sums.on.count("error") as f64 + 0.5) / (n1 + 1.0);
            let p0 = (sums.off.count("error") as f64 + 0.5) / (n0 + 1.0);
            let se = ((1.0 - p1) / (p1 * (n1 + 1.0)) + (1.0 - p0) / (p0 * (n0 + 1.0))).sqrt();
            let z = ((p1 / p0).ln() - s.max_ratio.ln()) / se;
            naive |= z > 1.6449;
        }
    }
    (sequential, naive)
}

const STAGE: Stage = Stage {
    batch: 500,
    looks: 100,
    min_exposures: 1000,
    max_ratio: 1.5,
    confidence: 0.95,
};

#[test]
fn at_the_limit_false_trips_stay_within_one_minus_confidence() {
    let mut rng = fastrand::Rng::with_seed(20261202);
    let stages = 2000;
    let (mut sequential, mut naive) = (0u32, 0u32);
    for _ in 0..stages {
        let (s, n) = simulate(&mut rng, &STAGE, 0.03, 0.02);
        sequential += u32::from(s.is_some());
        naive += u32::from(n);
    }
    let alpha = 1.0 - STAGE.confidence;
    let rate = f64::from(sequential) / f64::from(stages);
    let naive_rate = f64::from(naive) / f64::from(stages);
    // The bound with this simulation's own margin: 3 standard errors of a rate of alpha.
    let margin = 3.0 * (alpha * (1.0 - alpha) / f64::from(stages)).sqrt();
    println!(
        "false trips over {stages} stages of {} looks: sequential {rate:.4}, fixed-sample \
         at every look {naive_rate:.4} (level {alpha})",
        STAGE.looks
    );
    assert!(rate <= alpha + margin, "sequential false-trip rate {rate}");
    assert!(
        naive_rate > 2.0 * alpha,
        "the fixed-sample test at every look: {naive_rate}"
    );
}

#[test]
fn five_times_the_errors_trips_nearly_every_stage_soon() {
    let mut rng = fastrand::Rng::with_seed(7);
    let stages = 300;
    let mut looks = Vec::new();
    for _ in 0..stages {
        if let (Some(look), _) = simulate(&mut rng, &STAGE, 0.10, 0.02) {
            looks.push(look);
        }
    }
    assert!(
        looks.len() as f64 >= 0.99 * stages as f64,
        "tripped in {}",
        looks.len()
    );
    looks.sort_unstable();
    assert!(
        looks[looks.len() / 2] <= 3,
        "median look {}",
        looks[looks.len() / 2]
    );
}

proptest! {
    #[test]
    fn more_on_events_never_make_the_test_less_sure(
        n1 in 1u64..100_000, n0 in 1u64..100_000, e0 in 0u64..1000, e1 in 0u64..1000,
        more in 1u64..1000, ratio in 1.0f64..4.0,
    ) {
        let (e1, e0) = (e1.min(n1), e0.min(n0));
        let e1_more = (e1 + more).min(n1);
        prop_assert!(p_value(e1_more, n1, e0, n0, ratio) <= p_value(e1, n1, e0, n0, ratio) + 1e-12);
        let e0_more = (e0 + more).min(n0);
        prop_assert!(p_value(e1, n1, e0_more, n0, ratio) >= p_value(e1, n1, e0, n0, ratio) - 1e-12);
    }

    #[test]
    fn equal_rates_below_the_ratio_never_trip(n in 1000u64..1_000_000, per_mille in 0u64..500, ratio in 1.01f64..4.0) {
        let e = n * per_mille / 1000;
        prop_assert_eq!(p_value(e, n, e, n, ratio), 1.0);
    }

    #[test]
    fn p_values_are_probabilities(e1 in 0u64..10_000, n1 in 0u64..10_000, e0 in 0u64..10_000, n0 in 0u64..10_000, ratio in 1.0f64..10.0) {
        let p = p_value(e1, n1, e0, n0, ratio);
        prop_assert!((0.0..=1.0).contains(&p), "{}", p);
    }
}
