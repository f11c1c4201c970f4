//! Starting without the server: bootstrap data, the persisted snapshot, malformed answers,
//! bad configuration.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use switchyard_sdk::{Client, Context, Reason, SdkError, Status};

use crate::helpers::{Server, builder, eventually};

const BOOTSTRAP: &str =
    r#"{"format": 1, "flags": [{"key": "f", "enabled": true, "rollout_percentage": 100}]}"#;

#[tokio::test]
async fn starts_from_bootstrap_then_follows_the_server_once_it_is_up() {
    let port = switchyard_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = builder(&base)
        .bootstrap_json(BOOTSTRAP)
        .unwrap()
        .build()
        .unwrap();
    let ctx = Context::new().user("u");
    assert_eq!(client.status(), Status::Bootstrap);
    assert_eq!(client.evaluate("f", &ctx).reason, Reason::Rollout);
    let waited = client.wait_until_ready(Duration::from_millis(300)).await;
    assert!(
        matches!(
            waited,
            Err(SdkError::Timeout {
                status: Status::Bootstrap,
                ..
            })
        ),
        "{waited:?}"
    );
    assert!(client.is_enabled("f", &ctx), "still serving the bootstrap");

    let server = Server::start_on(port, None).await;
    server.create("f", json!({"enabled": false})).await;
    client
        .wait_until_ready(Duration::from_secs(10))
        .await
        .unwrap();
    eventually("the server's flag replaces the bootstrap", || {
        client.evaluate("f", &ctx).reason == Reason::Disabled
    })
    .await;
    client.shutdown().await;
}

#[tokio::test]
async fn a_restart_during_an_outage_serves_the_persisted_flags() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache/flags.json");
    let mut server = Server::start().await;
    server
        .create("f", json!({"enabled": true, "whitelist": ["vip"]}))
        .await;
    let first = builder(&server.base).persist_to(&cache).build().unwrap();
    first
        .wait_until_ready(Duration::from_secs(10))
        .await
        .unwrap();
    eventually("the snapshot persisted", || cache.exists()).await;
    first.shutdown().await;
    drop(first);
    server.stop().await;

    // The bootstrap says otherwise; the persisted snapshot (the server's last word) wins.
    let other = r#"{"format": 1, "flags": [{"key": "f", "enabled": false}]}"#;
    let second = builder(&server.base)
        .persist_to(&cache)
        .bootstrap_json(other)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(second.status(), Status::Bootstrap);
    let d = second.evaluate("f", &Context::new().user("vip"));
    assert_eq!((d.enabled, d.reason), (true, Reason::Whitelist));
    assert!(second.snapshot_version().unwrap() > 0);
    second.shutdown().await;
}

/// A server that answers every request with `200` and `body`, counting requests.
fn fake_server(body: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
            count.fetch_add(1, Ordering::Relaxed);
        }
    });
    (base, served)
}

#[tokio::test]
async fn malformed_answers_keep_the_last_good_flags() {
    for body in [
        "this is not json",
        r#"{"version": "seven", "flags": 3}"#,
        r#"{"version": 5, "flags": [{"key": "f"}, {"key": "f"}]}"#,
    ] {
        let (base, served) = fake_server(body);
        let client = builder(&base)
            .bootstrap_json(BOOTSTRAP)
            .unwrap()
            .build()
            .unwrap();
        eventually("several answers read", || {
            served.load(Ordering::Relaxed) >= 5
        })
        .await;
        assert_eq!(client.status(), Status::Bootstrap, "{body}");
        assert!(client.is_enabled("f", &Context::new().user("u")), "{body}");
        client.shutdown().await;
    }
}

#[tokio::test]
async fn bad_configuration_is_an_error_not_a_panic() {
    let url = Client::builder("not a url", "t").build().unwrap_err();
    assert!(matches!(url, SdkError::InvalidUrl { .. }), "{url}");
    for bad in ["{", r#"{"format": 3, "flags": []}"#, r#"{"flags": []}"#] {
        let err = Client::builder("http://x", "t")
            .bootstrap_json(bad)
            .unwrap_err();
        assert!(matches!(err, SdkError::Bootstrap(_)), "{bad}: {err}");
    }
    let missing = Client::builder("http://x", "t")
        .bootstrap_file("/nope/flags.json")
        .unwrap_err();
    assert!(missing.to_string().contains("/nope/flags.json"));
}
