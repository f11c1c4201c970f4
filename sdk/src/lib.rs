//! Switchyard's Rust SDK. Flags are evaluated in-process with `switchyard-core`, the same
//! engine as the server, so `is_enabled` is a memory read: no I/O, no lock, no panic. A
//! background task keeps the flags current (snapshot + server-sent events, ETag polling while
//! the stream is down) and keeps the last good flags through outages.
//!
//! # Quick start
//! ```no_run
//! use std::time::Duration;
//! use switchyard_sdk::{Client, Context};
//!
//! # async fn run() -> Result<(), switchyard_sdk::SdkError> {
//! let client = Client::builder("http://127.0.0.1:8080", "my-sdk-token")
//!     .bootstrap_file("flags-backup.json")? // serves these if the server is unreachable
//!     .persist_to("/var/cache/myapp/flags.json") // a restart during an outage keeps flags
//!     .build()?;
//! // Optional: wait for the server's flags (the app works without them, on defaults).
//! let _ = client.wait_until_ready(Duration::from_secs(2)).await;
//!
//! let ctx = Context::new().user("42").market("FR");
//! if client.is_enabled("new-onboarding", &ctx) {
//!     // the new flow
//! }
//! // Unknown flag or no data yet: the caller's default.
//! let fast_path = client.is_enabled_or("checkout-v2", &ctx, true);
//! # let _ = fast_path;
//! // A flag that serves values: its value for this context, or the default.
//! let colour = client.string_value("checkout-button", &ctx.clone().with("plan", "beta"), "#888888");
//! # let _ = colour;
//! client.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`client`]: `Client`, `ClientBuilder`: what the app calls.
//! - [`status`]: `Status`, where the flags come from right now.
//! - `shared`: what the client and its tasks share; `served`: the served snapshot and its
//!   exposure counters; `report`: the task that sends impact counts.
//! - [`sync`]: the background task: snapshot fetches, the event stream, polling, backoff.
//! - [`bootstrap`]: bootstrap data and the persisted snapshot file.
//! - [`error`]: `SdkError`, what building or waiting can fail with.
//! - [`impact`]: exposures and tracked events, counted and reported (docs/api.md#release-plans).
//! - [`values`]: typed getters (`bool_value`, `string_value`, `number_value`, `json_value`,
//!   `variant`) and `resolve`, for flags that serve values.
//! - `openfeature` (feature `openfeature`): an OpenFeature provider.

pub mod bootstrap;
pub mod client;
pub mod error;
pub mod impact;
#[cfg(feature = "openfeature")]
pub mod openfeature;
mod report;
mod served;
mod shared;
pub mod status;
pub mod sync;
pub mod values;

pub use client::{Client, ClientBuilder, Status};
pub use error::SdkError;
pub use switchyard_core::{Context, Decision, Export, Reason, Snapshot, Variant};
pub use values::Resolution;
