//! The units a plan is written in: spans (`30s`, `24h`) and the readings guards compare.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as people write them: `500ms`, `30s`, `10m`, `24h`, `7d`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    /// Milliseconds.
    pub ms: u64,
}

/// The longest span: a year.
pub const MAX_SPAN_MS: u64 = 366 * 24 * 3600 * 1000;

impl FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("{text:?} has no unit: write e.g. 30s, 10m, 24h or 7d"))?;
        let (number, unit) = text.split_at(split);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a number and a unit (e.g. 30s, 10m, 24h, 7d)"))?;
        let per = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => {
                return Err(format!(
                    "{text:?}: the unit must be ms, s, m, h or d (e.g. 30s, 10m, 24h, 7d)"
                ));
            }
        };
        match n.checked_mul(per) {
            Some(ms) if ms <= MAX_SPAN_MS => Ok(Span { ms }),
            _ => Err(format!("{text:?} is longer than a year")),
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Days from a week up, as rollouts are planned (24h, 48h, 72h, 7d).
        const WEEK: u64 = 7 * 86_400_000;
        let units = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1000, "s"),
        ];
        for (per, unit) in units {
            let big_enough = if unit == "d" {
                self.ms >= WEEK
            } else {
                self.ms >= per
            };
            if big_enough && self.ms.is_multiple_of(per) {
                return write!(f, "{}{unit}", self.ms / per);
            }
        }
        write!(f, "{}ms", self.ms)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Span {
    /// As a chrono duration.
    pub fn duration(self) -> chrono::Duration {
        chrono::Duration::milliseconds(i64::try_from(self.ms).unwrap_or(i64::MAX))
    }
}

/// A number a guard compares: compared by its bits, so plans (and flags) stay `Eq`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reading(pub f64);

impl PartialEq for Reading {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Reading {}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short and exact enough for people: 0.0812, 1250, 0.05.
        let v = self.0;
        if v != 0.0 && v.abs() < 0.001 {
            write!(f, "{v:.3e}")
        } else {
            let text = format!("{v:.4}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            f.write_str(if text.is_empty() { "0" } else { text })
        }
    }
}
