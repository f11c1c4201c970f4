//! Impact sums in Redis: one hash per flag and stage, `{p}:impact:{flag}:{stage}`, with
//! fields `on:exposures`, `on:event:{name}` (and `off:…`), added to with `HINCRBY` so any
//! number of instances add at once; each hash expires 90 days after its last addition.

use redis::Script;
use switchyard_core::impact::{Cohort, MAX_EVENTS};

use super::link::Conn;
use super::unavailable;
use crate::store::{ImpactDelta, ImpactSums, StoreError};

/// How long a stage's sums are kept after their last addition.
const KEEP_SECS: i64 = 90 * 24 * 3600;

fn key(prefix: &str, flag: &str, stage: &str) -> String {
    format!("{prefix}:impact:{flag}:{stage}")
}

/// Adds each field's increment unless the hash is full and the field new (exposures always).
/// ARGV: keep secs, max fields, then per hash: key, field count, (field, increment)….
const ADD_LUA: &str = r#"
local keep, max = tonumber(ARGV[1]), tonumber(ARGV[2])
local i = 3
while i <= #ARGV do
  local k, n = ARGV[i], tonumber(ARGV[i + 1])
  i = i + 2
  for _ = 1, n do
    local f, v = ARGV[i], ARGV[i + 1]
    i = i + 2
    if string.sub(f, -10) == ':exposures' or redis.call('HEXISTS', k, f) == 1
        or redis.call('HLEN', k) < max then
      redis.call('HINCRBY', k, f, v)
    end
  end
  redis.call('EXPIRE', k, keep)
end
return 0
"#;

/// Adds every delta in one script.
pub(super) async fn add(
    conn: &mut Conn,
    prefix: &str,
    deltas: &[ImpactDelta],
) -> Result<(), StoreError> {
    let script = Script::new(ADD_LUA);
    let mut invocation = script.prepare_invoke();
    // The key routes the script to the deployment's node on a Redis Cluster.
    invocation
        .key(format!("{prefix}:revision"))
        .arg(KEEP_SECS)
        .arg(2 + 2 * MAX_EVENTS);
    for delta in deltas {
        let mut fields: Vec<(String, u64)> = Vec::new();
        for (variant, cohort) in [("on", &delta.sums.on), ("off", &delta.sums.off)] {
            if cohort.exposures > 0 {
                fields.push((format!("{variant}:exposures"), cohort.exposures));
            }
            for (event, n) in &cohort.counts {
                fields.push((format!("{variant}:event:{event}"), *n));
            }
        }
        invocation
            .arg(key(prefix, &delta.flag, &delta.stage))
            .arg(fields.len());
        for (field, n) in fields {
            invocation.arg(field).arg(n);
        }
    }
    invocation
        .invoke_async::<()>(conn)
        .await
        .map_err(unavailable)
}

/// The sums of `flag` in `stage`.
pub(super) async fn read(
    conn: &mut Conn,
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
