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
        .env("NO_COLOR", "1");
    // The log (on stdout) and anything on stderr, kept for the tests that read them.
    let log = std::fs::File::create(data.join("server.log")).expect("a log file");
    command
        .stdout(log.try_clone().expect("a log file"))
        .stderr(log);
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
async fn sigterm_ends_open_streams_and_exits_at_once() {
    use futures_util::StreamExt;
    let data = tempfile::tempdir().unwrap();
    let mut server = start(data.path(), true).await;
    let res = reqwest::Client::new()
        .get(format!("{}/v1/stream", server.base))
        .bearer_auth(SDK)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut events = res.bytes_stream();
    let first = events.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: snapshot"));

    let pid = server.child.id().to_string();
    let sent = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // The stream ends (the SDK reconnects elsewhere) rather than holding the stop up.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = events.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream was still open 5 s after SIGTERM");
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        // Before streams ended on stop, this took the full 10 s shutdown timeout.
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "no exit within 5 s of SIGTERM with a stream open (docs/flags.md#limits-and-safety-rules: 2 s)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "SIGTERM is a clean exit: {status}");
}

#[tokio::test]
async fn malformed_requests_get_problems_and_are_counted_not_logged_as_errors() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), false).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    for _ in 0..20 {
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        socket
            .write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer).await;
        assert!(
            answer.starts_with(b"HTTP/1.1 400"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    // Answered by the HTTP layer before any route, yet problem+json like every error: a bad
    // header line (400) and headers over the limit (431).
    let huge = format!(
        "GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let bad = b"GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec();
    for (request, status) in [(bad, 400), (huge.into_bytes(), 431)] {
        let socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        // Read while writing: the server answers 431 before it has read the whole request.
        let (mut reader, mut writer) = socket.into_split();
        let sending = tokio::spawn(async move {
            let _ = writer.write_all(&request).await;
        });
        let mut answer = Vec::new();
        let _ = reader.read_to_end(&mut answer).await;
        let _ = sending.await;
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with(&format!("HTTP/1.1 {status}")), "{text}");
        assert!(
            text.contains("content-type: application/problem+json"),
            "{text}"
        );
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], status, "{problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // The count follows the HTTP layer's log event, which may come just after the answer.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = reqwest::get(format!("{}/metrics", server.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("switchyard_http_malformed_requests_total 22") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "22 malformed requests not counted: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(data.path().join("server.log")).unwrap();
    assert!(
        !log.contains("ERROR"),
        "malformed requests flooded the log: {log}"
    );
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
async fn a_server_without_tokens_says_so_at_start() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("SWITCHYARD_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHYARD_STORE__DATA_DIR", data.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client
        .get(format!("http://127.0.0.1:{port}/health/live"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(
        log.contains("no token is configured") && log.contains("SWITCHYARD_ADMIN_TOKEN"),
        "{log}"
    );
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
