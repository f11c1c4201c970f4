//! Impact reports (docs/api.md#release-plans): every evaluation counts an exposure for (flag, variant), and
//! `Client::track` counts an event for the variant the user got. Counting is one relaxed
//! atomic add per evaluation, in counters that live beside the snapshot they count for. A
//! task sends the counts to `POST /v1/impact` every `impact_interval` (5 s by default) and
//! forgets them: when the server is away they are dropped, never queued, and the app never
//! waits. Memory is bounded: counters per flag of the snapshot, and at most
//! [`MAX_PENDING`] other (flag, variant, event) sums between two reports.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Value, json};
use switchyard_core::Variant;

use crate::served::Served;

/// The most (flag, variant) and (flag, variant, event) sums held between two reports;
/// beyond, new ones are dropped until the next report.
pub const MAX_PENDING: usize = 10_000;
/// The most items one report carries (the server's limit).
const MAX_ITEMS: usize = switchyard_core::impact::MAX_REPORT_ITEMS;

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
        if !switchyard_core::impact::is_event_name(event) {
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
        let mut pending = self.pending();
        served.drain(|flag, variant, n| {
            pending.add(flag, variant, None, n);
        });
    }

    /// Everything counted since the last report, as reports.
    pub(crate) fn take(&self, served: Option<&Served>) -> Vec<Value> {
        let mut pending = self.pending();
        if let Some(served) = served {
            served.drain(|flag, variant, n| {
                pending.add(flag, variant, None, n);
            });
        }
        std::mem::take(&mut *pending).into_reports()
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
