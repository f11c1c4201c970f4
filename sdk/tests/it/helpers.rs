//! A Switchyard server on a fixed free port that a test can stop and start again on the same
//! port and data (a server outage, as the SDK sees it); and SDK client helpers.

use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use serde_json::{Value, json};
use switchyard_sdk::{Client, ClientBuilder};
use switchyard_server::{Application, Settings};
use tempfile::TempDir;

pub const ADMIN: &str = "sdk-test-admin-token-0123";
pub const SDK: &str = "sdk-test-sdk-token-012345";

pub struct Server {
    pub base: String,
    port: u16,
    data: TempDir,
    redis_url: Option<String>,
    handle: Option<ServerHandle>,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(None).await
    }

    /// On Redis, when `redis_url` is given (else the embedded store).
    pub async fn start_with(redis_url: Option<String>) -> Server {
        Self::start_on(switchyard_testkit::free_port(), redis_url).await
    }

    /// On `port` (e.g. one an SDK was already pointed at).
    pub async fn start_on(port: u16, redis_url: Option<String>) -> Server {
        let mut server = Server {
            base: format!("http://127.0.0.1:{port}"),
            port,
            data: tempfile::tempdir().unwrap(),
            redis_url,
            handle: None,
        };
        server.resume().await;
        server
    }

    /// Stops at once, dropping open connections (streams included): an outage.
    pub async fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop(false).await;
        }
    }

    /// Starts again on the same port and data.
    pub async fn resume(&mut self) {
        let mut settings = Settings::default();
        settings.server.listen = format!("127.0.0.1:{}", self.port);
        settings.server.workers = 1;
        settings.server.writes_per_minute = 100_000;
        settings.server.stream_heartbeat_secs = 1;
        settings.store.data_dir = self.data.path().to_owned();
        settings.store.redis_url = self.redis_url.clone();
        settings.admin_token = Some(ADMIN.into());
        settings.sdk_token = Some(SDK.into());
        let app = Application::build(settings).await.expect("server starts");
        self.handle = Some(app.handle());
        tokio::spawn(app.run_until_stopped());
    }

    /// An admin call; panics unless it succeeds.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let res = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    pub async fn create(&self, key: &str, body: Value) {
        self.admin(reqwest::Method::PUT, &format!("/v1/flags/{key}"), body)
            .await;
    }

    pub async fn patch(&self, key: &str, body: Value) {
        self.admin(reqwest::Method::PATCH, &format!("/v1/flags/{key}"), body)
            .await;
    }

    pub async fn kill_flag(&self, key: &str, active: bool) {
        let body = json!({"active": active, "reason": "test"});
        self.admin(
            reqwest::Method::POST,
            &format!("/v1/flags/{key}/kill"),
            body,
        )
        .await;
    }

    /// `switchyard_http_requests_total` for `GET /v1/snapshot` answered `status`.
    /// Polls the async `check` until it holds, for at most 10 s.
    pub async fn until<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check().await {
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn snapshot_answers(&self, status: u16) -> u64 {
        let metrics = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let status = format!("status=\"{status}\"");
        metrics
            .lines()
            .filter(|l| l.starts_with("switchyard_http_requests_total{"))
            .filter(|l| l.contains("route=\"/v1/snapshot\"") && l.contains(&status))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    pub async fn kill_global(&self, active: bool) {
        let body = json!({"active": active, "reason": "test"});
        self.admin(reqwest::Method::POST, "/v1/kill-switch", body)
            .await;
    }
}

/// A builder with test-friendly timings: quick retries, a short idle timeout.
pub fn builder(base: &str) -> ClientBuilder {
    Client::builder(base, SDK)
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .refresh_interval(Duration::from_millis(100))
        .stream_idle_timeout(Duration::from_secs(3))
        .request_timeout(Duration::from_secs(2))
}

/// A client of `base` (test timings) that has loaded its first snapshot.
pub async fn ready_client(base: &str) -> Client {
    let client = builder(base).build().unwrap();
    client
        .wait_until_ready(Duration::from_secs(10))
        .await
        .unwrap();
    client
}

/// Polls `check` until it holds, for at most 10 s.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
