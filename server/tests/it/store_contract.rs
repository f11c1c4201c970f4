//! The `Store` contract: every implementation must pass these. Each test runs against every
//! store `stores()` returns: embedded, Redis on a redis-server of its own, and Redis Cluster
//! on three primaries of its own.

use std::sync::Arc;

use chrono::Utc;
use switchyard_core::{Flag, KillSwitch, Whitelist};
use switchyard_server::auth::Role;
use switchyard_server::store::embedded::EmbeddedStore;
use switchyard_server::store::redis::{RedisOptions, RedisStore, Topology};
use switchyard_server::store::{
    AuditEntry, AuditQuery, Commit, Store, StoreError, TokenRecord, Write,
};
use tempfile::TempDir;

use switchyard_testkit::ha::RedisCluster;
use switchyard_testkit::redis::RedisServer;

/// What keeps a store under test alive.
#[allow(dead_code)]
enum Guard {
    Dir(TempDir),
    Redis(RedisServer),
    Cluster(RedisCluster),
}

/// Every store under test, each with its guard.
async fn stores() -> Vec<(&'static str, Arc<dyn Store>, Guard)> {
    stores_keeping(None).await
}

/// Every store under test, keeping at most `keep` versions of each flag's history.
async fn stores_keeping(
    keep: Option<std::num::NonZeroUsize>,
) -> Vec<(&'static str, Arc<dyn Store>, Guard)> {
    let dir = tempfile::tempdir().unwrap();
    let embedded = Arc::new(EmbeddedStore::open_with(dir.path(), keep).unwrap());
    let redis = RedisServer::start();
    let redis_store = Arc::new(
        RedisStore::connect_with(&redis.url(), "contract", keep)
            .await
            .unwrap(),
    );
    let cluster = RedisCluster::start(3);
    let options = RedisOptions {
        topology: Topology::Cluster(cluster.urls()),
        ..RedisOptions::single("")
    };
    let cluster_store = Arc::new(RedisStore::open(&options, "contract", keep).await.unwrap());
    // The cluster connection is made in the background: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while cluster_store.revision().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the cluster store never answered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    vec![
        ("embedded", embedded, Guard::Dir(dir)),
        ("redis", redis_store, Guard::Redis(redis)),
        ("redis-cluster", cluster_store, Guard::Cluster(cluster)),
    ]
}

fn flag(key: &str, version: u64) -> Flag {
    Flag {
        version,
        ..Flag::new(key)
    }
}

fn entry(actor: &str, flag: Option<&str>) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: Utc::now(),
        actor: actor.into(),
        action: "test".into(),
        flag: flag.map(Into::into),
        before: None,
        after: None,
        reason: None,
    }
}

/// The ids of the entries `query` finds, in the order found.
async fn audit_ids(store: &dyn Store, query: &AuditQuery) -> Vec<u64> {
    store
        .audit(query)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect()
}

fn put(key: &str, version: u64, expected: Option<u64>) -> Write {
    Write::PutFlag {
        flag: flag(key, version),
        expected,
    }
}

#[tokio::test]
async fn a_commit_applies_all_or_nothing() {
    for (name, store, _guard) in stores().await {
        assert_eq!(
            store
                .commit(Commit {
                    writes: vec![put("a", 1, None)],
                    audit: vec![entry("x", Some("a"))]
                })
                .await
                .unwrap(),
            1,
            "{name}"
        );
        let failing = Commit {
            writes: vec![
                put("b", 1, None),
                Write::SetGlobalKillSwitch(KillSwitch {
                    active: true,
                    ..Default::default()
                }),
                put("a", 2, Some(7)),
            ],
            audit: vec![entry("x", Some("b"))],
        };
        let err = store.commit(failing).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { ref key, expected: Some(7), current: Some(1) } if key == "a"),
            "{name}: {err}"
        );
        let loaded = store.load().await.unwrap();
        assert_eq!(loaded.revision, 1, "{name}");
        assert_eq!(
            loaded
                .flags
                .iter()
                .map(|f| f.key.as_str())
                .collect::<Vec<_>>(),
            ["a"],
            "{name}"
        );
        assert!(!loaded.global_kill_switch.active, "{name}");
        assert_eq!(
            store
                .audit(&AuditQuery {
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len(),
            1,
            "{name}"
        );
        assert!(store.flag("b").await.unwrap().is_none(), "{name}");
    }
}

#[tokio::test]
async fn segments_are_versioned_and_written_all_or_nothing_with_flags() {
    use switchyard_core::Segment;
    let segment = |version| Segment {
        version,
        description: format!("v{version}"),
        ..Segment::new("beta")
    };
    for (name, store, _guard) in stores().await {
        store
            .commit(Commit {
                writes: vec![
                    Write::PutSegment {
                        segment: segment(1),
                        expected: None,
                    },
                    put("a", 1, None),
                ],
                audit: vec![entry("x", None)],
            })
            .await
            .unwrap();
        assert_eq!(
            store.segment("beta").await.unwrap(),
            Some(segment(1)),
            "{name}"
        );
        // A stale segment version fails the whole commit: the flag is not written either.
        let stale = Commit {
            writes: vec![
                put("b", 1, None),
                Write::PutSegment {
                    segment: segment(2),
                    expected: Some(5),
                },
            ],
            audit: vec![],
        };
        let err = store.commit(stale).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { ref key, expected: Some(5), current: Some(1) } if key == "beta"),
            "{name}: {err}"
        );
        assert!(store.flag("b").await.unwrap().is_none(), "{name}");
        store
            .commit(Commit {
                writes: vec![Write::PutSegment {
                    segment: segment(2),
                    expected: Some(1),
                }],
                audit: vec![],
            })
            .await
            .unwrap();
        let loaded = store.load().await.unwrap();
        assert_eq!(loaded.segments, vec![segment(2)], "{name}");
        let delete = |expected| Commit {
            writes: vec![Write::DeleteSegment {
                key: "beta".into(),
                expected,
            }],
            audit: vec![],
        };
        assert!(store.commit(delete(1)).await.is_err(), "{name}");
        let revision = store.commit(delete(2)).await.unwrap();
        assert_eq!(revision, 3, "{name}");
        assert_eq!(store.segment("beta").await.unwrap(), None, "{name}");
        assert!(store.load().await.unwrap().segments.is_empty(), "{name}");
    }
}

#[tokio::test]
async fn versions_history_and_deletes() {
    for (name, store, _guard) in stores().await {
        store
            .commit(Commit {
                writes: vec![put("f", 1, None)],
                ..Default::default()
            })
            .await
            .unwrap();
        let dup = store
            .commit(Commit {
                writes: vec![put("f", 1, None)],
                ..Default::default()
            })
            .await;
        assert!(
            matches!(
                dup,
                Err(StoreError::Conflict {
                    current: Some(1),
                    ..
                })
            ),
            "{name}: create over an existing flag"
        );
        store
            .commit(Commit {
                writes: vec![put("f", 2, Some(1))],
                ..Default::default()
            })
            .await
            .unwrap();
        let stale = store
            .commit(Commit {
                writes: vec![Write::DeleteFlag {
                    key: "f".into(),
                    expected: 1,
                }],
                ..Default::default()
            })
            .await;
        assert!(matches!(stale, Err(StoreError::Conflict { .. })), "{name}");
        store
            .commit(Commit {
                writes: vec![Write::DeleteFlag {
                    key: "f".into(),
                    expected: 2,
                }],
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(store.flag("f").await.unwrap().is_none(), "{name}");
        let versions: Vec<u64> = store
            .history("f")
            .await
            .unwrap()
            .iter()
            .map(|f| f.version)
            .collect();
        assert_eq!(versions, [1, 2], "{name}: history survives a delete");
        assert!(
            store.history("fg").await.unwrap().is_empty(),
            "{name}: no prefix leaks"
        );
        assert_eq!(store.revision().await.unwrap(), 3, "{name}");
    }
}

#[tokio::test]
async fn audit_is_newest_first_filtered_and_paged() {
    for (name, store, _guard) in stores().await {
        for (actor, flag) in [("alice", "a"), ("bob", "b"), ("alice", "b"), ("bob", "a")] {
            store
                .commit(Commit {
                    writes: vec![],
                    audit: vec![entry(actor, Some(flag))],
                })
                .await
                .unwrap();
        }
        let all = store
            .audit(&AuditQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|e| e.id).collect::<Vec<_>>(),
            [4, 3, 2, 1],
            "{name}"
        );
        let alice_b = AuditQuery {
            actor: Some("alice".into()),
            flag: Some("b".into()),
            limit: 100,
            ..Default::default()
        };
        assert_eq!(
            store
                .audit(&alice_b)
                .await
                .unwrap()
                .iter()
                .map(|e| e.id)
                .collect::<Vec<_>>(),
            [3],
            "{name}"
        );
        let page = AuditQuery {
            before: Some(3),
            limit: 1,
            ..Default::default()
        };
        assert_eq!(
            store
                .audit(&page)
                .await
                .unwrap()
                .iter()
                .map(|e| e.id)
                .collect::<Vec<_>>(),
            [2],
            "{name}"
        );
        let future = AuditQuery {
            since: Some(Utc::now() + chrono::Duration::hours(1)),
            limit: 100,
            ..Default::default()
        };
        assert!(store.audit(&future).await.unwrap().is_empty(), "{name}");
    }
}

#[tokio::test]
async fn audit_indexes_page_across_batches() {
    for (name, store, _guard) in stores().await {
        // 1,200 entries on flag "busy" (more than one index batch), interleaved with
        // entries on "quiet" by another actor.
        for i in 0..1200 {
            let mut audit = vec![entry("alice", Some("busy"))];
            if i % 100 == 0 {
                audit.push(entry("bob", Some("quiet")));
            }
            store
                .commit(Commit {
                    writes: vec![],
                    audit,
                })
                .await
                .unwrap();
        }
        let quiet = AuditQuery {
            flag: Some("quiet".into()),
            limit: 1000,
            ..Default::default()
        };
        let quiet = audit_ids(store.as_ref(), &quiet).await;
        assert_eq!(quiet.len(), 12, "{name}");
        assert!(
            quiet.windows(2).all(|w| w[0] > w[1]),
            "{name}: newest first"
        );
        let bob = AuditQuery {
            actor: Some("bob".into()),
            limit: 1000,
            ..Default::default()
        };
        assert_eq!(audit_ids(store.as_ref(), &bob).await, quiet, "{name}");
        // Paging the busy flag with the cursor visits every entry once.
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = AuditQuery {
                flag: Some("busy".into()),
                before,
                limit: 700,
                ..Default::default()
            };
            let page = audit_ids(store.as_ref(), &page).await;
            let Some(last) = page.last().copied() else {
                break;
            };
            seen.extend(page);
            before = Some(last);
        }
        assert_eq!(seen.len(), 1200, "{name}");
        assert!(seen.windows(2).all(|w| w[0] > w[1]), "{name}");
    }
}

#[tokio::test]
async fn a_redis_audit_written_before_the_indexes_is_indexed_on_first_query() {
    let redis = RedisServer::start();
    let store = RedisStore::connect(&redis.url(), "old").await.unwrap();
    for flag in ["a", "b", "a"] {
        store
            .commit(Commit {
                writes: vec![],
                audit: vec![entry("carol", Some(flag))],
            })
            .await
            .unwrap();
    }
    // What an older version left: the stream without its indexes.
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = ::redis::cmd("DEL")
        .arg(vec![
            "old:audit:flag:a",
            "old:audit:flag:b",
            "old:audit:actor:carol",
            "old:audit:indexed",
        ])
        .query_async(&mut conn)
        .await
        .unwrap();
    let query = AuditQuery {
        flag: Some("a".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(audit_ids(&store, &query).await, [3, 1]);
}

#[tokio::test]
async fn raise_moves_the_revision_and_floor_up_never_down() {
    for (name, store, _guard) in stores().await {
        let commit = || Commit {
            writes: vec![],
            audit: vec![entry("t", None)],
        };
        assert_eq!(store.commit(commit()).await.unwrap(), 1, "{name}");
        assert_eq!(store.version_floor().await.unwrap(), 0, "{name}");
        assert_eq!(store.raise(500, 40).await.unwrap(), 500, "{name}");
        assert_eq!(store.revision().await.unwrap(), 500, "{name}");
        assert_eq!(store.version_floor().await.unwrap(), 40, "{name}");
        // Lower values change nothing; a commit continues from the raised revision.
        assert_eq!(store.raise(10, 3).await.unwrap(), 500, "{name}");
        assert_eq!(store.version_floor().await.unwrap(), 40, "{name}");
        assert_eq!(store.commit(commit()).await.unwrap(), 501, "{name}");
        assert_eq!(store.load().await.unwrap().revision, 501, "{name}");
    }
}

#[tokio::test]
async fn history_keeps_the_newest_versions_and_old_audit_is_pruned() {
    for (name, store, _guard) in stores_keeping(std::num::NonZeroUsize::new(3)).await {
        let mut old = entry("alice", Some("f"));
        old.at = Utc::now() - chrono::Duration::days(30);
        store
            .commit(Commit {
                writes: vec![put("f", 1, None)],
                audit: vec![old],
            })
            .await
            .unwrap();
        for v in 2..=10 {
            store
                .commit(Commit {
                    writes: vec![put("f", v, Some(v - 1))],
                    audit: vec![entry("alice", Some("f"))],
                })
                .await
                .unwrap();
        }
        let kept: Vec<u64> = store
            .history("f")
            .await
            .unwrap()
            .iter()
            .map(|f| f.version)
            .collect();
        assert_eq!(kept, [8, 9, 10], "{name}");
        let cutoff = Utc::now() - chrono::Duration::days(1);
        assert_eq!(store.prune_audit(cutoff).await.unwrap(), 1, "{name}");
        assert_eq!(store.prune_audit(cutoff).await.unwrap(), 0, "{name}");
        for query in [
            AuditQuery {
                flag: Some("f".into()),
                limit: 100,
                ..Default::default()
            },
            AuditQuery {
                actor: Some("alice".into()),
                limit: 100,
                ..Default::default()
            },
            AuditQuery {
                limit: 100,
                ..Default::default()
            },
        ] {
            let ids = audit_ids(store.as_ref(), &query).await;
            assert_eq!(ids.len(), 9, "{name}: {query:?}");
            assert!(
                !ids.contains(&1),
                "{name}: the pruned entry is gone from {query:?}"
            );
        }
    }
}

#[tokio::test]
async fn history_shares_large_whitelists_and_drops_them_with_their_last_version() {
    let keep = std::num::NonZeroUsize::new(3);
    let stores = stores_keeping(keep).await;
    let users = |n: usize| Whitelist::new((0..n).map(|i| format!("user-{i}")));
    for (name, store, _) in &stores {
        // v1–v3 share 100 users, v4 has 200, v5 has 100 again, v6 has 10 (inline).
        let whitelists = [100, 100, 100, 200, 100, 10];
        for (i, n) in whitelists.iter().enumerate() {
            let v = i as u64 + 1;
            let flag = Flag {
                version: v,
                whitelist: users(*n),
                description: format!("v{v}"),
                ..Flag::new("f")
            };
            let expected = (v > 1).then(|| v - 1);
            store
                .commit(Commit {
                    writes: vec![Write::PutFlag { flag, expected }],
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let history = store.history("f").await.unwrap();
        let kept: Vec<(u64, usize)> = history
            .iter()
            .map(|f| (f.version, f.whitelist.len()))
            .collect();
        assert_eq!(kept, [(4, 200), (5, 100), (6, 10)], "{name}");
        assert_eq!(history[1].whitelist, users(100), "{name}");
        assert_eq!(history[1].description, "v5", "{name}");
    }
    // In Redis the whitelist of 100 is still referred to by v5, the one of 200 by v4; after
    // two more versions without them both are gone.
    let Some((_, store, Guard::Redis(redis))) = stores.iter().find(|(n, _, _)| *n == "redis")
    else {
        panic!("no Redis store under test");
    };
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let shared: usize = ::redis::cmd("HLEN")
        .arg("contract:history:f:wl")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(shared, 2);
    for v in 7..=8 {
        let flag = Flag {
            version: v,
            ..Flag::new("f")
        };
        store
            .commit(Commit {
                writes: vec![Write::PutFlag {
                    flag,
                    expected: Some(v - 1),
                }],
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let shared: usize = ::redis::cmd("HLEN")
        .arg("contract:history:f:wl")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(shared, 0, "a whitelist no version refers to is dropped");
}

#[tokio::test]
async fn tokens_have_unique_names() {
    for (name, store, _guard) in stores().await {
        let record = |id: &str, token_name: &str| TokenRecord {
            id: id.into(),
            name: token_name.into(),
            role: Role::Viewer,
            hash: "00".repeat(32),
            created_at: Utc::now(),
            created_by: "t".into(),
        };
        store
            .commit(Commit {
                writes: vec![Write::CreateToken(record("1", "ci"))],
                ..Default::default()
            })
            .await
            .unwrap();
        let dup = store
            .commit(Commit {
                writes: vec![Write::CreateToken(record("2", "ci"))],
                ..Default::default()
            })
            .await;
        assert!(matches!(dup, Err(StoreError::Token(_))), "{name}");
        let unknown = store
            .commit(Commit {
                writes: vec![Write::RevokeToken { id: "9".into() }],
                ..Default::default()
            })
            .await;
        assert!(matches!(unknown, Err(StoreError::Token(_))), "{name}");
        store
            .commit(Commit {
                writes: vec![Write::RevokeToken { id: "1".into() }],
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(store.tokens().await.unwrap().is_empty(), "{name}");
    }
}

#[tokio::test]
async fn the_embedded_store_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let switch = KillSwitch {
            active: true,
            reason: Some("r".into()),
            ..Default::default()
        };
        store
            .commit(Commit {
                writes: vec![put("a", 1, None), Write::SetGlobalKillSwitch(switch)],
                audit: vec![entry("x", None)],
            })
            .await
            .unwrap();
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let loaded = store.load().await.unwrap();
    assert_eq!(
        (
            loaded.revision,
            loaded.flags.len(),
            loaded.global_kill_switch.active
        ),
        (1, 1, true)
    );
    assert_eq!(
        store
            .audit(&AuditQuery {
                limit: 5,
                ..Default::default()
            })
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_redis_store_keeps_deployments_apart_by_prefix() {
    let redis = RedisServer::start();
    let blue = RedisStore::connect(&redis.url(), "blue").await.unwrap();
    let green = RedisStore::connect(&redis.url(), "green").await.unwrap();
    blue.commit(Commit {
        writes: vec![put("a", 1, None)],
        audit: vec![entry("x", None)],
    })
    .await
    .unwrap();
    assert_eq!(green.load().await.unwrap().flags.len(), 0);
    assert_eq!(green.revision().await.unwrap(), 0);
    assert!(
        green
            .audit(&AuditQuery {
                limit: 5,
                ..Default::default()
            })
            .await
            .unwrap()
            .is_empty()
    );
    green
        .commit(Commit {
            writes: vec![put("a", 1, None)],
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn the_redis_store_reports_an_outage_and_recovers() {
    let mut redis = RedisServer::start();
    let store = RedisStore::connect(&redis.url(), "t").await.unwrap();
    store
        .commit(Commit {
            writes: vec![put("a", 1, None)],
            ..Default::default()
        })
        .await
        .unwrap();
    redis.kill();
    let down = store
        .commit(Commit {
            writes: vec![put("b", 1, None)],
            ..Default::default()
        })
        .await;
    assert!(matches!(down, Err(StoreError::Unavailable(_))), "{down:?}");
    assert!(matches!(
        store.load().await,
        Err(StoreError::Unavailable(_))
    ));
    redis.restart();
    // The connection manager reconnects by itself; a fresh Redis has no data (no AOF here).
    let mut recovered = false;
    for _ in 0..50 {
        if store.revision().await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "the store did not reconnect");
    store
        .commit(Commit {
            writes: vec![put("b", 1, None)],
            ..Default::default()
        })
        .await
        .unwrap();
}
