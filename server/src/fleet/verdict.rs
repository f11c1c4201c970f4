//! Whether the fleet serves a version yet (`GET /v1/fleet/wait`), judged from one read of
//! the heartbeats. Pure: the API module does the waiting.
//!
//! The instances that count are those live when the wait began, and any that turn up live
//! during it. One that was live and stops heartbeating during the wait is behind, not
//! counted out: frozen or cut off from the store, it may still be answering its clients.
//! One already `gone` when the wait began, or that left cleanly, is counted out.

use std::collections::BTreeSet;

use serde::Serialize;

use super::GONE_AFTER;
use crate::store::{Fleet, SdkSeen, SeenHeartbeat};

/// `live` or `gone`, as docs/api.md#fleet-proof-that-a-change-took names them.
pub fn state(seen: &SeenHeartbeat) -> &'static str {
    if u128::from(seen.age_ms) > GONE_AFTER.as_millis() {
        "gone"
    } else {
        "live"
    }
}

/// How many of how many serve the version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Those serving the version or a later one.
    pub serving: u64,
    /// Those that count.
    pub total: u64,
}

/// An instance that does not serve the version yet, or whose SDKs do not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Behind {
    /// The instance.
    pub id: String,
    /// `live`, or `gone` when it stopped heartbeating during the wait.
    pub state: &'static str,
    /// The version it serves.
    pub version: u64,
    /// Milliseconds since its last heartbeat.
    pub age_ms: u64,
    /// How many of its SDKs have not loaded the version.
    pub sdks_behind: u64,
    /// Some of them by name.
    pub lagging_sdks: Vec<SdkSeen>,
}

/// The answer of a wait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The version waited for.
    pub version: u64,
    /// True when every instance that counts, and every SDK connected to them, serves it.
    pub verified: bool,
    /// Instances serving it.
    pub instances: Tally,
    /// SDKs that loaded it.
    pub sdks: Tally,
    /// Who is behind.
    pub behind: Vec<Behind>,
    /// Instances left out: gone before the wait, or stopped cleanly during it.
    pub counted_out: Vec<String>,
}

/// The ids of the instances live in `fleet`: those a wait starting now counts.
pub fn live_ids(fleet: &Fleet) -> BTreeSet<String> {
    fleet
        .instances
        .iter()
        .filter(|seen| state(seen) == "live")
        .map(|seen| seen.beat.id.clone())
        .collect()
}

/// Judges `fleet` against `version`; `expected` are the instances live when the wait began.
pub fn judge(expected: &BTreeSet<String>, fleet: &Fleet, version: u64) -> Verdict {
    let mut verdict = Verdict {
        version,
        verified: false,
        instances: Tally::default(),
        sdks: Tally::default(),
        behind: Vec::new(),
        counted_out: Vec::new(),
    };
    let mut instances: Vec<&SeenHeartbeat> = fleet.instances.iter().collect();
    instances.sort_by(|a, b| a.beat.id.cmp(&b.beat.id));
    let present: BTreeSet<&str> = instances.iter().map(|s| s.beat.id.as_str()).collect();
    for seen in instances {
        let beat = &seen.beat;
        let state = state(seen);
        if state == "gone" && !expected.contains(&beat.id) {
            verdict.counted_out.push(beat.id.clone());
            continue;
        }
        let sdks: u64 = beat.sdks.values().sum();
        let sdks_serving: u64 = beat.sdks.range(version..).map(|(_, n)| n).sum();
        verdict.instances.total += 1;
        verdict.sdks.total += sdks;
        verdict.sdks.serving += sdks_serving;
        let serving = state == "live" && beat.version >= version;
        if serving {
            verdict.instances.serving += 1;
        }
        if !serving || sdks_serving < sdks {
            verdict.behind.push(Behind {
                id: beat.id.clone(),
                state,
                version: beat.version,
                age_ms: seen.age_ms,
                sdks_behind: sdks - sdks_serving,
                lagging_sdks: beat
                    .lagging
                    .iter()
                    .filter(|sdk| sdk.version < version)
                    .cloned()
                    .collect(),
            });
        }
    }
    verdict.counted_out.extend(
        expected
            .iter()
            .filter(|id| !present.contains(id.as_str()))
            .cloned(),
    );
    verdict.verified = verdict.instances.total > 0 && verdict.behind.is_empty();
    verdict
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::store::Heartbeat;

    fn seen(id: &str, version: u64, age_ms: u64, sdks: &[(u64, u64)]) -> SeenHeartbeat {
        SeenHeartbeat {
            beat: Heartbeat {
                id: id.into(),
                version,
                started_at: chrono::Utc::now(),
                streams: sdks.iter().map(|(_, n)| n).sum(),
                sdks: sdks.iter().copied().collect::<BTreeMap<_, _>>(),
                lagging: Vec::new(),
            },
            age_ms,
        }
    }

    fn fleet(instances: Vec<SeenHeartbeat>) -> Fleet {
        Fleet {
            revision: 9,
            instances,
        }
    }

    #[test]
    fn verified_when_every_live_instance_and_sdk_serves_the_version() {
        let f = fleet(vec![seen("a", 9, 10, &[(9, 2)]), seen("b", 10, 900, &[])]);
        let v = judge(&live_ids(&f), &f, 9);
        assert!(v.verified);
        assert_eq!(
            v.instances,
            Tally {
                serving: 2,
                total: 2
            }
        );
        assert_eq!(
            v.sdks,
            Tally {
                serving: 2,
                total: 2
            }
        );
    }

    #[test]
    fn an_instance_or_an_sdk_behind_is_named() {
        let f = fleet(vec![
            seen("a", 8, 10, &[]),
            seen("b", 9, 10, &[(9, 3), (7, 1)]),
        ]);
        let v = judge(&live_ids(&f), &f, 9);
        assert!(!v.verified);
        let ids: Vec<(&str, u64)> = v
            .behind
            .iter()
            .map(|b| (b.id.as_str(), b.sdks_behind))
            .collect();
        assert_eq!(ids, [("a", 0), ("b", 1)]);
        assert_eq!(
            v.sdks,
            Tally {
                serving: 3,
                total: 4
            }
        );
    }

    #[test]
    fn gone_before_the_wait_is_counted_out_gone_during_it_is_behind() {
        let at_start = fleet(vec![
            seen("a", 9, 10, &[]),
            seen("b", 8, 10, &[]),
            seen("c", 8, 5000, &[]),
        ]);
        let expected = live_ids(&at_start);
        let later = fleet(vec![
            seen("a", 9, 10, &[]),
            seen("b", 8, 3500, &[]),
            seen("c", 8, 7000, &[]),
        ]);
        let v = judge(&expected, &later, 9);
        assert!(!v.verified);
        assert_eq!(v.counted_out, ["c"]);
        assert_eq!(v.behind.len(), 1);
        assert_eq!((v.behind[0].id.as_str(), v.behind[0].state), ("b", "gone"));
        // b left cleanly: its heartbeat is gone from the store, and so is it from the count.
        let left = fleet(vec![seen("a", 9, 10, &[])]);
        let v = judge(&expected, &left, 9);
        assert!(v.verified);
        assert_eq!(v.counted_out, ["b"]);
    }

    #[test]
    fn an_empty_fleet_verifies_nothing() {
        let f = fleet(Vec::new());
        assert!(!judge(&BTreeSet::new(), &f, 1).verified);
    }
}
