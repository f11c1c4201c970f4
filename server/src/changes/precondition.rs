//! What a write expects of the flag it changes — the version `If-Match` names, else the
//! body's (`expected_version`, or a flag read with GET sent back with its `version`) — and
//! the one check of it against the stored flag. Every kind of write resolves it here.

use super::ChangeError;
use crate::store::StoreError;

/// The versions a write was sent with, in the order they count: the header first, then each
/// version the body gives, in the order given to [`Precondition::or_body`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Precondition {
    expected: Option<u64>,
}

impl Precondition {
    /// No expected version: the write is unconditional (or, for `PUT`, a create).
    pub const NONE: Precondition = Precondition { expected: None };

    /// The version `If-Match` names, if it names one.
    pub fn if_match(version: Option<u64>) -> Self {
        Precondition { expected: version }
    }

    /// The body's expected version, which counts only when nothing before it named one.
    #[must_use]
    pub fn or_body(self, version: Option<u64>) -> Self {
        Precondition {
            expected: self.expected.or(version),
        }
    }

    /// The version the write expects, if any.
    pub fn expected(self) -> Option<u64> {
        self.expected
    }

    /// Ok when nothing is expected or `current` (the stored flag's version; `None`: no such
    /// flag) is what is expected; a conflict naming both otherwise.
    pub fn check(self, key: &str, current: Option<u64>) -> Result<(), ChangeError> {
        match self.expected {
            Some(e) if current != Some(e) => Err(ChangeError::from(StoreError::Conflict {
                key: key.to_owned(),
                expected: Some(e),
                current,
            })),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_counts_before_the_body_and_a_stale_version_conflicts() {
        let pre = Precondition::if_match(Some(3)).or_body(Some(5));
        assert_eq!(pre.expected(), Some(3));
        assert_eq!(Precondition::NONE.or_body(Some(5)).expected(), Some(5));
        assert!(pre.check("f", Some(3)).is_ok());
        assert!(matches!(
            pre.check("f", Some(4)),
            Err(ChangeError::Conflict { .. })
        ));
        assert!(matches!(
            pre.check("f", None),
            Err(ChangeError::Conflict { .. })
        ));
        assert!(Precondition::NONE.check("f", Some(9)).is_ok());
    }
}
