//! The real binary: configured by environment alone, graceful on SIGTERM, and a restart keeps
//! every flag, version, audit entry, token and the global kill switch.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, SDK};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard-server");

/// A server process, killed if the test ends early.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

use switchyard_testkit::free_port;

async fn start(data: &std::path::Path, demo: bool) -> Server {
    let port = free_port();
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("SWITCHYARD_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHYARD_SERVER__WORKERS", "1")
        .env("SWITCHYARD_STORE__DATA_DIR", data)
        .env("SWITCHYARD_ADMIN_TOKEN", ADMIN)
        .env("SWITCHYARD_SDK_TOKEN", SDK)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if demo {
        command.arg("--demo");
    }
    let server = Server {
        child: command.spawn().expect("start the server binary"),
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = reqwest::Client::new();
    loop {
        if let Ok(res) = client
            .get(format!("{}/health/ready", server.base))
            .send()
            .await
            && res.status() == StatusCode::OK
        {
            return server;
        }
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn call(
    base: &str,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn sigterm_and_wait(server: &mut Server) -> std::process::ExitStatus {
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "no exit within 20 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn restart_keeps_everything() {
    use reqwest::Method;
    let data = tempfile::tempdir().unwrap();
    let mut first = start(data.path(), true).await;
    let (_, flags) = call(&first.base, Method::GET, "/v1/flags", ADMIN, None).await;
    assert_eq!(
        flags["flags"].as_array().unwrap().len(),
        3,
        "the demo flags: {flags}"
    );
    let (status, _) = call(
        &first.base,
        Method::PATCH,
        "/v1/flags/checkout-v2",
        ADMIN,
        Some(json!({"rollout_percentage": 50})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    call(
        &first.base,
        Method::POST,
        "/v1/kill-switch",
        ADMIN,
        Some(json!({"active": true, "reason": "drill"})),
    )
    .await;
    let (_, issued) = call(
        &first.base,
        Method::POST,
        "/v1/tokens",
        ADMIN,
        Some(json!({"name": "viewer", "role": "viewer"})),
    )
    .await;
    let viewer = issued["token"].as_str().unwrap().to_owned();
    let (_, before) = call(&first.base, Method::GET, "/v1/export", ADMIN, None).await;
    let (_, audit_before) = call(&first.base, Method::GET, "/v1/audit", ADMIN, None).await;

    assert!(
        sigterm_and_wait(&mut first).success(),
        "SIGTERM is a clean exit"
    );
    drop(first);

    let second = start(data.path(), true).await;
    let (_, after) = call(&second.base, Method::GET, "/v1/export", &viewer, None).await;
    assert_eq!(after, before);
    assert_eq!(after["global_kill_switch"]["active"], true);
    let (_, audit_after) = call(&second.base, Method::GET, "/v1/audit", ADMIN, None).await;
    assert_eq!(audit_after, audit_before);
    let (_, history) = call(
        &second.base,
        Method::GET,
        "/v1/flags/checkout-v2/history",
        ADMIN,
        None,
    )
    .await;
    assert_eq!(history["versions"].as_array().unwrap().len(), 2);
    let (_, decision) = call(
        &second.base,
        Method::POST,
        "/v1/evaluate",
        SDK,
        Some(json!({"flag": "dark-mode"})),
    )
    .await;
    assert_eq!(decision["reason"], "GLOBAL_KILL_SWITCH");
}

#[test]
fn bad_configuration_stops_the_start_with_one_line() {
    let cases = [
        ("SWITCHYARD_SERVER__LISTEN", "nowhere"),
        ("SWITCHYARD_STORE__REDIS_URL", "http://127.0.0.1:1"),
        ("SWITCHYARD_ADMIN_TOKEN", "short"),
    ];
    for (key, value) in cases {
        let out = Command::new(BIN)
            .env_clear()
            .env(key, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{key}: {stderr}");
        assert!(stderr.contains(key), "{key}: {stderr}");
        assert!(!stderr.contains("short"), "a token value is never printed");
    }
}

#[tokio::test]
async fn check_live_is_the_container_health_check() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), false).await;
    let listen = server.base.trim_start_matches("http://").to_owned();
    let probe = |listen: String| {
        Command::new(BIN)
            .env_clear()
            .env("SWITCHYARD_SERVER__LISTEN", listen)
            .arg("--check-live")
            .status()
            .unwrap()
    };
    assert!(probe(listen.clone()).success(), "live server");
    let port = listen.rsplit(':').next().unwrap();
    assert!(
        probe(format!("0.0.0.0:{port}")).success(),
        "an unspecified address means this host"
    );
    drop(server);
    assert!(!probe(listen).success(), "nothing listening");
}
