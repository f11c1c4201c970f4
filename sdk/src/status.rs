//! `Status`: where a client's flags come from right now.

use std::time::SystemTime;

/// Where the client's flags come from right now. More states may come: match with a `_` arm.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// No flags at all yet: every evaluation serves the caller's default.
    Starting,
    /// Serving bootstrap or persisted flags; the server has not answered in this run.
    Bootstrap,
    /// In step with the server.
    Ready,
    /// Serving the last good flags; the server has not been reachable since `since`.
    Stale {
        /// When the server was last reachable.
        since: SystemTime,
    },
    /// The server refused the token (401: unknown or revoked; 403: not an sdk token). The
    /// client keeps serving what it has (defaults, bootstrap or the last good flags) and keeps
    /// trying, but this will not heal by itself: fix the token.
    Unauthorized {
        /// The HTTP status the server answered, 401 or 403.
        status: u16,
    },
}
