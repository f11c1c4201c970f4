//! `SdkError`: what building or waiting on a client can fail with. Evaluation never fails.

use std::time::Duration;

use crate::status::Status;

/// Why the SDK could not do what was asked.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The server URL does not parse.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The server refused the token: 401 (unknown or revoked) or 403 (not an sdk token).
    #[error("the server refused the token ({status}): check the sdk token the client was given")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
    },
    /// Bootstrap data could not be read or is not the export format.
    #[error("bootstrap data: {0}")]
    Bootstrap(String),
    /// `build` was called outside a tokio runtime (needed unless the client is offline).
    #[error("no tokio runtime: build the client inside one, or make it offline")]
    NoRuntime,
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
    /// `wait_until_ready` ran out of time.
    #[error("not ready after {waited:?} (status: {status:?})")]
    Timeout {
        /// How long it waited.
        waited: Duration,
        /// The status when it gave up.
        status: Status,
    },
}
