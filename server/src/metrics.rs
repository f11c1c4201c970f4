//! Prometheus metrics, named `switchyard_<subsystem>_<name>_<unit>` with labels of bounded
//! cardinality (routes are patterns, never raw paths). Decision counters are looked up once
//! at start, so counting an evaluation is one atomic add.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::StatusCode;
use switchyard_core::Reason;

/// One decision counter per reason, at the reason's index ([`Reason::ALL`] lists every
/// reason in discriminant order, which the core's tests pin), so counting is one atomic add.
struct Decisions([IntCounter; Reason::ALL.len()]);

impl Decisions {
    fn new(vec: &IntCounterVec) -> Self {
        Decisions(Reason::ALL.map(|reason| vec.with_label_values(&[reason.as_str()])))
    }

    fn of(&self, reason: Reason) -> &IntCounter {
        &self.0[reason as usize]
    }
}

/// Every metric the server exports, in one registry.
pub struct Metrics {
    /// Tells this instance's series apart in [`HTTP_SERIES`].
    id: u64,
    registry: Registry,
    decisions: Decisions,
    /// HTTP requests by route pattern, method and status.
    pub http_requests: IntCounterVec,
    /// HTTP latency by route pattern.
    pub http_duration: HistogramVec,
    /// The snapshot version being served.
    pub snapshot_version: IntGauge,
    /// How many flags the snapshot holds.
    pub snapshot_flags: IntGauge,
    /// 1 while the global kill switch is on.
    pub global_kill_switch: IntGauge,
    /// How many flags have their own kill switch on.
    pub flags_killed: IntGauge,
    /// 1 while the store answers, 0 while it does not.
    pub store_up: IntGauge,
    /// Store operations that failed.
    pub store_errors: IntCounter,
    /// Times the store came back older than what was served, and was moved past it.
    pub store_rewinds: IntCounter,
    /// Snapshots made from the served one and a commit's changes (`how="in_place"`).
    pub snapshots_in_place: IntCounter,
    /// Snapshots loaded whole from the store (`how="full"`).
    pub snapshots_full: IntCounter,
    /// Admin writes refused by the rate limit.
    pub rate_limited: IntCounter,
    /// Open `/v1/stream` connections.
    pub stream_clients: IntGauge,
    /// Streams refused because their token held as many as it may.
    pub stream_rejections: IntCounter,
    /// Streams closed because their token was revoked.
    pub stream_revocations: IntCounter,
    /// Request bodies that did not arrive in time.
    pub body_timeouts: IntCounter,
    /// Requests the HTTP layer could not parse (synced from `logging` when scraped).
    malformed: IntCounter,
    /// The fleet's instances as this instance last read them, by [`FLEET_STATES`].
    pub fleet_instances: IntGaugeVec,
    /// The SDKs streaming from this instance, by how many versions they are behind the
    /// store ([`SDK_LAGS`]).
    pub sdk_clients: IntGaugeVec,
    /// Heartbeats this instance failed to write.
    pub heartbeat_failures: IntCounter,
    /// Webhook deliveries that failed (each attempt), and notifications dropped.
    pub webhook_failures: IntCounter,
    /// Each plan's current stage (0 first), by flag.
    pub plan_stage: IntGaugeVec,
    /// Plans by state ([`switchyard_core::plan::PlanState`]).
    pub plan_state: IntGaugeVec,
    /// Each guard's last value, by flag and guard.
    pub guard_value: prometheus::GaugeVec,
    /// Plans tripped by a guard (counted by the instance that made the trip).
    pub guard_trips: IntCounter,
    /// Impact reports received (`POST /v1/impact`).
    pub impact_reports: IntCounter,
    /// Exposures reported, by variant (`on`, `off`).
    pub impact_exposures: IntCounterVec,
    /// Report items dropped: a full buffer, a flag unknown here, a store that failed.
    pub impact_dropped: IntCounter,
}

/// One HTTP series pair, looked up once per worker thread (see [`HTTP_SERIES`]).
struct HttpSeries {
    /// The route label, checked on every hit: the key holds only its address.
    route: Box<str>,
    requests: IntCounter,
    duration: Histogram,
}

/// Metrics instance, route name's address, method, status.
type SeriesKey = (u64, usize, &'static str, u16);

/// At most this many series remembered per thread (routes, methods and statuses are closed
/// sets, far smaller: this only bounds the unexpected).
const HTTP_SERIES_CAP: usize = 1024;

thread_local! {
    /// The HTTP series each worker thread has used, so a request costs a small hash probe
    /// rather than the prometheus crate's lookup by label values (hashing each label, under
    /// a lock shared by every worker) twice.
    static HTTP_SERIES: std::cell::RefCell<
        HashMap<SeriesKey, HttpSeries, foldhash::fast::FixedState>,
    > = std::cell::RefCell::default();
}

/// Gives each [`Metrics`] its own id for [`HTTP_SERIES`] (tests run several servers in one
/// process).
static METRICS_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The `state` label of `switchyard_fleet_instances`: live and serving the store's version,
/// live but behind it, and gone (no heartbeat for 3 s).
pub const FLEET_STATES: [&str; 3] = ["live", "lagging", "gone"];

/// The `behind` label of `switchyard_sdk_clients`: versions behind the store.
pub const SDK_LAGS: [&str; 4] = ["0", "1", "2-9", "10+"];

/// The index in [`SDK_LAGS`] of an SDK `behind` versions behind.
pub fn sdk_lag(behind: u64) -> usize {
    match behind {
        0 => 0,
        1 => 1,
        2..=9 => 2,
        _ => 3,
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let decisions_vec = IntCounterVec::new(
            Opts::new(
                "switchyard_eval_decisions_total",
                "Flag evaluations by reason",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let decisions = Decisions::new(&decisions_vec);
        let snapshot_builds = IntCounterVec::new(
            Opts::new(
                "switchyard_snapshot_builds_total",
                "Snapshots served, by how they were made: from the served one and a commit's \
                 changes (in_place), or loaded whole from the store (full)",
            ),
            &["how"],
        )
        .expect("valid metric");
        let http_requests = IntCounterVec::new(
            Opts::new(
                "switchyard_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let buckets = vec![
            0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
            0.25, 0.5, 1.0, 2.5,
        ];
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "switchyard_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(buckets),
            &["route"],
        )
        .expect("valid metric");
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric");
        let gauges = |name: &str, help: &str, label: &str, values: &[&str]| {
            let vec = IntGaugeVec::new(Opts::new(name, help), &[label]).expect("valid metric");
            for value in values {
                vec.with_label_values(&[value]).set(0);
            }
            vec
        };
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        let metrics = Metrics {
            id: METRICS_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            decisions,
            http_requests,
            http_duration,
            snapshot_version: gauge("switchyard_snapshot_version", "Snapshot version served"),
            snapshot_flags: gauge("switchyard_snapshot_flags", "Flags in the snapshot"),
            global_kill_switch: gauge(
                "switchyard_kill_switch_global_active",
                "1 while the global kill switch is on",
            ),
            flags_killed: gauge(
                "switchyard_kill_switch_flags_active",
                "Flags whose own kill switch is on",
            ),
            store_up: gauge("switchyard_store_up", "1 while the store answers"),
            store_errors: counter("switchyard_store_errors_total", "Failed store operations"),
            store_rewinds: counter(
                "switchyard_store_rewinds_total",
                "Times the store came back older than the data served, and was moved past it",
            ),
            snapshots_in_place: snapshot_builds.with_label_values(&["in_place"]),
            snapshots_full: snapshot_builds.with_label_values(&["full"]),
            stream_clients: gauge("switchyard_stream_clients", "Open /v1/stream connections"),
            stream_rejections: counter(
                "switchyard_stream_rejections_total",
                "Streams refused: their token held as many as it may",
            ),
            stream_revocations: counter(
                "switchyard_stream_revocations_total",
                "Streams closed because their token was revoked",
            ),
            body_timeouts: counter(
                "switchyard_http_body_timeouts_total",
                "Request bodies that did not arrive in time (408)",
            ),
            malformed: counter(
                "switchyard_http_malformed_requests_total",
                "Requests the HTTP layer could not parse (400/431 before any route)",
            ),
            rate_limited: counter(
                "switchyard_ratelimit_rejections_total",
                "Admin writes refused by the rate limit",
            ),
            fleet_instances: gauges(
                "switchyard_fleet_instances",
                "Instances in the fleet by state (live, lagging: live but behind the store, gone)",
                "state",
                &FLEET_STATES,
            ),
            sdk_clients: gauges(
                "switchyard_sdk_clients",
                "SDKs streaming from this instance, by versions behind the store",
                "behind",
                &SDK_LAGS,
            ),
            heartbeat_failures: counter(
                "switchyard_fleet_heartbeat_failures_total",
                "Heartbeats this instance could not write to the store",
            ),
            webhook_failures: counter(
                "switchyard_webhook_failures_total",
                "Webhook deliveries that failed (each attempt), and notifications dropped",
            ),
            plan_stage: IntGaugeVec::new(
                Opts::new(
                    "switchyard_plan_stage",
                    "Each release plan's current stage, 0 first",
                ),
                &["flag"],
            )
            .expect("valid metric"),
            plan_state: gauges(
                "switchyard_plan_state",
                "Release plans by state",
                "state",
                &switchyard_core::plan::PlanState::ALL.map(|s| s.as_str()),
            ),
            guard_value: prometheus::GaugeVec::new(
                Opts::new("switchyard_guard_value", "Each guard's last reading"),
                &["flag", "guard"],
            )
            .expect("valid metric"),
            guard_trips: counter(
                "switchyard_guard_trips_total",
                "Release plans tripped by a guard",
            ),
            impact_reports: counter(
                "switchyard_impact_reports_total",
                "Impact reports received from SDKs",
            ),
            impact_exposures: {
                let vec = IntCounterVec::new(
                    Opts::new(
                        "switchyard_impact_exposures_total",
                        "Exposures SDKs reported, by variant",
                    ),
                    &["variant"],
                )
                .expect("valid metric");
                for variant in ["on", "off"] {
                    vec.with_label_values(&[variant]).inc_by(0);
                }
                vec
            },
            impact_dropped: counter(
                "switchyard_impact_dropped_total",
                "Impact report items dropped (full buffer, unknown flag, store failure)",
            ),
            registry,
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(decisions_vec),
            Box::new(metrics.http_requests.clone()),
            Box::new(metrics.http_duration.clone()),
            Box::new(metrics.snapshot_version.clone()),
            Box::new(metrics.snapshot_flags.clone()),
            Box::new(metrics.global_kill_switch.clone()),
            Box::new(metrics.flags_killed.clone()),
            Box::new(metrics.store_up.clone()),
            Box::new(metrics.store_errors.clone()),
            Box::new(metrics.store_rewinds.clone()),
            Box::new(snapshot_builds),
            Box::new(metrics.rate_limited.clone()),
            Box::new(metrics.stream_clients.clone()),
            Box::new(metrics.stream_rejections.clone()),
            Box::new(metrics.stream_revocations.clone()),
            Box::new(metrics.body_timeouts.clone()),
            Box::new(metrics.malformed.clone()),
            Box::new(metrics.fleet_instances.clone()),
            Box::new(metrics.sdk_clients.clone()),
            Box::new(metrics.heartbeat_failures.clone()),
            Box::new(metrics.webhook_failures.clone()),
            Box::new(metrics.plan_stage.clone()),
            Box::new(metrics.plan_state.clone()),
            Box::new(metrics.guard_value.clone()),
            Box::new(metrics.guard_trips.clone()),
            Box::new(metrics.impact_reports.clone()),
            Box::new(metrics.impact_exposures.clone()),
            Box::new(metrics.impact_dropped.clone()),
        ];
        for collector in collectors {
            metrics.registry.register(collector).expect("unique metric");
        }
        metrics
    }

    /// Counts one HTTP request and its latency, by route pattern (and method and status).
    pub fn observe_http(
        &self,
        route: &str,
        method: &'static str,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let key = (self.id, route.as_ptr() as usize, method, status.as_u16());
        HTTP_SERIES.with_borrow_mut(|series| {
            let hit = series.get(&key).filter(|s| &*s.route == route);
            let (requests, duration) = match hit {
                Some(s) => (&s.requests, &s.duration),
                None => {
                    if series.len() >= HTTP_SERIES_CAP {
                        series.clear();
                    }
                    let found = HttpSeries {
                        route: route.into(),
                        requests: self.http_requests.with_label_values(&[
                            route,
                            method,
                            status.as_str(),
                        ]),
                        duration: self.http_duration.with_label_values(&[route]),
                    };
                    let s = series.entry(key).insert_entry(found).into_mut();
                    (&s.requests, &s.duration)
                }
            };
            requests.inc();
            duration.observe(elapsed.as_secs_f64());
        });
    }

    /// Sets the fleet gauges: instances counted by [`FLEET_STATES`], SDKs by [`SDK_LAGS`].
    pub fn set_fleet(&self, instances: [i64; 3], sdks: [i64; 4]) {
        let gauges = [
            (&self.fleet_instances, &FLEET_STATES[..], &instances[..]),
            (&self.sdk_clients, &SDK_LAGS[..], &sdks[..]),
        ];
        for (vec, labels, counts) in gauges {
            for (label, count) in labels.iter().zip(counts) {
                vec.with_label_values(&[label]).set(*count);
            }
        }
    }

    /// Counts one decision.
    pub fn count_decision(&self, reason: Reason) {
        self.decisions.of(reason).inc();
    }

    /// Counts `n` decisions with one reason (a bulk evaluation adds its counts once each).
    pub fn count_decisions(&self, reason: Reason, n: u64) {
        if n > 0 {
            self.decisions.of(reason).inc_by(n);
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let seen = crate::logging::malformed_requests();
        self.malformed
            .inc_by(seen.saturating_sub(self.malformed.get()));
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("metrics encode");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_counts_under_its_own_label() {
        let metrics = Metrics::new();
        for (i, reason) in Reason::ALL.into_iter().enumerate() {
            for _ in 0..=i {
                metrics.count_decision(reason);
            }
        }
        let text = metrics.render();
        for (i, reason) in Reason::ALL.into_iter().enumerate() {
            let line = format!(
                "switchyard_eval_decisions_total{{reason=\"{}\"}} {}",
                reason.as_str(),
                i + 1
            );
            assert!(text.contains(&line), "missing {line}");
        }
    }
}
