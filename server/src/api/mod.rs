//! The HTTP API, one module per area, each with its own `configure`; and what they share:
//! the body extractor (size limit → 413), JSON parsing (→ 400), and ETag helpers.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, web};
use futures_util::Stream as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use switchyard_core::client_id::{CLIENT_HEADER, ClientHeader};
use switchyard_core::{Context, Snapshot};

use crate::config::ServerSettings;
use crate::error::ApiError;
use crate::state::AppState;

pub mod audit;
pub mod backup;
pub mod console;
pub mod evaluate;
pub mod flags;
pub mod fleet;
pub mod health;
pub mod impact;
pub mod kill;
pub mod ofrep;
pub mod plans;
pub mod segments;
pub mod stream;
pub mod tokens;

/// The largest body a route accepts: set once for the app, and again on a route that takes
/// more (imports). [`Body`] reads it; nothing else decides a body's size.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// Registers every route; bodies may be up to the settings' limits.
pub fn configure(cfg: &mut web::ServiceConfig, settings: &ServerSettings) {
    cfg.app_data(BodyLimit(settings.body_limit_bytes));
    evaluate::configure(cfg);
    ofrep::configure(cfg);
    flags::configure(cfg);
    segments::configure(cfg);
    kill::configure(cfg);
    audit::configure(cfg);
    backup::configure(cfg, settings.import_limit_bytes);
    tokens::configure(cfg);
    health::configure(cfg);
    stream::configure(cfg);
    fleet::configure(cfg);
    plans::configure(cfg);
    impact::configure(cfg);
    console::configure(cfg);
}

/// The header a write's answer carries: the snapshot version that serves the change, so a
/// caller can wait for the whole fleet to serve it (`GET /v1/fleet/wait?version=N`).
pub const SNAPSHOT_VERSION_HEADER: &str = "x-switchyard-snapshot-version";

/// `builder` with [`SNAPSHOT_VERSION_HEADER`] when `writer` committed something.
pub fn written(
    mut builder: actix_web::HttpResponseBuilder,
    writer: &crate::changes::Writer<'_>,
) -> actix_web::HttpResponseBuilder {
    if let Some(revision) = writer.committed_revision() {
        builder.insert_header((SNAPSHOT_VERSION_HEADER, revision.to_string()));
    }
    builder
}

/// The SDK's `X-Switchyard-Client` header, if it sent one; a malformed one is a 400 that
/// says what is wrong (the Rust SDK never sends one).
pub fn client_header(req: &HttpRequest) -> Result<Option<ClientHeader>, ApiError> {
    let Some(value) = req.headers().get(CLIENT_HEADER) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("X-Switchyard-Client: not ASCII".into()))?;
    ClientHeader::parse(text)
        .map(Some)
        .map_err(|why| ApiError::BadRequest(format!("X-Switchyard-Client: {why}")))
}

/// Flag `key` as `published` serves it, or 404.
pub fn served<'a>(
    published: &'a crate::published::Published,
    key: &str,
) -> Result<&'a switchyard_core::Flag, ApiError> {
    published
        .snapshot
        .get(key)
        .ok_or_else(|| ApiError::FlagNotFound(key.to_owned()))
}

/// A route whose other methods answer 405 (rewritten to problem+json like every error). It is
/// named after its path, so metrics read the route label without building a string.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path)
        .name(path)
        .default_service(web::to(|| async {
            actix_web::HttpResponse::MethodNotAllowed().finish()
        }))
}

/// A request body, read up to the route's [`BodyLimit`] (413 problem+json over it) within
/// `server.body_timeout_secs` (408 after).
pub struct Body(pub web::Bytes);

impl FromRequest for Body {
    type Error = ApiError;
    type Future = futures_util::future::Either<Ready<Result<Self, ApiError>>, ReadBody>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        use futures_util::future::Either;
        let limit = req.app_data::<BodyLimit>().map_or(0, |l| l.0);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if declared.is_some_and(|length| length > limit) {
            return Either::Left(ready(Err(ApiError::TooLarge(limit))));
        }
        Either::Right(ReadBody {
            req: req.clone(),
            payload: payload.take(),
            limit,
            declared,
            first: None,
            joined: None,
            polled: false,
            timer: None,
        })
    }
}

/// Reads a [`Body`]: a future of its own rather than a boxed one, and no timer for a body
/// that is already in the buffer (nearly every evaluation's).
pub struct ReadBody {
    req: HttpRequest,
    payload: Payload,
    limit: usize,
    declared: Option<usize>,
    /// A body that arrives in one chunk (most do) is kept as it came, uncopied.
    first: Option<web::Bytes>,
    joined: Option<web::BytesMut>,
    /// Whether a poll has found the body incomplete already.
    polled: bool,
    /// Armed on the second poll that finds the body incomplete (408 when it fires).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ReadBody {
    /// Adds `chunk` to what was read, or refuses a body over the limit.
    fn add(&mut self, chunk: web::Bytes) -> Result<(), ApiError> {
        let so_far = self.first.as_ref().map_or(0, |b| b.len())
            + self.joined.as_ref().map_or(0, |b| b.len());
        if so_far + chunk.len() > self.limit {
            return Err(ApiError::TooLarge(self.limit));
        }
        match (&mut self.joined, self.first.take()) {
            (Some(body), _) => body.extend_from_slice(&chunk),
            (None, None) => self.first = Some(chunk),
            (None, Some(earlier)) => {
                let capacity = self.declared.unwrap_or(0).clamp(so_far, self.limit);
                let mut body = web::BytesMut::with_capacity(capacity + chunk.len());
                body.extend_from_slice(&earlier);
                body.extend_from_slice(&chunk);
                self.joined = Some(body);
            }
        }
        Ok(())
    }

    /// The body read so far, whole.
    fn take(&mut self) -> Body {
        Body(match (self.joined.take(), self.first.take()) {
            (Some(body), _) => body.freeze(),
            (None, first) => first.unwrap_or_default(),
        })
    }
}

impl Future for ReadBody {
    type Output = Result<Body, ApiError>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match Pin::new(&mut this.payload).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.add(chunk)?,
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(ApiError::BadRequest(format!(
                        "could not read the request body: {e}"
                    ))));
                }
                Poll::Ready(None) => return Poll::Ready(Ok(this.take())),
                Poll::Pending => break,
            }
        }
        // Still on its way. actix-http polls a handler once as soon as the head is parsed,
        // before it hands over the body that came with it: that poll arms no timer, only
        // asks to be polled again, so the timer below is armed whatever the client does.
        if !this.polled {
            this.polled = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // A body still on its way is bounded in time, whatever the token (408).
        let state = this.req.app_data::<web::Data<AppState>>();
        let timer = this.timer.get_or_insert_with(|| {
            let secs = state.map_or(10, |s| s.settings().server.body_timeout_secs);
            Box::pin(tokio::time::sleep(Duration::from_secs(secs)))
        });
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(state) = state {
            state.metrics().body_timeouts.inc();
        }
        let secs = state.map_or(10, |s| s.settings().server.body_timeout_secs);
        Poll::Ready(Err(ApiError::BodyTimeout(secs)))
    }
}

/// A `200 OK` JSON answer, serialised into one buffer with a prebuilt content type (the
/// builder's `json` parses its content type on every call): for the evaluation answers,
/// which are on every request.
pub fn json_ok<T: Serialize>(value: &T) -> HttpResponse {
    let mut body = Vec::with_capacity(128);
    if let Err(e) = serde_json::to_writer(&mut body, value) {
        return ApiError::Internal(format!("serialising an answer: {e}")).error_response();
    }
    json_bytes(body)
}

/// A `200 OK` answer of JSON already serialised (see [`answer`]).
pub fn json_bytes(body: Vec<u8>) -> HttpResponse {
    let mut res = HttpResponse::with_body(StatusCode::OK, body);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.map_into_boxed_body()
}

/// Whether `body` is (at least on its face) a JSON object: serde reads structs from arrays
/// too, so `["f", {...}]` would otherwise pass for `{"flag": "f", ...}` (docs/flags.md#limits-and-safety-rules).
pub fn is_object(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Parses a JSON object body, borrowing strings from it where it can.
pub fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::BadRequest("the request needs a JSON body".into()));
    }
    if !is_object(body) {
        return Err(ApiError::BadRequest(
            "the request body must be a JSON object".into(),
        ));
    }
    // UTF-8 checked once for the whole body: serde_json then borrows each string without
    // checking it again (from bytes it checks every one).
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: not UTF-8 ({e})")))?;
    serde_json::from_str(text).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// Parses a JSON object body and refuses every field `T` does not know, naming them (at most
/// 20): for writes, where a field that vanished silently (a misspelt `kill_switch`, a
/// `tokens` array in a backup) would be a change that is not one.
pub fn parse_strict<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    let mut unknown = Vec::new();
    let value = strict_object(body, "", &mut unknown)?;
    if !unknown.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "unknown fields: {}; nothing was changed",
            unknown.join(", ")
        )));
    }
    Ok(value)
}

/// Reads `json` as a `T` from a JSON object only (serde would read a struct from an array
/// too), adding the fields it does not know, under `path`, to `unknown`.
pub fn strict_object<'a, T: Deserialize<'a>>(
    json: &'a [u8],
    path: &str,
    unknown: &mut Vec<String>,
) -> Result<T, ApiError> {
    let at = if path.is_empty() {
        "the request body"
    } else {
        path
    };
    if !is_object(json) {
        return Err(ApiError::BadRequest(format!("{at} must be a JSON object")));
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    serde_ignored::deserialize(&mut de, |field| {
        if unknown.len() < 20 {
            let field = field.to_string();
            unknown.push(if path.is_empty() {
                field
            } else {
                format!("{path}.{field}")
            });
        }
    })
    .map_err(|e| ApiError::BadRequest(format!("invalid JSON in {at}: {e}")))
}

/// Refuses a context over docs/flags.md#limits-and-safety-rules's limits, before anything is hashed.
pub fn check_context(ctx: &Context<'_>) -> Result<(), ApiError> {
    switchyard_core::validate_context(ctx)
        .map_err(|e| ApiError::BadRequest(format!("context: {e}")))
}

/// `ctx` with the clock, when a date constraint of `snapshot` may read it (the clock is read
/// only then: evaluation itself never reads one).
pub fn clocked<'a>(snapshot: &Snapshot, ctx: Context<'a>) -> Context<'a> {
    if snapshot.uses_clock() {
        ctx.at(chrono::Utc::now())
    } else {
        ctx
    }
}

/// The ETag of a bulk answer for `ctx`, unless `snapshot` reads the clock (its answers may
/// then change with no new version, so none is cached).
pub fn bulk_etag_of(snapshot: &Snapshot, ctx: &Context<'_>) -> Option<String> {
    (!snapshot.uses_clock()).then(|| bulk_etag(snapshot.version, ctx))
}

/// Parses an optional JSON body: empty means the default.
pub fn parse_optional_json<'a, T: Deserialize<'a> + Default>(
    body: &'a [u8],
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(body)
    }
}

/// The flag version in `If-Match` (`"7"`, `7` or `W/"7"`); `*` or no header → `None`.
pub fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse().map(Some).map_err(|_| {
        ApiError::BadRequest(format!(
            "If-Match {text:?} is not a flag version: send the ETag of GET /v1/flags/{{key}}, e.g. \"7\""
        ))
    })
}

/// Whether `If-None-Match` names `etag` (or is `*`).
pub fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// The ETag of a bulk evaluation: the snapshot version and what of the context decides
/// (user and market), hashed with a fixed function so every instance agrees.
pub fn bulk_etag(version: u64, ctx: &Context<'_>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(version.to_le_bytes());
    if let Some(user) = ctx.user_id() {
        hasher.update(b"u");
        hasher.update(user.as_bytes());
    }
    hasher.update([0]);
    if let Some(market) = &ctx.market {
        hasher.update(b"m");
        // Markets compare case-insensitively: hashed upper-cased, through a stack buffer.
        for chunk in market.as_bytes().chunks(32) {
            let mut upper = [0u8; 32];
            for (to, from) in upper.iter_mut().zip(chunk) {
                *to = from.to_ascii_uppercase();
            }
            hasher.update(&upper[..chunk.len()]);
        }
    }
    // Every other attribute, length-prefixed so no two contexts hash alike by accident.
    for (name, value) in ctx.attributes() {
        for part in [name, value] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    let digest = hasher.finalize();
    format!("\"v{version}-{}\"", crate::tokens::hex(&digest[..8]))
}
