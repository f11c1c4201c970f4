//! Impact (docs/api.md#release-plans): what SDKs report — exposures and tracked events per flag and variant —
//! summed per plan stage, and the test an impact guard makes on the sums: is the event rate
//! among users who got `on` higher than `max_ratio` × the rate among users who got `off`?
//!
//! The guard looks again and again while a stage runs, and a fixed-sample test checked at
//! every look trips falsely far more often than its level says. So the test is sequential:
//! a mixture sequential probability ratio test (mSPRT) on the log of the rate ratio, whose
//! p-value is valid at any number of looks, by any number of instances: the chance that it
//! *ever* falls to `1 − confidence` during a stage, when the on-rate is at most
//! `max_ratio` × the off-rate, is at most `1 − confidence` (tests/it simulate it).
//!
//! With `p₁`, `p₀` the on and off event rates (each with ½ added to its events and 1 to its
//! exposures, so an empty count has a finite log) and `r` = `max_ratio`:
//! `θ̂ = ln(p₁/p₀) − ln r`, its variance at the limit, with the off rate `q₀ = p₁/r` the
//! limit allows, `V = (1−p₁)/(p₁(n₁+1)) + (1−q₀)/(q₀(n₀+1))` (like a score test's: at the
//! observed off rate, a small count made more off events lower the p-value), and
//! `Λ = √(V/(V+τ²)) · exp(τ²θ̂² / (2V(V+τ²)))` with `τ = 1` (a rate ratio off by a factor of
//! e). The p-value is `min(1, 1/Λ)` when `θ̂ > 0`, else 1 (the test is one-sided).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The most items one impact report may hold (`POST /v1/impact`).
pub const MAX_REPORT_ITEMS: usize = 1000;
/// The most event names one item of a report may count.
pub const MAX_EVENTS_PER_ITEM: usize = 20;
/// The largest number one item may report (per field).
pub const MAX_COUNT: u64 = 1_000_000_000;
/// The longest event name, in bytes.
pub const MAX_EVENT_BYTES: usize = 64;

/// Whether `name` may name an impact event: 1 to [`MAX_EVENT_BYTES`] of `[A-Za-z0-9._:-]`.
pub fn is_event_name(name: &str) -> bool {
    crate::client_id::is_fleet_id(name) && name.len() <= MAX_EVENT_BYTES
}

/// The most event names one cohort's sums keep (per flag and stage): reports are bounded,
/// and so is what they add up to.
pub const MAX_EVENTS: usize = 32;

/// One cohort's sums: how many evaluations gave this variant, and the events tracked after.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cohort {
    /// Evaluations that gave this variant.
    pub exposures: u64,
    /// Events tracked by users who got it, by event name.
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
}

impl Cohort {
    /// How many `event`s were tracked.
    pub fn count(&self, event: &str) -> u64 {
        self.counts.get(event).copied().unwrap_or(0)
    }

    /// Adds `other` to these sums, keeping at most [`MAX_EVENTS`] event names: counts of
    /// further names are left out. Returns how many names were left out.
    pub fn add(&mut self, other: &Cohort) -> usize {
        self.exposures = self.exposures.saturating_add(other.exposures);
        let mut left_out = 0;
        for (event, n) in &other.counts {
            if !self.counts.contains_key(event) && self.counts.len() >= MAX_EVENTS {
                left_out += 1;
                continue;
            }
            let slot = self.counts.entry(event.clone()).or_default();
            *slot = slot.saturating_add(*n);
        }
        left_out
    }
}

/// A flag's sums in one plan stage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImpactSums {
    /// Users who got the feature.
    pub on: Cohort,
    /// Users who did not.
    pub off: Cohort,
}

/// The mixture's scale on the log rate ratio.
const TAU2: f64 = 1.0;

/// What an impact guard's test says of the sums now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Assessment {
    /// The on-rate over the off-rate (with the ½ correction).
    pub ratio: f64,
    /// The always-valid one-sided p-value of "on-rate > max_ratio × off-rate".
    pub p_value: f64,
    /// Both cohorts have `min_exposures`.
    pub enough: bool,
    /// Enough, and the p-value is at most `1 − confidence`: the guard trips.
    pub harmful: bool,
}

/// The event rate of `events` in `exposures`, corrected so that none is finite.
fn rate(events: u64, exposures: u64) -> f64 {
    // Events beyond exposures (an app tracking more than it evaluated) count as all exposed.
    let exposures = exposures.max(events) as f64;
    (events as f64 + 0.5) / (exposures + 1.0)
}

/// The always-valid p-value of `e1` events in `n1` (on) being more than `max_ratio` times
/// `e0` in `n0` (off). See the module's header.
pub fn p_value(e1: u64, n1: u64, e0: u64, n0: u64, max_ratio: f64) -> f64 {
    let (p1, p0) = (rate(e1, n1), rate(e0, n0));
    let theta = (p1 / p0).ln() - max_ratio.ln();
    // Not above the limit (or not a number): no evidence of harm.
    if theta.is_nan() || theta <= 0.0 {
        return 1.0;
    }
    // The variance is taken at the limit (the off rate `p₁/r`), not at the observed off
    // rate: the Wald variance at a small observed count made one more off event *lower* the
    // p-value (0 → 1 off events out of 358 took it from 0.24 to 0.011).
    let q0 = p1 / max_ratio;
    let v = (1.0 - p1) / (p1 * (n1.max(e1) as f64 + 1.0))
        + (1.0 - q0) / (q0 * (n0.max(e0) as f64 + 1.0));
    let log_lambda = 0.5 * (v / (v + TAU2)).ln() + TAU2 * theta * theta / (2.0 * v * (v + TAU2));
    (-log_lambda).exp().min(1.0)
}

/// Tests `sums` for `event` at `max_ratio` and `confidence`, once both cohorts have
/// `min_exposures`.
pub fn assess(
    sums: &ImpactSums,
    event: &str,
    max_ratio: f64,
    min_exposures: u64,
    confidence: f64,
) -> Assessment {
    let (e1, n1) = (sums.on.count(event), sums.on.exposures);
    let (e0, n0) = (sums.off.count(event), sums.off.exposures);
    let p_value = p_value(e1, n1, e0, n0, max_ratio);
    let enough = n1 >= min_exposures && n0 >= min_exposures;
    Assessment {
        ratio: rate(e1, n1) / rate(e0, n0),
        p_value,
        enough,
        harmful: enough && p_value <= 1.0 - confidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values worked by hand from the formula in the header (Python, double precision).
    #[test]
    fn known_cases() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-300);
        assert!(close(
            p_value(60, 2000, 20, 2000, 1.5),
            0.021627262552286475
        ));
        assert!(close(
            p_value(100, 1000, 20, 1000, 1.5),
            6.470577151494928e-13
        ));
        assert!(close(
            p_value(50, 500, 10, 500, 1.5),
            3.0591514836126515e-06
        ));
        assert!(close(
            p_value(500, 10000, 100, 10000, 1.5),
            1.826962299520401e-64
        ));
        assert_eq!(
            p_value(30, 1000, 20, 1000, 1.5),
            1.0,
            "ratio 1.49 < 1.5: no evidence"
        );
        assert_eq!(p_value(100, 10000, 100, 10000, 1.5), 1.0);
        assert_eq!(p_value(0, 0, 0, 0, 1.5), 1.0);
        // Found by the property test: one more off event must not make the test surer.
        assert!(p_value(163, 1391, 1, 358, 1.0) >= p_value(163, 1391, 0, 358, 1.0));
    }

    #[test]
    fn assessment_waits_for_both_cohorts() {
        let mut sums = ImpactSums::default();
        sums.on.exposures = 5000;
        sums.on.counts.insert("error".into(), 500);
        sums.off.exposures = 999;
        sums.off.counts.insert("error".into(), 10);
        let a = assess(&sums, "error", 1.5, 1000, 0.95);
        assert!(!a.enough && !a.harmful && a.p_value < 0.05);
        sums.off.exposures = 1000;
        let a = assess(&sums, "error", 1.5, 1000, 0.95);
        assert!(a.enough && a.harmful, "{a:?}");
        assert!((a.ratio - 10.0).abs() < 0.5, "{a:?}");
        assert!(
            !assess(&sums, "timeout", 1.5, 1000, 0.95).harmful,
            "another event"
        );
    }
}
