//! Guards (docs/api.md#release-plans). On Prometheus: an instant query (`/api/v1/query`) with a timeout; an
//! error, a timeout, no sample or more than one is no reading (`unknown`, which holds a
//! plan). On impact: the sequential test of `switchyard_core::impact` on the stage's sums
//! (no sums, because the store did not answer, is no reading). What each guard has read is kept per flag and per stage in memory, so a value
//! above its threshold trips only after staying there for the guard's `for`; a restart or
//! a new stage starts watching afresh (each instance watches for itself: they all read the
//! same Prometheus).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use switchyard_core::impact::{Assessment, ImpactSums, assess};
use switchyard_core::plan::{Guard, GuardStatus, ReleasePlan, Watch};

use crate::config::GuardSettings;

/// (flag, guard, the stage's start): one watch per guard per stage.
type WatchKey = (String, String, DateTime<Utc>);

/// The guards' Prometheus client and what they read.
pub struct Guards {
    http: reqwest::Client,
    url: Option<String>,
    watches: Mutex<HashMap<WatchKey, Watch>>,
    /// The last test of each impact guard, for the plan's view.
    assessments: Mutex<HashMap<WatchKey, Assessment>>,
}

fn key(flag: &str, guard: &str, plan: &ReleasePlan) -> WatchKey {
    (flag.to_owned(), guard.to_owned(), plan.stage_started_at)
}

/// The one sample of a Prometheus instant query's answer, if it has exactly one.
pub fn one_sample(body: &Value) -> Option<f64> {
    if body["status"] != "success" {
        return None;
    }
    let data = &body["data"];
    let sample = match data["resultType"].as_str()? {
        "vector" => match data["result"].as_array()?.as_slice() {
            [one] => &one["value"],
            _ => return None,
        },
        "scalar" => &data["result"],
        _ => return None,
    };
    let value: f64 = sample[1].as_str()?.parse().ok()?;
    value.is_finite().then_some(value)
}

impl Guards {
    /// Guards reading the Prometheus in `settings` (none: every guard reads `unknown`).
    pub fn new(settings: &GuardSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.query_timeout_ms))
            .build()
            .expect("an HTTP client");
        Guards {
            http,
            url: settings
                .prometheus_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_owned()),
            watches: Mutex::new(HashMap::new()),
            assessments: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a Prometheus is configured.
    pub fn configured(&self) -> bool {
        self.url.is_some()
    }

    /// The value of `promql` now, if Prometheus gives exactly one sample in time.
    pub async fn query(&self, promql: &str) -> Option<f64> {
        let base = self.url.as_ref()?;
        let url =
            reqwest::Url::parse_with_params(&format!("{base}/api/v1/query"), [("query", promql)])
                .ok()?;
        let answer = self.http.get(url).send().await.ok()?;
        if !answer.status().is_success() {
            return None;
        }
        one_sample(&answer.json().await.ok()?)
    }

    /// What `guard` reads now: (value, whether it counts against the plan).
    async fn reading(
        &self,
        flag: &str,
        plan: &ReleasePlan,
        guard: &Guard,
        impact: Option<&ImpactSums>,
    ) -> Option<(f64, bool)> {
        if let Some(p) = &guard.prometheus {
            let value = self.query(&p.query).await?;
            return Some((value, value > p.above.0));
        }
        let i = guard.impact.as_ref()?;
        let a = assess(
            impact?,
            &i.event,
            i.max_ratio.0,
            i.min_exposures,
            i.confidence.0,
        );
        self.assessments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key(flag, &guard.name, plan), a);
        Some((a.ratio, a.harmful))
    }

    /// Reads every guard of `flag`'s `plan` at `now` (`impact`: the stage's sums, when it
    /// has impact guards and the store answered) and returns their statuses, in order.
    pub async fn read(
        &self,
        flag: &str,
        plan: &ReleasePlan,
        now: DateTime<Utc>,
        impact: Option<&ImpactSums>,
    ) -> Vec<GuardStatus> {
        let readings = futures_util::future::join_all(
            plan.guards
                .iter()
                .map(|g| self.reading(flag, plan, g, impact)),
        )
        .await;
        let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        plan.guards
            .iter()
            .zip(readings)
            .map(|(guard, reading)| {
                let k = key(flag, &guard.name, plan);
                let watch = Watch::observe(watches.get(&k), guard, reading, now);
                let status = watch.status.clone();
                watches.insert(k, watch);
                status
            })
            .collect()
    }

    /// The last test of each impact guard of `flag`'s `plan` in this stage.
    pub fn assessments(&self, flag: &str, plan: &ReleasePlan) -> Vec<Option<Assessment>> {
        let assessments = self.assessments.lock().unwrap_or_else(|p| p.into_inner());
        plan.guards
            .iter()
            .map(|g| assessments.get(&key(flag, &g.name, plan)).copied())
            .collect()
    }

    /// What each guard of `flag`'s `plan` last read in this stage (`None`: nothing yet).
    pub fn watches(&self, flag: &str, plan: &ReleasePlan) -> Vec<Option<Watch>> {
        let watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        plan.guards
            .iter()
            .map(|g| watches.get(&key(flag, &g.name, plan)).cloned())
            .collect()
    }

    /// The statuses `advance` judges by: the last readings (none yet: `unknown`).
    pub fn statuses(&self, flag: &str, plan: &ReleasePlan) -> Vec<GuardStatus> {
        self.watches(flag, plan)
            .into_iter()
            .map(|w| w.map_or(GuardStatus::Unknown, |w| w.status))
            .collect()
    }

    /// Forgets every watch but those of the plans (flag, plan) still watched.
    pub fn retain<'a>(&self, plans: impl Iterator<Item = (&'a str, &'a ReleasePlan)>) {
        let keep: std::collections::HashSet<(String, DateTime<Utc>)> = plans
            .map(|(flag, plan)| (flag.to_owned(), plan.stage_started_at))
            .collect();
        let kept = |(flag, _, started): &WatchKey| keep.contains(&(flag.clone(), *started));
        self.watches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| kept(k));
        self.assessments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| kept(k));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_one_finite_sample_is_a_reading() {
        let vector = |result: Value| json!({"status": "success", "data": {"resultType": "vector", "result": result}});
        assert_eq!(
            one_sample(&vector(json!([{"metric": {}, "value": [1.0, "0.25"]}]))),
            Some(0.25)
        );
        assert_eq!(one_sample(&vector(json!([]))), None, "no sample");
        let two = json!([{"value": [1.0, "1"]}, {"value": [1.0, "2"]}]);
        assert_eq!(one_sample(&vector(two)), None, "which one?");
        assert_eq!(one_sample(&vector(json!([{"value": [1.0, "NaN"]}]))), None);
        let scalar =
            json!({"status": "success", "data": {"resultType": "scalar", "result": [1.0, "3"]}});
        assert_eq!(one_sample(&scalar), Some(3.0));
        assert_eq!(
            one_sample(&json!({"status": "error", "error": "parse error"})),
            None
        );
    }
}
