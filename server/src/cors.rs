//! CORS for browsers (docs/flags.md#limits-and-safety-rules): the evaluation, snapshot, stream and OFREP routes open to the
//! origins in `SWITCHYARD_SERVER__CORS_ORIGINS`, so OpenFeature's web provider works from
//! another origin. Admin routes never answer CORS: a browser page on another origin cannot
//! read or change flags, whatever token it holds.

use actix_web::HttpResponse;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};

/// The request headers a browser may send on the open routes.
const ALLOW_HEADERS: HeaderValue =
    HeaderValue::from_static("authorization, content-type, if-none-match, x-api-key");
const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET, POST");
/// Revalidation needs the ETag (snapshot, bulk evaluations), which browsers hide otherwise.
const EXPOSE_HEADERS: HeaderValue = HeaderValue::from_static("ETag");
/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE: HeaderValue = HeaderValue::from_static("600");

/// Whether `path` is one of the routes SDKs call (never an admin route).
fn is_open(path: &str) -> bool {
    matches!(
        path,
        "/v1/evaluate" | "/v1/evaluate/bulk" | "/v1/snapshot" | "/v1/stream"
    ) || path
        .strip_prefix("/ofrep/v1/evaluate/flags")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The request's `Origin`, when CORS applies to it: an open route, an allowed origin.
pub fn allowed_origin(req: &ServiceRequest, origins: &[String]) -> Option<HeaderValue> {
    if origins.is_empty() || !is_open(req.path()) {
        return None;
    }
    let origin = req.headers().get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    origins.iter().any(|o| o == text).then(|| origin.clone())
}

/// Whether the request is a CORS preflight.
pub fn is_preflight(req: &ServiceRequest) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a preflight from an allowed origin: 204 with what it may send.
pub fn preflight(origin: HeaderValue) -> HttpResponse {
    let mut res = HttpResponse::new(StatusCode::NO_CONTENT);
    let headers = res.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
    decorate(headers, origin);
    res
}

/// What every answer to an allowed origin carries.
pub fn decorate(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
}

#[cfg(test)]
mod tests {
    use super::is_open;

    #[test]
    fn only_the_sdk_routes_are_open() {
        for open in [
            "/v1/evaluate",
            "/v1/evaluate/bulk",
            "/v1/snapshot",
            "/v1/stream",
            "/ofrep/v1/evaluate/flags",
            "/ofrep/v1/evaluate/flags/dark-mode",
        ] {
            assert!(is_open(open), "{open}");
        }
        for closed in [
            "/v1/flags",
            "/v1/flags/f",
            "/v1/kill-switch",
            "/v1/tokens",
            "/v1/export",
            "/v1/audit",
            "/ofrep/v1/evaluate/flagsx",
            "/metrics",
        ] {
            assert!(!is_open(closed), "{closed}");
        }
    }
}
