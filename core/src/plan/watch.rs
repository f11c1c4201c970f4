//! What a guard reads now and since when it has read above its threshold: the watch the
//! scheduler keeps of each guard between ticks.

use chrono::{DateTime, Utc};

use super::Guard;

/// What a guard reads now, as the scheduler sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum GuardStatus {
    /// Read, and not (long enough) above its threshold.
    Ok(f64),
    /// No reading: the query failed or gave no single sample. Holds the plan.
    Unknown,
    /// Above its threshold for its `for`.
    Tripped(f64),
}

/// What the scheduler remembers of one guard between looks.
#[derive(Clone, Debug, PartialEq)]
pub struct Watch {
    /// The guard's status now.
    pub status: GuardStatus,
    /// Since when it has had this kind of status (ok, unknown, tripped).
    pub since: DateTime<Utc>,
    /// Since when its value has been above the threshold without a break.
    pub above_since: Option<DateTime<Utc>>,
}

impl GuardStatus {
    /// `ok`, `unknown` or `tripped`, as in the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            GuardStatus::Ok(_) => "ok",
            GuardStatus::Unknown => "unknown",
            GuardStatus::Tripped(_) => "tripped",
        }
    }

    /// The value read, if any.
    pub fn value(&self) -> Option<f64> {
        match self {
            GuardStatus::Ok(v) | GuardStatus::Tripped(v) => Some(*v),
            GuardStatus::Unknown => None,
        }
    }
}

impl Watch {
    /// The watch after `guard` read `reading` (`None`: no reading) at `now`: the value, and
    /// whether it counts against the plan (a query's value above its threshold; an impact
    /// test that found harm). It trips once it has stayed so for the guard's `for` (no
    /// reading breaks the streak: a trip needs readings, as an advance does).
    pub fn observe(
        prev: Option<&Watch>,
        guard: &Guard,
        reading: Option<(f64, bool)>,
        now: DateTime<Utc>,
    ) -> Watch {
        let value = reading.map(|(v, _)| v);
        let above_since = match reading {
            Some((_, true)) => Some(prev.and_then(|p| p.above_since).unwrap_or(now)),
            _ => None,
        };
        let status = match (value, above_since) {
            (None, _) => GuardStatus::Unknown,
            (Some(v), Some(start)) if now - start >= guard.for_.unwrap_or_default().duration() => {
                GuardStatus::Tripped(v)
            }
            (Some(v), _) => GuardStatus::Ok(v),
        };
        let since = match prev {
            Some(p) if p.status.as_str() == status.as_str() => p.since,
            _ => now,
        };
        Watch {
            status,
            since,
            above_since,
        }
    }
}
