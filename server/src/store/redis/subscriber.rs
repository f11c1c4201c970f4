//! The subscriber: follows the change channel, re-subscribing after any failure, and keeps
//! the last announcements (what each commit changed) for `Store::told`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;

use super::link::{CONNECT_TIMEOUT, Link, RESPONSE_TIMEOUT};
use crate::store::Told;

/// How many announcements are remembered: enough for any burst a reconcile could be behind.
const TOLD_KEPT: usize = 64;

/// Reads `"REV K KEY,KEY..."` (K: 1 when the kill switch changed); a bare `"REV"` (tokens
/// changed, or many keys) tells nothing.
pub(super) fn parse_told(message: &str) -> Option<(u64, Told)> {
    let mut parts = message.splitn(3, ' ');
    let revision = parts.next()?.parse().ok()?;
    let kill_switch = match parts.next()? {
        "1" => true,
        "0" => false,
        _ => return None,
    };
    let keys = parts
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    Some((revision, Told { keys, kill_switch }))
}

/// How often the subscriber checks its connection. The pub/sub connection reads only when it
/// has a request in flight, so a Redis that died (and maybe came back) goes unnoticed without
/// one: a PING every `LIVENESS` finds it within that time.
const LIVENESS: Duration = Duration::from_millis(250);
/// The longest pause between two attempts to subscribe again: a Redis that returns is
/// followed within about this long (docs/flags.md#limits-and-safety-rules: a write made then reaches every instance).
const RESUBSCRIBE_MAX: Duration = Duration::from_millis(250);

/// Follows the change channel forever, re-subscribing after any failure with a growing
/// backoff; bumps `notify` on every message and after every (re)subscription, so the
/// instance resyncs whatever it missed. Ends when the store is dropped.
pub(super) async fn subscribe(
    link: Link,
    channel: String,
    notify: watch::Sender<u64>,
    told: Arc<std::sync::Mutex<std::collections::VecDeque<(u64, Told)>>>,
) {
    let mut backoff = Duration::from_millis(20);
    let mut attempt = 0usize;
    let bump = |notify: &watch::Sender<u64>| notify.send_modify(|n| *n = n.wrapping_add(1));
    loop {
        if notify.is_closed() {
            return;
        }
        // The primary now (Sentinel: the one it names), or the cluster's nodes in turn: a
        // PUBLISH on one cluster node reaches the subscribers of every node.
        let targets = link.subscribe_targets();
        attempt = attempt.wrapping_add(1);
        let connected = match targets.get(attempt % targets.len().max(1)) {
            Some(client) => tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        };
        if let Some(pubsub) = connected {
            let (mut sink, mut messages) = pubsub.split();
            if sink.subscribe(&channel).await.is_ok() {
                tracing::info!(%channel, "subscribed to changes");
                // Messages may have been missed, and the Redis behind may be another (a
                // restart, a failover) whose revisions repeat old ones: forget what was told.
                told.lock().unwrap_or_else(|p| p.into_inner()).clear();
                backoff = Duration::from_millis(20);
                bump(&notify);
                let mut liveness = tokio::time::interval(LIVENESS);
                loop {
                    tokio::select! {
                        message = messages.next() => match message {
                            Some(message) => {
                                let text: Option<String> = message.get_payload().ok();
                                if let Some(announced) = text.as_deref().and_then(parse_told) {
                                    let mut told = told.lock().unwrap_or_else(|p| p.into_inner());
                                    if told.len() >= TOLD_KEPT {
                                        told.pop_front();
                                    }
                                    told.push_back(announced);
                                }
                                bump(&notify);
                            }
                            None => break,
                        },
                        _ = liveness.tick() => {
                            let ping = sink.ping::<redis::Value>();
                            if !matches!(tokio::time::timeout(RESPONSE_TIMEOUT, ping).await, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                    if notify.is_closed() {
                        return;
                    }
                }
                tracing::warn!(%channel, "change subscription lost; reconnecting");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RESUBSCRIBE_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_tell_what_changed_or_nothing() {
        let told = |keys: &[&str], kill_switch| Told {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            kill_switch,
        };
        assert_eq!(parse_told("7 0 a,b"), Some((7, told(&["a", "b"], false))));
        assert_eq!(parse_told("8 1 "), Some((8, told(&[], true))));
        assert_eq!(parse_told("9 1"), Some((9, told(&[], true))));
        // A bare revision (a token change, a raise, many keys) tells nothing.
        assert_eq!(parse_told("10"), None);
        assert_eq!(parse_told("x 0 a"), None);
        assert_eq!(parse_told("11 2 a"), None);
    }
}
