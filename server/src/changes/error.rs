//! `ChangeError`: why a change was refused or failed. Nothing was written in any case. The
//! HTTP layer maps it (`crate::error`); this module knows nothing of HTTP.

use switchyard_core::ValidationError;

use crate::store::StoreError;

/// Why a change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The input is malformed or breaks a rule (a kill switch outside the kill endpoints…).
    #[error("{0}")]
    BadInput(String),
    /// The flag or backup is impossible; every problem is listed.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// No flag has this key.
    #[error("no flag has the key {0:?}")]
    FlagNotFound(String),
    /// Something else does not exist (a version, a token).
    #[error("{0}")]
    NotFound(String),
    /// The change was based on a stale version, or a token name is taken.
    #[error("{message}")]
    Conflict {
        /// What clashed.
        message: String,
        /// The version the flag has now (`None`: absent, or not a flag).
        current_version: Option<u64>,
    },
    /// The store cannot take writes now, or returned what it should not have.
    #[error(transparent)]
    Store(StoreError),
    /// The caller is over its write rate: retry in this many seconds.
    #[error("too many writes: retry in {retry_after_secs} s")]
    RateLimited {
        /// When to retry.
        retry_after_secs: u64,
    },
    /// A failure that is no one's input (no randomness for a token…).
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ChangeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict {
                key,
                expected,
                current,
            } => {
                let at = |v: Option<u64>| v.map_or("absent".to_owned(), |v| format!("version {v}"));
                ChangeError::Conflict {
                    message: format!(
                        "{key:?} is {} but the change expected it {}; nothing was changed: \
                         read it again and retry",
                        at(current),
                        at(expected)
                    ),
                    current_version: current,
                }
            }
            StoreError::Token(message) => ChangeError::Conflict {
                message,
                current_version: None,
            },
            other => ChangeError::Store(other),
        }
    }
}
