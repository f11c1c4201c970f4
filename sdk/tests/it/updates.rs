//! Live updates: the initial load, changes and kill switches as they happen, a server outage
//! and its return, several servers on one Redis, defaults, shutdown.

use std::time::Duration;

use serde_json::json;
use switchyard_sdk::{Client, Context, Reason, Status};
use switchyard_testkit::redis::RedisServer;

use crate::helpers::{Server, builder, eventually, ready_client};

#[tokio::test]
async fn initial_load_live_changes_and_kill_switches() {
    let server = Server::start().await;
    server
        .create(
            "new-onboarding",
            json!({"enabled": true, "rollout_percentage": 0, "whitelist": ["insider"]}),
        )
        .await;
    let client = ready_client(&server.base).await;
    assert_eq!(client.status(), Status::Ready);
    let insider = Context::new().user("insider");
    let outsider = Context::new().user("outsider");
    assert_eq!(
        client.evaluate("new-onboarding", &insider).reason,
        Reason::Whitelist
    );
    assert!(!client.is_enabled("new-onboarding", &outsider));

    server
        .patch("new-onboarding", json!({"rollout_percentage": 100}))
        .await;
    eventually("the rollout change", || {
        client.is_enabled("new-onboarding", &outsider)
    })
    .await;
    server.kill_flag("new-onboarding", true).await;
    eventually("the flag's kill switch", || {
        client.evaluate("new-onboarding", &insider).reason == Reason::KillSwitch
    })
    .await;
    server.kill_global(true).await;
    eventually("the global kill switch", || {
        client.evaluate("new-onboarding", &insider).reason == Reason::GlobalKillSwitch
    })
    .await;
    server.kill_global(false).await;
    eventually("the global kill switch off", || {
        client.evaluate("new-onboarding", &insider).reason == Reason::KillSwitch
    })
    .await;
    client.shutdown().await;
}

/// A change made in place on the instance travels in the stream event itself: the client
/// applies it without fetching the snapshot again, and acknowledges it with a conditional
/// fetch the server answers 304.
#[tokio::test]
async fn a_change_carried_by_the_stream_is_applied_without_fetching_the_snapshot() {
    let server = Server::start().await;
    server
        .create("f", json!({"enabled": true, "rollout_percentage": 0}))
        .await;
    server.create("g", json!({"enabled": true})).await;
    let client = ready_client(&server.base).await;
    let ctx = Context::new().user("u");
    // Settled: the stream's first event is acknowledged by a conditional fetch (a 304).
    server
        .until("the stream's first event acknowledged", || async {
            server.snapshot_answers(304).await >= 1
        })
        .await;
    let (full, acks) = (
        server.snapshot_answers(200).await,
        server.snapshot_answers(304).await,
    );

    server.patch("f", json!({"rollout_percentage": 100})).await;
    eventually("the rollout change", || client.is_enabled("f", &ctx)).await;
    server.kill_flag("g", true).await;
    eventually("g's kill switch", || {
        client.evaluate("g", &ctx).reason == Reason::KillSwitch
    })
    .await;
    server.kill_global(true).await;
    eventually("the global kill switch", || {
        client.evaluate("f", &ctx).reason == Reason::GlobalKillSwitch
    })
    .await;
    let deleted = reqwest::Client::new()
        .delete(format!("{}/v1/flags/g", server.base))
        .bearer_auth(crate::helpers::ADMIN)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    server.kill_global(false).await;
    eventually("g deleted, the kill switch off", || {
        client.evaluate("g", &ctx).reason == Reason::FlagNotFound && client.is_enabled("f", &ctx)
    })
    .await;
    // Each of the five changes is acknowledged, and none by fetching the snapshot whole.
    server
        .until("each change acknowledged", || async {
            server.snapshot_answers(304).await >= acks + 5
        })
        .await;
    assert_eq!(
        server.snapshot_answers(200).await,
        full,
        "no snapshot was sent again"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn keeps_serving_through_an_outage_and_catches_up() {
    let mut server = Server::start().await;
    server
        .create("f", json!({"enabled": true, "rollout_percentage": 100}))
        .await;
    let client = ready_client(&server.base).await;
    let ctx = Context::new().user("u");
    let before = client.evaluate("f", &ctx);

    server.stop().await;
    eventually("stale once the server is gone", || {
        matches!(client.status(), Status::Stale { .. })
    })
    .await;
    for _ in 0..100 {
        assert_eq!(
            client.evaluate("f", &ctx),
            before,
            "the last good flags are served"
        );
    }

    server.resume().await;
    server.patch("f", json!({"enabled": false})).await;
    eventually("the change made after the outage", || {
        client.evaluate("f", &ctx).reason == Reason::Disabled
    })
    .await;
    eventually("ready again", || client.status() == Status::Ready).await;
    client.shutdown().await;
}

#[tokio::test]
async fn follows_a_change_made_on_another_instance_through_redis() {
    let redis = RedisServer::start();
    let a = Server::start_with(Some(redis.url())).await;
    let b = Server::start_with(Some(redis.url())).await;
    a.create("f", json!({"enabled": true, "rollout_percentage": 100}))
        .await;
    let client = builder(&b.base).build().unwrap();
    let ctx = Context::new().user("u");
    eventually("the flag via instance B", || client.is_enabled("f", &ctx)).await;
    a.kill_global(true).await;
    eventually("A's kill switch via B", || {
        client.evaluate("f", &ctx).reason == Reason::GlobalKillSwitch
    })
    .await;
    client.shutdown().await;
}

#[tokio::test]
async fn defaults_when_the_flag_is_unknown_or_nothing_is_loaded() {
    let empty = Client::builder("http://127.0.0.1:9", "t")
        .offline(true)
        .build()
        .unwrap();
    let ctx = Context::new().user("u");
    assert_eq!(empty.status(), Status::Starting);
    let d = empty.evaluate_or("f", &ctx, true);
    assert_eq!((d.enabled, d.reason), (true, Reason::NoData));
    assert!(!empty.is_enabled("f", &ctx));

    let export =
        r#"{"format": 1, "flags": [{"key": "on", "enabled": true, "rollout_percentage": 100}]}"#;
    let loaded = Client::builder("http://127.0.0.1:9", "t")
        .offline(true)
        .bootstrap_json(export)
        .unwrap()
        .build()
        .unwrap();
    let d = loaded.evaluate_or("missing", &ctx, true);
    assert_eq!((d.enabled, d.reason), (true, Reason::FlagNotFound));
    assert!(loaded.is_enabled_or("on", &ctx, false));
    let killed = r#"{"format": 1, "global_kill_switch": {"active": true}, "flags": []}"#;
    let killed = Client::builder("http://127.0.0.1:9", "t")
        .offline(true)
        .bootstrap_json(killed)
        .unwrap()
        .build()
        .unwrap();
    let d = killed.evaluate_or("missing", &ctx, true);
    assert_eq!(
        (d.enabled, d.reason),
        (false, Reason::GlobalKillSwitch),
        "a kill switch beats the default"
    );
}

#[tokio::test]
async fn shutdown_closes_the_stream() {
    let server = Server::start().await;
    let client = ready_client(&server.base).await;
    let streams = || async {
        let text = reqwest::get(format!("{}/metrics", server.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| {
                l.strip_prefix("switchyard_stream_clients ")
                    .map(|n| n.trim().to_owned())
            })
            .unwrap()
    };
    assert_eq!(streams().await, "1");
    let clone = client.clone();
    clone.shutdown().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while streams().await != "0" {
        assert!(
            std::time::Instant::now() < deadline,
            "the stream stayed open after shutdown"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn the_client_is_clone_send_sync_and_needs_a_runtime_only_online() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Client>();
    let err = Client::builder("http://127.0.0.1:9", "t")
        .build()
        .unwrap_err();
    assert!(matches!(err, switchyard_sdk::SdkError::NoRuntime), "{err}");
    assert!(
        Client::builder("http://127.0.0.1:9", "t")
            .offline(true)
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn a_refused_token_is_a_status_of_its_own_not_a_server_that_is_down() {
    let server = Server::start().await;
    server
        .create("f", json!({"enabled": true, "rollout_percentage": 100}))
        .await;
    let export = r#"{"format": 1, "flags": [{"key": "f", "enabled": false}]}"#;
    let client = Client::builder(&server.base, "not-a-token-0123456789")
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .refresh_interval(Duration::from_millis(100))
        .bootstrap_json(export)
        .unwrap()
        .build()
        .unwrap();
    // An answer of its own (not the timeout's): waiting longer would not help.
    let waited = client.wait_until_ready(Duration::from_secs(30)).await;
    assert!(
        matches!(
            waited,
            Err(switchyard_sdk::SdkError::Unauthorized { status: 401 })
        ),
        "{waited:?}"
    );
    assert_eq!(client.status(), Status::Unauthorized { status: 401 });
    // It keeps serving what it has: the bootstrap.
    let d = client.evaluate("f", &Context::new().user("u"));
    assert_eq!((d.enabled, d.reason), (false, Reason::Disabled));
    client.shutdown().await;
}
