//! The SDKs streaming from this instance, by the id each sends in `X-Switchyard-Client`, and
//! the snapshot version each has loaded: known from the stream's `Last-Event-ID` when it
//! connects, from each snapshot fetch afterwards, and from acks other instances hand over
//! when a fetch landed on them. An SDK is listed while its stream is open, so the table
//! holds at most the open streams.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use switchyard_core::client_id::ClientHeader;
use tokio::sync::Notify;

use crate::store::fleet::LAGGING_NAMED;
use crate::store::{Ack, SdkSeen};

/// Acks waiting for the next heartbeat at most: past this, newer ones are dropped (the SDK's
/// next fetch tells again).
const OUTBOX_MAX: usize = 10_000;

struct Entry {
    app: String,
    version: u64,
    streams: u32,
}

#[derive(Default)]
struct Table {
    connected: HashMap<String, Entry>,
    /// Versions SDKs streaming elsewhere fetched here: (instance, client) → version.
    outbox: HashMap<(String, String), u64>,
}

/// The SDK table; every method is a short critical section, never held across an await.
#[derive(Default)]
pub struct Clients {
    table: Mutex<Table>,
    /// Wakes the heartbeat when what it reports changed.
    pub changed: std::sync::Arc<Notify>,
}

impl Clients {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A stream from `sdk` opened; `loaded` is the version it said it has (`Last-Event-ID`).
    pub fn connect(&self, sdk: &ClientHeader, loaded: Option<u64>) {
        let mut table = self.table();
        let entry = table
            .connected
            .entry(sdk.client.clone())
            .or_insert_with(|| Entry {
                app: sdk.app.clone(),
                version: 0,
                streams: 0,
            });
        entry.streams += 1;
        entry.version = entry.version.max(loaded.unwrap_or(0));
        sdk.app.clone_into(&mut entry.app);
        drop(table);
        self.changed.notify_one();
    }

    /// A stream from `client` closed.
    pub fn disconnect(&self, client: &str) {
        let mut table = self.table();
        if let Some(entry) = table.connected.get_mut(client) {
            entry.streams -= 1;
            if entry.streams == 0 {
                table.connected.remove(client);
            }
        }
        drop(table);
        self.changed.notify_one();
    }

    /// `sdk` fetched `version` from this instance (`me`): recorded here when it streams from
    /// here, handed over with the next heartbeat when its stream is on another instance.
    pub fn fetched(&self, me: &str, sdk: &ClientHeader, version: u64) {
        let mut table = self.table();
        let changed = match sdk.stream.as_deref() {
            Some(other) if other != me => {
                let key = (other.to_owned(), sdk.client.clone());
                let room = table.outbox.len() < OUTBOX_MAX || table.outbox.contains_key(&key);
                if room {
                    let slot = table.outbox.entry(key).or_default();
                    *slot = (*slot).max(version);
                }
                room
            }
            _ => match table.connected.get_mut(&sdk.client) {
                Some(entry) if entry.version < version => {
                    entry.version = version;
                    true
                }
                _ => false,
            },
        };
        drop(table);
        if changed {
            self.changed.notify_one();
        }
    }

    /// Versions other instances saw this instance's SDKs load.
    pub fn acked(&self, acks: Vec<(String, u64)>) {
        let mut table = self.table();
        for (client, version) in acks {
            if let Some(entry) = table.connected.get_mut(&client) {
                entry.version = entry.version.max(version);
            }
        }
    }

    /// The acks to hand over with this heartbeat.
    pub fn take_outbox(&self) -> Vec<Ack> {
        self.table()
            .outbox
            .drain()
            .map(|((instance, client), version)| Ack {
                instance,
                client,
                version,
            })
            .collect()
    }

    /// The connected SDKs counted by version, and up to [`LAGGING_NAMED`] of those behind
    /// `served` by name (the furthest behind first).
    pub fn summary(&self, served: u64) -> (BTreeMap<u64, u64>, Vec<SdkSeen>) {
        let table = self.table();
        let mut counts = BTreeMap::new();
        let mut lagging = Vec::new();
        for (client, entry) in &table.connected {
            *counts.entry(entry.version).or_default() += 1;
            if entry.version < served {
                lagging.push(SdkSeen {
                    client: client.clone(),
                    app: entry.app.clone(),
                    version: entry.version,
                });
            }
        }
        drop(table);
        lagging.sort_by(|a, b| (a.version, &a.client).cmp(&(b.version, &b.client)));
        lagging.truncate(LAGGING_NAMED);
        (counts, lagging)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk(client: &str, stream: Option<&str>) -> ClientHeader {
        ClientHeader {
            client: client.into(),
            app: "app".into(),
            stream: stream.map(str::to_owned),
        }
    }

    #[test]
    fn counts_connected_sdks_by_the_version_they_loaded() {
        let clients = Clients::default();
        clients.connect(&sdk("a", None), Some(4));
        clients.connect(&sdk("b", None), None);
        clients.fetched("me", &sdk("b", None), 5);
        clients.fetched("me", &sdk("a", Some("me")), 3); // older: ignored
        clients.fetched("me", &sdk("nobody", None), 5); // not streaming here: not listed
        let (counts, lagging) = clients.summary(5);
        assert_eq!(counts, BTreeMap::from([(4, 1), (5, 1)]));
        assert_eq!(lagging.len(), 1);
        assert_eq!((lagging[0].client.as_str(), lagging[0].version), ("a", 4));
        clients.disconnect("a");
        assert_eq!(clients.summary(5).0, BTreeMap::from([(5, 1)]));
    }

    #[test]
    fn hands_over_fetches_for_sdks_streaming_elsewhere() {
        let clients = Clients::default();
        clients.fetched("me", &sdk("x", Some("other")), 7);
        clients.fetched("me", &sdk("x", Some("other")), 6);
        assert_eq!(
            clients.take_outbox(),
            vec![Ack {
                instance: "other".into(),
                client: "x".into(),
                version: 7
            }]
        );
        assert!(clients.take_outbox().is_empty());
        clients.connect(&sdk("y", None), Some(1));
        clients.acked(vec![("y".into(), 8), ("unknown".into(), 9)]);
        assert_eq!(clients.summary(8).0, BTreeMap::from([(8, 1)]));
    }

    #[test]
    fn a_client_with_two_streams_stays_until_both_close() {
        let clients = Clients::default();
        clients.connect(&sdk("a", None), Some(1));
        clients.connect(&sdk("a", None), Some(2));
        clients.disconnect("a");
        assert_eq!(clients.summary(2).0, BTreeMap::from([(2, 1)]));
        clients.disconnect("a");
        assert!(clients.summary(2).0.is_empty());
    }
}
