//! A server per test, and `switchyard` runs against it.

use serde_json::Value;
use switchyard_server::{Application, Settings};
use tempfile::TempDir;

pub const ADMIN: &str = "cli-test-admin-token-0123";
pub const SDK: &str = "cli-test-sdk-token-012345";

pub struct Server {
    pub base: String,
    _data: TempDir,
}

pub async fn server() -> Server {
    server_with(|_| {}).await
}

/// A server seeded with the demo flags, as `switchyard-server --demo` starts.
pub async fn demo_server() -> Server {
    server_with(|s| s.demo = true).await
}

/// A server with the test's settings, after `tweak`.
pub async fn server_with(tweak: impl FnOnce(&mut Settings)) -> Server {
    let data = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.workers = 1;
    settings.server.writes_per_minute = 100_000;
    settings.store.data_dir = data.path().to_owned();
    settings.admin_token = Some(ADMIN.into());
    settings.sdk_token = Some(SDK.into());
    tweak(&mut settings);
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Server { base, _data: data }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// Runs `switchyard ARGS` with the server's URL and `token`, stdin not a terminal.
pub async fn run_as(server: &Server, token: Option<&str>, args: &[&str]) -> Run {
    run_at(&server.base, token, args).await
}

/// Runs `switchyard ARGS` against the server at `base`.
pub async fn run_at(base: &str, token: Option<&str>, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command
        .env_clear()
        .env("SWITCHYARD_URL", base)
        .args(args)
        .stdin(std::process::Stdio::null());
    if let Some(token) = token {
        command.env("SWITCHYARD_TOKEN", token);
    }
    let out = command.output().await.expect("run switchyard");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs as admin and asserts success.
pub async fn ok(server: &Server, args: &[&str]) -> Run {
    let run = run_as(server, Some(ADMIN), args).await;
    assert_eq!(run.code, 0, "{args:?}: {}{}", run.stdout, run.stderr);
    run
}

/// A server object read directly, to check what a command did.
pub async fn get(server: &Server, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
