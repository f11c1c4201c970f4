//! What the audit trail records of a change to a flag: the whole flag when it is created or
//! deleted; for an update, the fields that changed, so an entry costs what changed.

use serde_json::Value;
use switchyard_core::{Flag, Whitelist};

use super::to_value;

/// What an audit entry records of a flag's change: the full flag when it is created or
/// deleted; for an update, only the fields that changed (and the versions), with a
/// whitelist change as the users added and removed. An entry costs what changed, not what
/// the flag weighs: a one-field change to a flag with 10,000 whitelisted users is bytes,
/// not megabytes.
pub fn audited(before: Option<&Flag>, after: Option<&Flag>) -> (Option<Value>, Option<Value>) {
    let (Some(before), Some(after)) = (before, after) else {
        return (before.map(to_value), after.map(to_value));
    };
    let fields = |flag: &Flag| match to_value(&Flag {
        whitelist: Whitelist::default(),
        ..flag.clone()
    }) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let (mut old, mut new) = (fields(before), fields(after));
    let same: Vec<String> = old
        .iter()
        .filter(|(k, v)| k.as_str() != "version" && new.get(k.as_str()) == Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    for key in same {
        old.remove(&key);
        new.remove(&key);
    }
    old.remove("whitelist");
    new.remove("whitelist");
    if before.whitelist != after.whitelist {
        let added: Vec<&str> = (after.whitelist.sorted().into_iter())
            .filter(|u| !before.whitelist.contains(u))
            .collect();
        let removed: Vec<&str> = (before.whitelist.sorted().into_iter())
            .filter(|u| !after.whitelist.contains(u))
            .collect();
        old.insert("whitelist_size".into(), before.whitelist.len().into());
        new.insert("whitelist_size".into(), after.whitelist.len().into());
        new.insert("whitelist_added".into(), serde_json::json!(added));
        new.insert("whitelist_removed".into(), serde_json::json!(removed));
    }
    (Some(Value::Object(old)), Some(Value::Object(new)))
}

/// Whether two flags hold the same content, whatever their versions and stamps.
pub fn same_content(a: &Flag, b: &Flag) -> bool {
    let strip = |f: &Flag| Flag {
        version: 0,
        updated_at: None,
        updated_by: None,
        ..f.clone()
    };
    strip(a) == strip(b)
}
