//! Impact sums in Redis: one hash per flag and stage, `{p}:impact:{flag}:{stage}`, with
//! fields `on:exposures`, `on:event:{name}` (and `off:…`), added to with `HINCRBY` so any
//! number of instances add at once; each hash expires 90 days after its last addition.

use redis::aio::ConnectionManager;
use switchyard_core::impact::Cohort;

use super::unavailable;
use crate::store::{ImpactDelta, ImpactSums, StoreError};

/// How long a stage's sums are kept after their last addition.
const KEEP_SECS: i64 = 90 * 24 * 3600;

fn key(prefix: &str, flag: &str, stage: &str) -> String {
    format!("{prefix}:impact:{flag}:{stage}")
}

/// Adds every delta in one transaction.
pub(super) async fn add(
    conn: &mut ConnectionManager,
    prefix: &str,
    deltas: &[ImpactDelta],
) -> Result<(), StoreError> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    for delta in deltas {
        let k = key(prefix, &delta.flag, &delta.stage);
        for (variant, cohort) in [("on", &delta.sums.on), ("off", &delta.sums.off)] {
            if cohort.exposures > 0 {
                pipe.hincr(&k, format!("{variant}:exposures"), cohort.exposures)
                    .ignore();
            }
            for (event, n) in &cohort.counts {
                pipe.hincr(&k, format!("{variant}:event:{event}"), *n)
                    .ignore();
            }
        }
        pipe.expire(&k, KEEP_SECS).ignore();
    }
    pipe.query_async::<()>(conn).await.map_err(unavailable)
}

/// The sums of `flag` in `stage`.
pub(super) async fn read(
    conn: &mut ConnectionManager,
    prefix: &str,
    flag: &str,
    stage: &str,
) -> Result<ImpactSums, StoreError> {
    let fields: Vec<(String, u64)> = redis::cmd("HGETALL")
        .arg(key(prefix, flag, stage))
        .query_async(conn)
        .await
        .map_err(unavailable)?;
    let mut sums = ImpactSums::default();
    for (field, n) in fields {
        let mut parts = field.splitn(3, ':');
        let cohort: &mut Cohort = match parts.next() {
            Some("on") => &mut sums.on,
            Some("off") => &mut sums.off,
            _ => continue,
        };
        match (parts.next(), parts.next()) {
            (Some("exposures"), None) => cohort.exposures = n,
            (Some("event"), Some(event)) => {
                cohort.counts.insert(event.to_owned(), n);
            }
            _ => {}
        }
    }
    Ok(sums)
}
