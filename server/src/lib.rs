//! Switchyard's flag server: evaluations answered from an in-memory snapshot, an admin API
//! with versioned writes, kill switches, roles and an audit trail, OFREP for OpenFeature
//! SDKs, and an embedded store that needs nothing but a disk.
//!
//! # Layout (the layers: docs/architecture.md)
//! - [`config`]: settings, layered defaults < file < `SWITCHYARD_*` environment.
//! - [`app`]: builds the server; the one place routes and middleware are wired.
//! - [`edge`]: the one middleware: security headers, framework errors, CORS, HTTP metrics.
//! - [`wire`]: the HTTP layer's own error answers (400/408/431) made problem+json.
//! - [`cors`]: which routes browsers on other origins may call, and the headers that say so.
//! - [`state`]: `AppState`, the subsystems every request and task shares, composed.
//! - [`published`]: the served snapshot and what every request for it shares.
//! - [`api`]: one module per API area, each with `configure`.
//! - [`auth`]: the `Auth<Role>` extractor.
//! - [`streams`]: how many streams each token holds, capped.
//! - [`tokens`]: the token table: hashed tokens, constant-time checks, callers.
//! - [`changes`]: every write, versioned, validated and audited.
//! - [`error`]: `ApiError` and the only problem+json rendering.
//! - [`store`]: the `Store` trait and its embedded (redb) implementation.
//! - [`fleet`]: heartbeats, the SDKs streaming here, and whether the fleet serves a version.
//! - [`tasks`]: the background loops: sync (keeps the snapshot current), heartbeat,
//!   scheduler, impact flusher.
//! - [`metrics`]: Prometheus metrics.
//! - [`impact`]: SDK impact reports, buffered until the flusher sums them in the store.
//! - [`notify`]: webhooks for plan transitions and kill switch changes, off the request path.
//! - [`plans`]: release plans at run time: guards on Prometheus queries, templates, views.
//! - [`logging`]: the log subscriber; the HTTP layer's parse errors counted, not flooded.
//! - [`demo`]: example flags for a first run.
//! - [`probe`]: `--check-live`, the container health check.

pub mod api;
pub mod app;
pub mod auth;
pub mod changes;
pub mod config;
pub mod cors;
pub mod demo;
pub mod edge;
pub mod error;
pub mod fleet;
pub mod impact;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod plans;
pub mod probe;
pub mod published;
pub mod state;
pub mod store;
pub mod streams;
pub mod tasks;
pub mod tokens;
pub mod wire;

pub use app::Application;
pub use config::Settings;
