//! `spawn_app()`: a server on a free port over a fresh embedded store, and request helpers.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use switchyard_server::{Application, Settings};
use tempfile::TempDir;

pub const ADMIN: &str = "test-admin-token-0123456789";
pub const SDK: &str = "test-sdk-token-0123456789";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// Keeps the store's directory until the test ends.
    _data: TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_in(tempfile::tempdir().expect("temp dir"), tweak).await
}

/// A server over a fresh embedded store in `data`, or the Redis `tweak` names.
pub async fn spawn_in(data: TempDir, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = Settings {
        admin_token: Some(ADMIN.into()),
        sdk_token: Some(SDK.into()),
        ..Settings::default()
    };
    settings.store.data_dir = data.path().to_owned();
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.workers = 1;
    settings.server.writes_per_minute = 100_000;
    tweak(&mut settings);
    let app = Application::build(settings).await.expect("build app");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        client: reqwest::Client::new(),
        _data: data,
    }
}

impl TestApp {
    /// Sends `method path` with `token` and an optional JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    /// Sends and reads the answer as JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        read(self.send(method, path, token, body).await).await
    }

    /// The Prometheus exposition of `/metrics`.
    pub async fn metrics(&self) -> String {
        let res = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await;
        res.expect("metrics answered")
            .text()
            .await
            .expect("metrics body")
    }

    /// Issues a token named `name` with `role` (as admin); returns the token.
    pub async fn token(&self, name: &str, role: &str) -> String {
        let (status, issued) = self
            .call(
                Method::POST,
                "/v1/tokens",
                Some(ADMIN),
                Some(serde_json::json!({"name": name, "role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{issued}");
        issued["token"].as_str().expect("a token").to_owned()
    }

    /// Creates a flag as admin; asserts 201.
    pub async fn create(&self, key: &str, body: Value) -> Value {
        let (status, flag) = self
            .call(
                Method::PUT,
                &format!("/v1/flags/{key}"),
                Some(ADMIN),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{flag}");
        flag
    }

    /// Evaluates as the SDK: (enabled, reason).
    pub async fn eval(
        &self,
        flag: &str,
        user: Option<&str>,
        market: Option<&str>,
    ) -> (bool, String) {
        let body =
            serde_json::json!({"flag": flag, "context": {"user_id": user, "market": market}});
        let (status, answer) = self
            .call(Method::POST, "/v1/evaluate", Some(SDK), Some(body))
            .await;
        assert!(
            status.is_success() || status == StatusCode::NOT_FOUND,
            "{status} {answer}"
        );
        (
            answer["enabled"].as_bool().expect("enabled"),
            answer["reason"].as_str().expect("reason").to_owned(),
        )
    }
}

/// Status and JSON body (Null when the body is empty).
pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, body)
}

/// Asserts a problem+json answer with `status`, and returns its body.
pub async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let (got, body) = read(response).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "{body}"
    );
    for field in ["type", "title", "status", "detail"] {
        assert!(body.get(field).is_some(), "problem without {field}: {body}");
    }
    assert_eq!(body["status"], status.as_u16());
    body
}
