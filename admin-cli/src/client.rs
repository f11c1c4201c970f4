//! The HTTP client of the admin API: one place that turns every answer the server can give
//! (problem+json, 401/403 with the role needed, 409 with the current version, a refused
//! connection) into a `CliError` with a message that says what to do.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use switchyard_core::ProblemDetails;

use crate::error::CliError;

/// One answer of the server.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body's JSON (a string when it was not JSON, Null when empty).
    pub json: Value,
    /// `Retry-After`, when given.
    pub retry_after: Option<String>,
    /// A write's `X-Switchyard-Snapshot-Version`: the snapshot version serving it.
    pub snapshot_version: Option<u64>,
}

/// A connection to one Switchyard server.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// A client of `url` with `token` (checked when a call needs it).
    pub fn new(url: &str, token: Option<String>) -> Result<Self, CliError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            CliError::Usage(format!(
                "--url {url:?} is not a URL ({e}); e.g. http://127.0.0.1:8080"
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(CliError::Usage(format!(
                "--url {url:?}: use http:// or https://"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| CliError::Server(format!("HTTP client: {e}")))?;
        Ok(Api {
            http,
            base: url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Calls `method path` with an optional JSON body; the answer's JSON (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        Ok(self.call_written(method, path, body).await?.json)
    }

    /// Like [`Api::call`], for a write: the answer with the snapshot version that serves
    /// the change (what `switchyard fleet` verification waits for).
    pub async fn call_written(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, CliError> {
        let answer = self.call_raw(method, path, body).await?;
        if answer.status.is_success() {
            return Ok(answer);
        }
        Err(failure(
            answer.status,
            &answer.json,
            answer.retry_after.as_deref(),
        ))
    }

    /// Like [`Api::call`], but any HTTP status is an answer.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, CliError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if !path.starts_with("/health") {
            let Some(token) = &self.token else {
                return Err(CliError::Auth(
                    "no token: pass --token or set SWITCHYARD_TOKEN (or use a --profile that has one)".into(),
                ));
            };
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header("retry-after");
        let snapshot_version = header("x-switchyard-snapshot-version").and_then(|v| v.parse().ok());
        let text = response.text().await.map_err(|e| self.unreachable(e))?;
        let json: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Answer {
            status,
            json,
            retry_after,
            snapshot_version,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.call(Method::POST, path, Some(body)).await
    }

    fn unreachable(&self, e: reqwest::Error) -> CliError {
        let why = if e.is_connect() {
            "connection refused or host unreachable".to_owned()
        } else if e.is_timeout() {
            "timed out".to_owned()
        } else {
            e.to_string()
        };
        CliError::Server(format!(
            "cannot reach {} ({why}): is the server running? Check --url or SWITCHYARD_URL",
            self.base
        ))
    }
}

/// A failed answer as a `CliError`: the problem+json body read as the server wrote it.
fn failure(status: StatusCode, body: &Value, retry_after: Option<&str>) -> CliError {
    let problem: ProblemDetails = serde_json::from_value(body.clone()).unwrap_or_default();
    let detail = if problem.detail.is_empty() {
        match body {
            Value::String(s) => s.clone(),
            _ => status.to_string(),
        }
    } else {
        problem.detail.clone()
    };
    match status {
        StatusCode::UNAUTHORIZED => CliError::Auth(format!(
            "unauthorized: the token was refused; pass a valid one with --token or SWITCHYARD_TOKEN ({detail})"
        )),
        StatusCode::FORBIDDEN => CliError::Forbidden {
            needed: problem.required_role.unwrap_or_else(|| "a higher".into()),
            have: problem.role.unwrap_or_else(|| "a lower".into()),
        },
        StatusCode::NOT_FOUND => CliError::NotFound(format!("not found: {detail}")),
        StatusCode::CONFLICT => CliError::Conflict(format!("conflict: {detail}")),
        StatusCode::TOO_MANY_REQUESTS => CliError::Server(format!(
            "rate limited: retry in {} s ({detail})",
            retry_after.unwrap_or("a few")
        )),
        s if s.is_client_error() => {
            let problems: Vec<String> = problem.problems.iter().map(ToString::to_string).collect();
            if problems.is_empty() {
                CliError::Usage(format!("rejected: {detail}"))
            } else {
                CliError::Usage(format!("invalid: {}", problems.join("; ")))
            }
        }
        _ => CliError::Server(format!("server error {}: {detail}", status.as_u16())),
    }
}
