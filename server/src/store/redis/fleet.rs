//! The fleet's heartbeats in Redis: one script writes a heartbeat (and hands acks over),
//! one reads every heartbeat, both on Redis's clock. Keys: `{p}:fleet` (sorted set id →
//! last heartbeat, ms), `{p}:fleet:beat:{id}` (the heartbeat, expiring), `{p}:fleet:acks:{id}`
//! (hash client → version, for the instance that streams to that SDK).

use std::time::Duration;

use redis::Script;

use super::link::Conn;
use super::scripts::{BEAT_LUA, FLEET_LUA};
use super::{decode, encode, parse_version, unavailable};
use crate::store::{Ack, BeatReply, Fleet, Heartbeat, SeenHeartbeat, StoreError};

/// The fleet scripts, loaded once.
#[derive(Clone)]
pub(super) struct FleetScripts {
    beat: Script,
    read: Script,
}

impl Default for FleetScripts {
    fn default() -> Self {
        FleetScripts {
            beat: Script::new(BEAT_LUA),
            read: Script::new(FLEET_LUA),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn revision(raw: Option<&String>) -> Result<u64, StoreError> {
    let raw = raw.ok_or_else(|| StoreError::Corrupt("empty fleet reply".into()))?;
    parse_version(raw).ok_or_else(|| StoreError::Corrupt(format!("bad revision {raw:?}")))
}

impl FleetScripts {
    pub(super) async fn beat(
        &self,
        conn: &mut Conn,
        prefix: &str,
        beat: &Heartbeat,
        forward: &[Ack],
        forget_after: Duration,
    ) -> Result<BeatReply, StoreError> {
        let mut invocation = self.beat.prepare_invoke();
        invocation
            .key(format!("{prefix}:fleet"))
            .arg(prefix)
            .arg(&beat.id)
            .arg(encode(beat))
            .arg(millis(forget_after))
            .arg(forward.len());
        for ack in forward {
            invocation
                .arg(&ack.instance)
                .arg(&ack.client)
                .arg(ack.version);
        }
        let reply: Vec<String> = invocation.invoke_async(conn).await.map_err(unavailable)?;
        let acks = reply
            .get(1..)
            .unwrap_or_default()
            .chunks_exact(2)
            .filter_map(|pair| Some((pair[0].clone(), parse_version(&pair[1])?)))
            .collect();
        Ok(BeatReply {
            revision: revision(reply.first())?,
            acks,
        })
    }

    pub(super) async fn read(
        &self,
        conn: &mut Conn,
        prefix: &str,
        forget_after: Duration,
    ) -> Result<Fleet, StoreError> {
        let reply: Vec<String> = self
            .read
            .prepare_invoke()
            .key(format!("{prefix}:fleet"))
            .arg(prefix)
            .arg(millis(forget_after))
            .invoke_async(conn)
            .await
            .map_err(unavailable)?;
        let instances = reply
            .get(1..)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|pair| {
                Ok(SeenHeartbeat {
                    age_ms: pair[0].parse().unwrap_or(0),
                    beat: decode(&pair[1])?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Fleet {
            revision: revision(reply.first())?,
            instances,
        })
    }
}
