//! `ApiError` and the one place errors become responses: `application/problem+json` with
//! `type`, `title`, `status`, `detail` (RFC 9457) and a few extension members. The
//! framework's own rejections (405, unparsable paths…) are rewritten here too, so no client
//! ever gets a plain-text error. A 500 says "internal error"; the detail goes to the log.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use switchyard_core::{ProblemDetails, ValidationError};

use crate::changes::ChangeError;
use crate::store::StoreError;
use switchyard_core::Role;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body or a parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The flag or backup is impossible; every problem is listed.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// No token, or an unknown one.
    #[error("a valid token is required: send `Authorization: Bearer <token>`")]
    Unauthorized,
    /// The token's role is too low.
    #[error("this needs the {needed} role or higher; the token has the {have} role")]
    Forbidden {
        /// The lowest role admitted.
        needed: Role,
        /// The caller's role.
        have: Role,
    },
    /// No flag has this key.
    #[error("no flag has the key {0:?}")]
    FlagNotFound(String),
    /// Something else does not exist (a version, a token, a route).
    #[error("{0}")]
    NotFound(String),
    /// The write was based on a stale version; nothing changed.
    #[error("{message}")]
    Conflict {
        /// What clashed.
        message: String,
        /// The version the flag has now (`None`: it does not exist).
        current_version: Option<u64>,
    },
    /// The body is over the limit.
    #[error("the request body is over the limit of {0} bytes")]
    TooLarge(usize),
    /// Too many admin writes from this caller.
    #[error("too many writes from this token: retry in {0} s")]
    RateLimited(u64),
    /// The token holds as many open streams as it may (docs/flags.md#limits-and-safety-rules).
    #[error(
        "this token holds {0} open streams, the most one token may (SWITCHYARD_LIMITS__STREAMS_PER_TOKEN): close one or use another token"
    )]
    TooManyStreams(usize),
    /// The client took too long to send its request body.
    #[error("the request body did not arrive within {0} s")]
    BodyTimeout(u64),
    /// The store cannot take writes now; nothing was written.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; logged, never shown.
    #[error("internal error")]
    Internal(String),
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::BadInput(message) => ApiError::BadRequest(message),
            ChangeError::Invalid(problems) => ApiError::Invalid(problems),
            ChangeError::FlagNotFound(key) => ApiError::FlagNotFound(key),
            ChangeError::NotFound(what) => ApiError::NotFound(what),
            ChangeError::Conflict {
                message,
                current_version,
            } => ApiError::Conflict {
                message,
                current_version,
            },
            ChangeError::Store(StoreError::Unavailable(why)) => ApiError::Unavailable(format!(
                "the store is unavailable ({why}); nothing was written: retry when \
                 /health/ready reports ready"
            )),
            ChangeError::Store(StoreError::NotDurable(why)) => ApiError::Unavailable(format!(
                "the write reached the primary Redis but may not be durable: {why}. A failover \
                 now could lose it: read it back, and retry if it is missing"
            )),
            ChangeError::Store(StoreError::Corrupt(why)) => {
                ApiError::Internal(format!("corrupt store record: {why}"))
            }
            ChangeError::Store(other) => ApiError::Internal(other.to_string()),
            ChangeError::RateLimited { retry_after_secs } => {
                ApiError::RateLimited(retry_after_secs)
            }
            ChangeError::Internal(why) => ApiError::Internal(why),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::from(ChangeError::from(e))
    }
}

impl ApiError {
    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => ("bad-request", "Bad request"),
            ApiError::Invalid(_) => ("invalid", "Invalid flag"),
            ApiError::Unauthorized => ("unauthorized", "Unauthorized"),
            ApiError::Forbidden { .. } => ("forbidden", "Forbidden"),
            ApiError::FlagNotFound(_) => ("flag-not-found", "Flag not found"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::Conflict { .. } => ("conflict", "Conflict"),
            ApiError::TooLarge(_) => ("too-large", "Payload too large"),
            ApiError::RateLimited(_) => ("rate-limited", "Too many requests"),
            ApiError::TooManyStreams(_) => ("too-many-streams", "Too many streams"),
            ApiError::BodyTimeout(_) => ("body-timeout", "Request timeout"),
            ApiError::Unavailable(_) => ("unavailable", "Store unavailable"),
            ApiError::Internal(_) => ("internal", "Internal error"),
        }
    }

    /// The problem+json body of this error.
    fn details(&self) -> ProblemDetails {
        let (slug, title) = self.slug_and_title();
        let mut body =
            ProblemDetails::new(self.status_code().as_u16(), slug, title, &self.to_string());
        match self {
            ApiError::Invalid(e) => body.problems = e.problems.clone(),
            ApiError::Forbidden { needed, have } => {
                body.required_role = Some(needed.to_string());
                body.role = Some(have.to_string());
            }
            ApiError::FlagNotFound(key) => {
                // The evaluation's answer too, for clients that read only these fields.
                body.flag = Some(key.clone());
                body.enabled = Some(false);
                body.variant = Some("off".into());
                body.reason = Some("FLAG_NOT_FOUND".into());
            }
            ApiError::Conflict {
                current_version, ..
            } => body.current_version = Some(*current_version),
            _ => {}
        }
        body
    }
}

/// A problem+json response.
pub fn problem(status: StatusCode, slug: &str, title: &str, detail: &str) -> HttpResponse {
    respond(
        status,
        &ProblemDetails::new(status.as_u16(), slug, title, detail),
    )
}

fn respond(status: StatusCode, body: &ProblemDetails) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(PROBLEM_JSON)
        .body(serde_json::to_string(body).expect("a problem body serialises"))
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::FlagNotFound(_) | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited(_) | ApiError::TooManyStreams(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(detail) = self {
            tracing::error!(%detail, "internal error");
        }
        let mut response = respond(self.status_code(), &self.details());
        let headers = response.headers_mut();
        match self {
            ApiError::RateLimited(secs) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

/// The fallback for error responses the framework built itself (405, a payload it refused…):
/// a body that is not already JSON is replaced by a problem+json one with the same status.
pub fn rewrite_framework_error(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if is_json {
        return res;
    }
    let status = res.status();
    let title = status.canonical_reason().unwrap_or("Error");
    let detail = match status {
        StatusCode::NOT_FOUND => "no such route: see the API section of the README".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("{} is not allowed on this route", res.request().method())
        }
        _ => title.to_owned(),
    };
    let slug = title.to_ascii_lowercase().replace(' ', "-");
    let (req, _) = res.into_parts();
    ServiceResponse::new(req, problem(status, &slug, title, &detail))
}
