//! The fleet view end to end (docs/api.md#fleet-proof-that-a-change-took): three `switchyard-server` processes on a real Redis,
//! real SDK clients streaming from each, and `switchyard kill`/`unkill` verifying that every
//! instance and SDK serves the change — or naming who does not: an SDK whose stream is cut
//! (a frozen proxy), an instance that is frozen (SIGSTOP), and one that died (SIGKILL),
//! which turns `gone` within 3 s and is counted out.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_sdk::Client;
use switchyard_testkit::process::ServerProcess;
use switchyard_testkit::proxy::Proxy;
use switchyard_testkit::redis::RedisServer;

use crate::helpers::{ADMIN, SDK, run_at};

/// The server binary, built beside this one by `cargo test --workspace` (scripts/test).
fn server_binary() -> PathBuf {
    let cli = PathBuf::from(env!("CARGO_BIN_EXE_switchyard"));
    let bin = cli.with_file_name("switchyard-server");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p switchyard-server` (scripts/test runs \
         `cargo test --workspace`, which does)",
        bin.display()
    );
    bin
}

fn instance(redis: &RedisServer, id: &str, dir: &std::path::Path) -> ServerProcess {
    let env = [
        ("SWITCHYARD_STORE__REDIS_URL", redis.url()),
        ("SWITCHYARD_STORE__REDIS_PREFIX", "fleet".to_owned()),
        ("SWITCHYARD_SERVER__INSTANCE_ID", id.to_owned()),
        ("SWITCHYARD_SERVER__WORKERS", "1".to_owned()),
        ("SWITCHYARD_SERVER__WRITES_PER_MINUTE", "10000".to_owned()),
        ("SWITCHYARD_ADMIN_TOKEN", ADMIN.to_owned()),
        ("SWITCHYARD_SDK_TOKEN", SDK.to_owned()),
    ];
    ServerProcess::start(&server_binary(), &env, &dir.join(format!("{id}.log")))
}

fn sdk(base: &str, client: &str) -> Client {
    Client::builder(base, SDK)
        .app("checkout")
        .client_id(client)
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .build()
        .expect("an SDK client")
}

async fn fleet(base: &str) -> Value {
    let run = run_at(base, Some(ADMIN), &["fleet", "--json"]).await;
    assert_eq!(run.code, 0, "fleet: {}{}", run.stdout, run.stderr);
    run.json()
}

/// SDKs the fleet view counts, over every instance.
fn sdk_count(fleet: &Value) -> u64 {
    fleet["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| i["sdks"].as_object().into_iter().flatten())
        .filter_map(|(_, n)| n.as_u64())
        .sum()
}

fn state_of<'a>(fleet: &'a Value, id: &str) -> &'a str {
    fleet["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["id"] == id)
        .and_then(|i| i["state"].as_str())
        .unwrap_or("absent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_verifies_every_instance_and_sdk_and_names_who_is_behind() {
    let redis = RedisServer::start();
    let logs = tempfile::tempdir().unwrap();
    let a = instance(&redis, "yard-a", logs.path());
    let b = instance(&redis, "yard-b", logs.path());
    let mut c = instance(&redis, "yard-c", logs.path());
    let created = run_at(
        &a.base(),
        Some(ADMIN),
        &[
            "flags",
            "create",
            "checkout-v2",
            "--enabled",
            "--rollout",
            "100",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}{}", created.stdout, created.stderr);

    // Two SDKs on each instance, and one more on yard-a behind a proxy the test can freeze.
    let proxy = Proxy::start(a.port);
    let mut clients = Vec::new();
    for (server, name) in [(&a, "a"), (&b, "b"), (&c, "c")] {
        for n in 0..2 {
            clients.push(sdk(&server.base(), &format!("sdk-{name}{n}")));
        }
    }
    clients.push(sdk(&proxy.base(), "sdk-behind-proxy"));
    for client in &clients {
        client
            .wait_until_ready(Duration::from_secs(10))
            .await
            .expect("every SDK gets the flags");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while sdk_count(&fleet(&a.base()).await) < 7 {
        assert!(Instant::now() < deadline, "the fleet never listed 7 SDKs");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let table = run_at(&a.base(), Some(ADMIN), &["fleet"]).await;
    for id in ["yard-a", "yard-b", "yard-c"] {
        assert!(table.stdout.contains(id), "{}", table.stdout);
    }

    // Everyone follows: the kill is verified on 3 instances and 7 SDKs.
    let kill = run_at(
        &a.base(),
        Some(ADMIN),
        &["kill", "checkout-v2", "--reason", "incident 1"],
    )
    .await;
    assert_eq!(kill.code, 0, "{}{}", kill.stdout, kill.stderr);
    assert!(
        kill.stdout
            .contains("verified: 3/3 instances and 7/7 SDKs serve v"),
        "{}",
        kill.stdout
    );
    for client in &clients {
        assert!(!client.is_enabled("checkout-v2", &Default::default()));
    }

    // A stream cut without either end noticing: that SDK is named, the command fails.
    proxy.freeze(true);
    let unkill = run_at(&a.base(), Some(ADMIN), &["unkill", "checkout-v2"]).await;
    assert_eq!(unkill.code, 7, "{}{}", unkill.stdout, unkill.stderr);
    assert!(
        unkill.stdout.contains("kill switch ON → off"),
        "{}",
        unkill.stdout
    );
    assert!(
        unkill.stderr.contains("6/7 SDKs") && unkill.stderr.contains("sdk-behind-proxy"),
        "{}",
        unkill.stderr
    );
    proxy.freeze(false);

    // A frozen instance (SIGSTOP): behind, named, non-zero exit.
    b.signal("STOP");
    let kill = run_at(
        &a.base(),
        Some(ADMIN),
        &["kill", "checkout-v2", "--reason", "incident 2"],
    )
    .await;
    b.signal("CONT");
    assert_eq!(kill.code, 7, "{}{}", kill.stdout, kill.stderr);
    assert!(kill.stderr.contains("yard-b"), "{}", kill.stderr);
    assert!(!kill.stderr.contains("yard-c"), "{}", kill.stderr);

    // A dead instance (SIGKILL) turns gone within 3 s and is counted out.
    c.kill();
    let killed_at = Instant::now();
    while state_of(&fleet(&a.base()).await, "yard-c") != "gone" {
        assert!(
            killed_at.elapsed() < Duration::from_secs(4),
            "yard-c not gone 4 s after SIGKILL"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unkill = run_at(&a.base(), Some(ADMIN), &["unkill", "checkout-v2"]).await;
    assert_eq!(unkill.code, 0, "{}{}", unkill.stdout, unkill.stderr);
    assert!(
        unkill
            .stdout
            .contains("verified: 2/2 instances and 5/5 SDKs serve v")
            && unkill.stdout.contains("counted out (gone): yard-c"),
        "{}",
        unkill.stdout
    );
    for client in &clients {
        client.shutdown().await;
    }
}

#[tokio::test]
async fn no_wait_skips_the_fleet_and_the_embedded_fleet_is_one_instance() {
    let server = crate::helpers::server().await;
    let created = run_at(
        &server.base,
        Some(ADMIN),
        &["flags", "create", "f", "--enabled"],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let kill = run_at(
        &server.base,
        Some(ADMIN),
        &["kill", "f", "--reason", "r", "--no-wait"],
    )
    .await;
    assert_eq!(kill.code, 0, "{}", kill.stderr);
    assert!(kill.stdout.contains("--no-wait"), "{}", kill.stdout);
    let rollout = run_at(&server.base, Some(ADMIN), &["rollout", "f", "30"]).await;
    assert_eq!(rollout.code, 0, "{}", rollout.stderr);
    assert!(
        rollout
            .stdout
            .contains("verified: 1/1 instances and 0/0 SDKs serve v"),
        "{}",
        rollout.stdout
    );
    let view = fleet(&server.base).await;
    assert_eq!(view["instances"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        state_of(&view, view["instances"][0]["id"].as_str().unwrap()),
        "live"
    );
}
