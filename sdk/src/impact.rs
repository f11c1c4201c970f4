//! Impact reports (SPEC §8): every evaluation counts an exposure for (flag, variant), and
//! `Client::track` counts an event for the variant the user got. Counting is one relaxed
//! atomic add per evaluation, in counters that live beside the snapshot they count for. A
//! task sends the counts to `POST /v1/impact` every `impact_interval` (5 s by default) and
//! forgets them: when the server is away they are dropped, never queued, and the app never
//! waits. Memory is bounded: counters per flag of the snapshot, and at most
//! [`MAX_PENDING`] other (flag, variant, event) sums between two reports.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_core::client_id::is_fleet_id;
use switchyard_core::{Snapshot, Variant};
use tokio::sync::watch;

use crate::client::Shared;

/// The most (flag, variant) and (flag, variant, event) sums held between two reports;
/// beyond, new ones are dropped until the next report.
pub const MAX_PENDING: usize = 10_000;
/// The most items one report carries (the server's limit).
const MAX_ITEMS: usize = 1000;
/// The longest event name.
const MAX_EVENT: usize = 64;

/// A snapshot and its exposure counters, served together.
pub(crate) struct Served {
    pub(crate) snapshot: Snapshot,
    /// Per flag of the snapshot, in its order: exposures to [on, off].
    exposures: Box<[[AtomicU64; 2]]>,
}

fn slot(variant: Variant) -> usize {
    match variant {
        Variant::On => 0,
        Variant::Off => 1,
    }
}

impl Served {
    /// `snapshot` with zeroed counters.
    pub(crate) fn new(snapshot: Snapshot) -> Self {
        let exposures = (0..snapshot.len())
            .map(|_| [AtomicU64::new(0), AtomicU64::new(0)])
            .collect();
        Served {
            snapshot,
            exposures,
        }
    }

    /// Counts one evaluation of the flag at `index` that gave `variant`.
    pub(crate) fn expose(&self, index: usize, variant: Variant) {
        if let Some(cells) = self.exposures.get(index) {
            cells[slot(variant)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Moves the counts so far into `pending` (zeroing them).
    fn drain_into(&self, pending: &mut Pending) {
        for (flag, cells) in self.snapshot.flags().zip(self.exposures.iter()) {
            for (variant, cell) in [Variant::On, Variant::Off].into_iter().zip(cells) {
                let n = cell.swap(0, Ordering::Relaxed);
                if n > 0 {
                    pending.add(&flag.key, variant, None, n);
                }
            }
        }
    }
}

/// Sums waiting for the next report: (flag, variant) → exposures and events.
#[derive(Default)]
pub(crate) struct Pending {
    sums: HashMap<(String, Variant), (u64, HashMap<String, u64>)>,
    len: usize,
}

impl Pending {
    /// Adds `n` exposures (`event` None) or `n` events to (flag, variant); false when full.
    fn add(&mut self, flag: &str, variant: Variant, event: Option<&str>, n: u64) -> bool {
        let key = (flag.to_owned(), variant);
        if !self.sums.contains_key(&key) {
            if self.len >= MAX_PENDING {
                return false;
            }
            self.len += 1;
        }
        let (exposures, events) = self.sums.entry(key).or_default();
        match event {
            None => *exposures = exposures.saturating_add(n),
            Some(e) => {
                if !events.contains_key(e) {
                    if self.len >= MAX_PENDING {
                        return false;
                    }
                    self.len += 1;
                }
                let count = events.entry(e.to_owned()).or_default();
                *count = count.saturating_add(n);
            }
        }
        true
    }

    /// The report's items, at most [`MAX_ITEMS`] per report.
    fn into_reports(self) -> Vec<Value> {
        let items: Vec<Value> = self
            .sums
            .into_iter()
            .map(|((flag, variant), (exposures, counts))| {
                json!({"flag": flag, "variant": variant, "exposures": exposures, "counts": counts})
            })
            .collect();
        items
            .chunks(MAX_ITEMS)
            .map(|chunk| json!({"events": chunk}))
            .collect()
    }
}

/// What the client's impact reporting shares between the app's threads and the task.
#[derive(Default)]
pub(crate) struct Impact {
    pending: Mutex<Pending>,
}

impl Impact {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts `event` for `flag`'s `variant`; an invalid name is ignored (logged once per
    /// report at debug).
    pub(crate) fn track(&self, flag: &str, variant: Variant, event: &str) {
        if !is_fleet_id(event) || event.len() > MAX_EVENT {
            tracing::debug!(
                event,
                "impact event names are 1 to 64 of [A-Za-z0-9._:-]; ignored"
            );
            return;
        }
        self.pending().add(flag, variant, Some(event), 1);
    }

    /// Keeps the counts of a snapshot being replaced.
    pub(crate) fn retire(&self, served: &Served) {
        served.drain_into(&mut self.pending());
    }

    /// Everything counted since the last report, as reports.
    fn take(&self, served: Option<&Served>) -> Vec<Value> {
        let mut pending = self.pending();
        if let Some(served) = served {
            served.drain_into(&mut pending);
        }
        std::mem::take(&mut *pending).into_reports()
    }
}

/// Sends the counts every `every` until `stop`, and once more then.
pub(crate) async fn report(
    shared: std::sync::Arc<Shared>,
    http: reqwest::Client,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stopping = tokio::select! {
            () = tokio::time::sleep(every) => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        let reports = {
            let served = shared.snapshot.load();
            shared.impact.take(served.as_deref())
        };
        for body in reports {
            let sent = http
                .post(format!("{}/v1/impact", shared.config.base_url))
                .bearer_auth(&shared.config.token)
                .timeout(shared.config.request_timeout)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(answer) if answer.status().is_success() => {}
                Ok(answer) => {
                    tracing::debug!(status = %answer.status(), "impact report refused; dropped");
                }
                Err(e) => tracing::debug!(error = %e, "impact report not sent; dropped"),
            }
        }
        if stopping {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_sums_are_bounded_and_reported_in_chunks() {
        let mut pending = Pending::default();
        for i in 0..MAX_PENDING {
            assert!(pending.add(&format!("f{i}"), Variant::On, None, 1));
        }
        assert!(!pending.add("one-more", Variant::On, None, 1), "full");
        assert!(
            pending.add("f0", Variant::On, None, 5),
            "an existing sum still grows"
        );
        let reports = pending.into_reports();
        assert_eq!(reports.len(), MAX_PENDING.div_ceil(MAX_ITEMS));
        assert!(
            reports
                .iter()
                .all(|r| r["events"].as_array().unwrap().len() <= MAX_ITEMS)
        );
    }
}
