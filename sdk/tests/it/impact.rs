//! Impact from the SDK (docs/api.md#release-plans) against a real server: evaluations count exposures per
//! variant, `track` counts events for the variant the user got, the counts reach the
//! server's sums; with the server away they are dropped and the app goes on.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_sdk::Context;

use crate::helpers::{Server, builder};

/// A ready client of `server` reporting impact every `every`.
async fn reporting(server: &Server, every: Duration) -> switchyard_sdk::Client {
    let client = builder(&server.base)
        .app("shop")
        .impact_interval(every)
        .build()
        .unwrap();
    client
        .wait_until_ready(Duration::from_secs(10))
        .await
        .unwrap();
    client
}

async fn sums(server: &Server, flag: &str) -> Value {
    server
        .admin(
            Method::GET,
            &format!("/v1/flags/{flag}/impact"),
            Value::Null,
        )
        .await
}

#[tokio::test]
async fn evaluations_and_tracked_events_reach_the_servers_sums() {
    let server = Server::start().await;
    server
        .create(
            "checkout",
            json!({"enabled": true, "rollout_percentage": 50}),
        )
        .await;
    let client = reporting(&server, Duration::from_millis(200)).await;
    let (mut on, mut off, mut on_errors) = (0u64, 0u64, 0u64);
    for i in 0..400 {
        let user = format!("user-{i}");
        let ctx = Context::new().user(&user);
        if client.is_enabled("checkout", &ctx) {
            on += 1;
            if i % 4 == 0 {
                client.track("checkout", "error", &ctx);
                on_errors += 1;
            }
        } else {
            off += 1;
        }
    }
    client.track("checkout", "bad name!", &Context::new().user("x")); // ignored
    client.track("nope", "error", &Context::new().user("x")); // unknown flag: ignored
    assert!(on > 100 && off > 100, "a 50 % rollout: {on} on, {off} off");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = sums(&server, "checkout").await;
        if s["on"]["exposures"] == on && s["off"]["exposures"] == off {
            assert_eq!(s["on"]["counts"], json!({"error": on_errors}), "{s}");
            assert_eq!(s["off"]["counts"], json!({}), "{s}");
            break;
        }
        assert!(Instant::now() < deadline, "the sums never matched: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.shutdown().await;
}

#[tokio::test]
async fn with_the_server_away_counts_are_dropped_and_the_app_goes_on() {
    let mut server = Server::start().await;
    server
        .create("f", json!({"enabled": true, "rollout_percentage": 100}))
        .await;
    let client = reporting(&server, Duration::from_millis(100)).await;
    server.stop().await;
    let ctx = Context::new().user("u");
    for _ in 0..100_000 {
        assert!(client.is_enabled("f", &ctx));
        client.track("f", "error", &ctx);
    }
    // Reports fail while it is away; what they carried is gone, not queued for later. The
    // outage lasts four report intervals.
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.resume().await;
    client.is_enabled("f", &ctx);
    client.shutdown().await; // sends the last counts
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = sums(&server, "f").await;
        let exposures = s["on"]["exposures"].as_u64().unwrap();
        if exposures >= 1 {
            assert!(
                exposures < 100_000,
                "the counts made while it was away were dropped: {s}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the last report never arrived: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
