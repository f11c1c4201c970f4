//! What every response passes through, in one layer: problem+json for the errors the
//! framework answered itself (no route, 405, a refused payload…), the security headers, CORS
//! for the routes browsers may call ([`crate::cors`]), and the HTTP metrics. One layer rather than three of the framework's: each layer is a future
//! of its own on every request, and evaluations are measured in microseconds.

use std::future::Future;
use std::time::Instant;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::web;

use crate::state::AppState;
use crate::{cors, error};
use futures_util::future::{Either, ready};

/// Sent on every response: an API answers nothing a browser should render, frame or sniff.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    ),
];

/// Sent too when `server.hsts` is on (behind TLS).
const HSTS: (HeaderName, HeaderValue) = (
    header::STRICT_TRANSPORT_SECURITY,
    HeaderValue::from_static("max-age=31536000; includeSubDomains"),
);

/// The method as a metrics label, from a closed set (docs/flags.md#limits-and-safety-rules): any method may be sent, and
/// each new label value would be a new series kept for ever.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// The middleware, for `App::wrap_fn`.
pub fn edge<S>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>,
{
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let origin = state
        .as_ref()
        .and_then(|s| cors::allowed_origin(&req, &s.settings().server.cors_origins));
    let call = match origin.clone() {
        Some(origin) if cors::is_preflight(&req) => {
            Either::Left(ready(Ok(req.into_response(cors::preflight(origin)))))
        }
        _ => Either::Right(srv.call(req)),
    };
    async move {
        let mut res = call.await?;
        if let Some(origin) = origin {
            cors::decorate(res.headers_mut(), origin);
        }
        let status = res.status();
        if status.is_client_error() || status.is_server_error() {
            res = error::rewrite_framework_error(res);
        }
        let hsts = state.as_ref().is_some_and(|s| s.settings().server.hsts);
        let headers = res.headers_mut();
        // The console's pages set their own (still strict) policy; nothing else sets any of
        // these, so only that one is looked for.
        let own_policy = headers.contains_key(header::CONTENT_SECURITY_POLICY);
        for (name, value) in SECURITY_HEADERS.iter().chain(hsts.then_some(&HSTS)) {
            if !(own_policy && name == header::CONTENT_SECURITY_POLICY) {
                headers.insert(name.clone(), value.clone());
            }
        }
        if let Some(state) = state {
            // Routes are named after their path (api::resource): no allocation.
            let route = res.request().match_name().unwrap_or("unmatched");
            let method = method_label(res.request().method());
            state
                .metrics()
                .observe_http(route, method, res.status(), started.elapsed());
        }
        Ok(res)
    }
}
