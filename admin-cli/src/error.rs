//! `CliError`: every failure as one plain line with what to do, and the exit code for its kind.

/// Exit codes, as `--help` documents them.
pub mod code {
    /// Refused or aborted (e.g. no confirmation).
    pub const ABORTED: u8 = 1;
    /// Bad usage or invalid input (the server's 400 included).
    pub const USAGE: u8 = 2;
    /// No token, a bad token, or a role too low (401, 403).
    pub const AUTH: u8 = 3;
    /// No such flag, version or token (404).
    pub const NOT_FOUND: u8 = 4;
    /// A concurrent change (409).
    pub const CONFLICT: u8 = 5;
    /// The server or the network failed (5xx, 429, unreachable).
    pub const SERVER: u8 = 6;
    /// The change was made, but not every instance and SDK was seen serving it in time.
    pub const NOT_VERIFIED: u8 = 7;
}

/// What went wrong; the message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Refused or aborted.
    #[error("{0}")]
    Aborted(String),
    /// Bad usage or invalid input.
    #[error("{0}")]
    Usage(String),
    /// Authentication (401).
    #[error("{0}")]
    Auth(String),
    /// The token's role is too low for what was asked (403).
    #[error(
        "forbidden: this needs the {needed} role or higher, and the token has the {have} role; \
         use a token with that role"
    )]
    Forbidden {
        /// The lowest role that may do it.
        needed: String,
        /// The token's role.
        have: String,
    },
    /// Something does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A concurrent change.
    #[error("{0}")]
    Conflict(String),
    /// The server or the network.
    #[error("{0}")]
    Server(String),
    /// A change made but not seen everywhere in time: who is behind.
    #[error("{0}")]
    NotVerified(String),
}

impl CliError {
    /// A 403 met on the way to a command that needs `role` (e.g. `kill` reads the flag, a
    /// viewer's right, before it flips it, a responder's): names the command's role.
    pub fn needing(self, role: &str) -> Self {
        match self {
            CliError::Forbidden { have, .. } => CliError::Forbidden {
                needed: role.to_owned(),
                have,
            },
            other => other,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Aborted(_) => code::ABORTED,
            CliError::Usage(_) => code::USAGE,
            CliError::Auth(_) | CliError::Forbidden { .. } => code::AUTH,
            CliError::NotFound(_) => code::NOT_FOUND,
            CliError::Conflict(_) => code::CONFLICT,
            CliError::Server(_) => code::SERVER,
            CliError::NotVerified(_) => code::NOT_VERIFIED,
        }
    }
}
