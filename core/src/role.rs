//! Who may do what (docs/api.md#tokens-and-roles): the role a token has. Roles are ordered; each may do everything
//! the ones before it may. Server and CLI share this one definition.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A token's role; each includes everything the ones before it may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Evaluate, snapshot, stream, OFREP.
    Sdk,
    /// + read flags, history, audit, export.
    Viewer,
    /// + flip kill switches (the on-call role).
    Responder,
    /// + create, change, roll back flags.
    Editor,
    /// + delete, import, manage tokens.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 5] = [
        Role::Sdk,
        Role::Viewer,
        Role::Responder,
        Role::Editor,
        Role::Admin,
    ];

    /// The lower-case name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sdk => "sdk",
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no role.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a role: use sdk, viewer, responder, editor or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownRole(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_named_alike_everywhere() {
        assert!(Role::ALL.windows(2).all(|w| w[0] < w[1]));
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
            assert_eq!(role.to_string(), role.as_str());
        }
        assert!("root".parse::<Role>().is_err());
    }
}
