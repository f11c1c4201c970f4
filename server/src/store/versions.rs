//! How a flag's history versions are stored, by every store: a large whitelist is kept once
//! per flag, content-addressed, and each version refers to it, so a change to anything else
//! costs the flag's few hundred bytes, not its 2.5 MB of users (10,000 ids of 256 bytes) again.
//! The stores keep a reference count per whitelist and drop it with its last version.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use switchyard_core::{Flag, Whitelist};

use super::StoreError;

/// From this many users on, a whitelist is stored apart and shared by the versions that have
/// it; below, a version holds it inline (the reference would save little).
pub const SHARED_FROM: usize = 64;

/// The field of a stored version that names its shared whitelist.
const REF: &str = "whitelist_ref";

/// A version as stored, and the whitelist it shares, if any.
pub struct Stored {
    /// The version's record: the flag, with `whitelist_ref` in place of a large whitelist.
    pub record: Vec<u8>,
    /// The shared whitelist: its id (SHA-256 hex of its JSON) and its JSON.
    pub whitelist: Option<(String, Vec<u8>)>,
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("model types serialise")
}

/// `flag` as a stored version.
pub fn store(flag: &Flag) -> Stored {
    if flag.whitelist.len() < SHARED_FROM {
        return Stored {
            record: to_json(flag),
            whitelist: None,
        };
    }
    let users = to_json(&flag.whitelist);
    let id: String = Sha256::digest(&users)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut record = match serde_json::to_value(Flag {
        whitelist: Whitelist::default(),
        ..flag.clone()
    }) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    record.remove("whitelist");
    record.insert(REF.into(), Value::String(id.clone()));
    Stored {
        record: to_json(&record),
        whitelist: Some((id, users)),
    }
}

/// The shared whitelist a stored version refers to, if any.
pub fn shared_whitelist(record: &[u8]) -> Result<Option<String>, StoreError> {
    #[derive(serde::Deserialize)]
    struct Ref {
        whitelist_ref: Option<String>,
    }
    let parsed: Ref =
        serde_json::from_slice(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(parsed.whitelist_ref)
}

/// A stored version back as a flag; `whitelist` finds a shared whitelist's JSON by its id.
pub fn load(
    record: &[u8],
    whitelist: impl FnOnce(&str) -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<Flag, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
    let Some(id) = shared_whitelist(record)? else {
        return serde_json::from_slice(record).map_err(corrupt);
    };
    let users = whitelist(&id)?
        .ok_or_else(|| StoreError::Corrupt(format!("shared whitelist {id} is missing")))?;
    let mut flag: Flag = serde_json::from_slice(record).map_err(corrupt)?;
    flag.whitelist = serde_json::from_slice(&users).map_err(corrupt)?;
    Ok(flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_whitelist_is_shared_and_comes_back() {
        let small = Flag {
            whitelist: Whitelist::new(["a", "b"]),
            version: 3,
            ..Flag::new("f")
        };
        let stored = store(&small);
        assert!(stored.whitelist.is_none());
        assert_eq!(load(&stored.record, |_| Ok(None)).unwrap(), small);

        let large = Flag {
            whitelist: Whitelist::new((0..1000).map(|i| format!("user-{i:0>200}"))),
            description: "d".into(),
            ..Flag::new("f")
        };
        let stored = store(&large);
        let (id, users) = stored.whitelist.clone().unwrap();
        assert!(stored.record.len() < 400, "{}", stored.record.len());
        assert_eq!(shared_whitelist(&stored.record).unwrap(), Some(id.clone()));
        let back = load(&stored.record, |asked| {
            assert_eq!(asked, id);
            Ok(Some(users.clone()))
        })
        .unwrap();
        assert_eq!(back, large);
        // The same users, another version: the same id.
        let next = Flag {
            version: 9,
            ..large.clone()
        };
        assert_eq!(store(&next).whitelist.unwrap().0, id);
        assert!(load(&stored.record, |_| Ok(None)).is_err());
    }
}
