//! The fleet's records (docs/api.md#fleet-proof-that-a-change-took): each instance's heartbeat, as stores keep them, and the
//! in-memory table the embedded store keeps them in (its fleet is the one instance). The
//! Redis store keeps the same records in Redis (`store::redis::fleet`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What one instance says of itself about every second.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The instance's id (`SWITCHYARD_SERVER__INSTANCE_ID`).
    pub id: String,
    /// The snapshot version it serves.
    pub version: u64,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its open `/v1/stream` connections.
    pub streams: u64,
    /// The SDKs streaming from it, counted by the snapshot version each has loaded.
    pub sdks: BTreeMap<u64, u64>,
    /// Some of those SDKs that are behind the instance's version, by name (at most
    /// [`LAGGING_NAMED`]).
    #[serde(default)]
    pub lagging: Vec<SdkSeen>,
}

/// How many lagging SDKs a heartbeat names; the counts in `sdks` cover the rest.
pub const LAGGING_NAMED: usize = 20;

/// One SDK client as an instance knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdkSeen {
    /// The id the SDK sent in `X-Switchyard-Client`.
    pub client: String,
    /// The application it said it belongs to.
    pub app: String,
    /// The snapshot version it has loaded (0: unknown yet).
    pub version: u64,
}

/// A heartbeat as read back, with how old it is by the store's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenHeartbeat {
    /// What the instance wrote.
    pub beat: Heartbeat,
    /// Milliseconds since it was written.
    pub age_ms: u64,
}

/// Every heartbeat a store still has, and the store's revision, read together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fleet {
    /// The store's revision: the latest snapshot version.
    pub revision: u64,
    /// Each instance's last heartbeat (forgotten some time after it stops).
    pub instances: Vec<SeenHeartbeat>,
}

/// An SDK told one instance which version it loaded while its stream is on another: handed
/// over through the store to the instance that streams to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The instance the SDK streams from.
    pub instance: String,
    /// The SDK's client id.
    pub client: String,
    /// The version it loaded.
    pub version: u64,
}

/// What writing a heartbeat returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BeatReply {
    /// The store's revision, so an instance notices it has stopped following.
    pub revision: u64,
    /// Versions other instances saw this instance's SDKs load: (client, version).
    pub acks: Vec<(String, u64)>,
}

/// The embedded store's fleet, in memory: heartbeats say what a process serves now, so they
/// need not outlive it.
#[derive(Default)]
pub struct MemoryFleet {
    beats: Mutex<HashMap<String, (Heartbeat, Instant)>>,
    acks: Mutex<HashMap<String, HashMap<String, u64>>>,
}

impl MemoryFleet {
    /// Records `beat`, hands `forward` to their instances, and takes the acks for this one.
    pub fn beat(
        &self,
        beat: &Heartbeat,
        forward: &[Ack],
        forget_after: Duration,
    ) -> Vec<(String, u64)> {
        let now = Instant::now();
        {
            let mut beats = self.beats.lock().unwrap_or_else(|p| p.into_inner());
            beats.retain(|_, (_, at)| now.duration_since(*at) < forget_after);
            beats.insert(beat.id.clone(), (beat.clone(), now));
        }
        let mut acks = self.acks.lock().unwrap_or_else(|p| p.into_inner());
        for ack in forward {
            acks.entry(ack.instance.clone())
                .or_default()
                .insert(ack.client.clone(), ack.version);
        }
        acks.remove(&beat.id)
            .map(|mine| mine.into_iter().collect())
            .unwrap_or_default()
    }

    /// Every heartbeat younger than `forget_after`.
    pub fn read(&self, forget_after: Duration) -> Vec<SeenHeartbeat> {
        let now = Instant::now();
        let beats = self.beats.lock().unwrap_or_else(|p| p.into_inner());
        beats
            .values()
            .map(|(beat, at)| (beat, now.duration_since(*at)))
            .filter(|(_, age)| *age < forget_after)
            .map(|(beat, age)| SeenHeartbeat {
                beat: beat.clone(),
                age_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
            })
            .collect()
    }

    /// Forgets instance `id` (it stopped cleanly).
    pub fn leave(&self, id: &str) {
        self.beats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}
