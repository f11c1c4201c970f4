//! The fleet view through real sockets (docs/api.md#fleet-proof-that-a-change-took): writes say which snapshot version serves
//! them, `/v1/fleet/wait` answers once the fleet serves it (or names who does not), SDKs
//! that name themselves are counted at the version they loaded — also when their fetch lands
//! on another instance than their stream — and an instance that stops following the store
//! says degraded.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchyard_testkit::redis::RedisServer;

use crate::helpers::{ADMIN, SDK, TestApp, problem, spawn_app};
use crate::redis::{eventually, eventually_within, instances, snapshot_version};

async fn fleet(app: &TestApp) -> Value {
    let (status, body) = app.call(Method::GET, "/v1/fleet", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn wait(app: &TestApp, version: u64, timeout_ms: u64) -> Value {
    let path = format!("/v1/fleet/wait?version={version}&timeout_ms={timeout_ms}");
    let (status, body) = app.call(Method::GET, &path, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The SDKs an instance's heartbeat counts: version → count.
fn sdks(fleet: &Value, i: usize) -> Value {
    fleet["instances"][i]["sdks"].clone()
}

#[tokio::test]
async fn a_write_names_its_version_and_the_wait_proves_it_served() {
    let app = spawn_app().await;
    app.create("f", json!({"enabled": true})).await;
    let res = app
        .send(
            Method::POST,
            "/v1/flags/f/kill",
            Some(ADMIN),
            Some(json!({"active": true, "reason": "r"})),
        )
        .await;
    let version: u64 = res.headers()["x-switchyard-snapshot-version"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(version, snapshot_version(&app).await);
    let verdict = wait(&app, version, 5000).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["instances"], json!({"serving": 1, "total": 1}));
    // A version nobody serves yet: the answer comes at the timeout, naming the instance.
    let verdict = wait(&app, version + 5, 100).await;
    assert_eq!(verdict["verified"], false, "{verdict}");
    assert!(verdict["elapsed_ms"].as_u64().unwrap() >= 100, "{verdict}");
    let behind = &verdict["behind"][0];
    assert_eq!(behind["version"], version, "{verdict}");
    assert_eq!(behind["state"], "live");
    let view = fleet(&app).await;
    assert_eq!(view["latest_version"], version);
    assert_eq!(view["instances"][0]["id"], behind["id"]);
    assert_eq!(view["instances"][0]["state"], "live");
}

#[tokio::test]
async fn bad_waits_and_client_headers_are_400s() {
    let app = spawn_app().await;
    for query in [
        "",
        "?version=0",
        "?version=9007199254740992",
        "?version=1&timeout_ms=60001",
        "?version=1&extra=1",
        "?version=x",
    ] {
        let res = app
            .send(
                Method::GET,
                &format!("/v1/fleet/wait{query}"),
                Some(ADMIN),
                None,
            )
            .await;
        problem(res, StatusCode::BAD_REQUEST).await;
    }
    for path in ["/v1/snapshot", "/v1/stream"] {
        for header in [
            "has space; app=x",
            "c1",
            "c1; app=",
            &format!("{}; app=x", "c".repeat(200)),
        ] {
            let res = app
                .client
                .get(format!("{}{path}", app.base))
                .bearer_auth(SDK)
                .header("x-switchyard-client", header)
                .send()
                .await
                .unwrap();
            let body = problem(res, StatusCode::BAD_REQUEST).await;
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("X-Switchyard-Client"),
                "{body}"
            );
        }
    }
}

/// Opens `/v1/stream` on `app` as SDK `client`, saying it has `loaded`; returns the stream
/// (kept open while the caller holds it) and the instance id the server named.
async fn open_stream(
    app: &TestApp,
    client: &str,
    loaded: u64,
) -> (impl futures_util::Stream + use<>, String) {
    let res = app
        .client
        .get(format!("{}/v1/stream", app.base))
        .bearer_auth(SDK)
        .header("x-switchyard-client", format!("{client}; app=shop"))
        .header("last-event-id", loaded.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let instance = res.headers()["x-switchyard-instance"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut events = res.bytes_stream();
    events.next().await.expect("the first event").unwrap();
    (events, instance)
}

async fn fetch_as(app: &TestApp, header: &str) -> StatusCode {
    app.client
        .get(format!("{}/v1/snapshot", app.base))
        .bearer_auth(SDK)
        .header("x-switchyard-client", header)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn an_sdk_is_counted_at_the_version_it_loaded_wherever_it_fetched() {
    let redis = RedisServer::start();
    let apps = instances(&redis, "fleet-acks", 2).await;
    apps[0].create("f", json!({"enabled": true})).await;
    let v1 = snapshot_version(&apps[0]).await;
    eventually("both instances serve the flag", || async {
        snapshot_version(&apps[1]).await == v1
    })
    .await;
    // Streaming from instance 0, saying it has an older version: counted there, behind.
    let (_stream, streamed_on) = open_stream(&apps[0], "c1", v1 - 1).await;
    eventually("instance 0 counts the SDK, behind and named", || async {
        let view = fleet(&apps[0]).await;
        let me = view["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == streamed_on.as_str())
            .cloned()
            .unwrap_or_default();
        me["sdks"] == json!({(v1 - 1).to_string(): 1})
            && me["lagging_sdks"] == json!([{"client": "c1", "app": "shop", "version": v1 - 1}])
    })
    .await;
    let verdict = wait(&apps[0], v1, 100).await;
    assert_eq!(
        verdict["sdks"],
        json!({"serving": 0, "total": 1}),
        "{verdict}"
    );
    // Its fetch lands on instance 1 (a load balancer's choice): handed over to instance 0.
    assert_eq!(
        fetch_as(&apps[1], &format!("c1; app=shop; stream={streamed_on}")).await,
        StatusCode::OK
    );
    let verdict = wait(&apps[0], v1, 5000).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["sdks"], json!({"serving": 1, "total": 1}));
    assert_eq!(verdict["instances"], json!({"serving": 2, "total": 2}));
    let view = fleet(&apps[1]).await;
    let counted: Vec<Value> = (0..2).map(|i| sdks(&view, i)).collect();
    assert!(counted.contains(&json!({v1.to_string(): 1})), "{view}");
}

#[tokio::test]
async fn an_instance_that_stops_following_the_store_says_degraded() {
    let redis = RedisServer::start();
    let apps = instances(&redis, "fleet-lag", 1).await;
    let app = &apps[0];
    app.create("f", json!({"enabled": true})).await;
    let served = snapshot_version(app).await;
    // A record this version cannot read, written behind its back: the store moves on, the
    // instance cannot follow.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::pipe()
        .hset("fleet-lag:flags", "broken", "not a flag")
        .incr("fleet-lag:revision", 1)
        .publish("fleet-lag:changes", served + 1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let res = app.send(Method::GET, "/health/ready", None, None).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "degraded only after a few seconds"
    );
    eventually_within(
        "readiness says degraded",
        Duration::from_secs(8),
        || async {
            let (status, body) = app.call(Method::GET, "/health/ready", None, None).await;
            status == StatusCode::SERVICE_UNAVAILABLE
                && body["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("not following the store"))
        },
    )
    .await;
    eventually("the metrics say one instance lags", || async {
        app.metrics()
            .await
            .contains("switchyard_fleet_instances{state=\"lagging\"} 1")
    })
    .await;
    // Repaired, it follows again and is ready.
    let _: () = redis::cmd("HDEL")
        .arg("fleet-lag:flags")
        .arg("broken")
        .query_async(&mut conn)
        .await
        .unwrap();
    eventually("ready again once it can follow", || async {
        app.send(Method::GET, "/health/ready", None, None)
            .await
            .status()
            == StatusCode::OK
    })
    .await;
    let metrics = app.metrics().await;
    for line in [
        "switchyard_fleet_instances{state=\"gone\"} 0",
        "switchyard_sdk_clients{behind=\"0\"} 0",
        "switchyard_fleet_heartbeat_failures_total 0",
    ] {
        assert!(metrics.contains(line), "missing {line}");
    }
}
