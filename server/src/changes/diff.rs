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
    if before.rules != after.rules {
        old.remove("rules");
        new.remove("rules");
        rule_changes(before, after, &mut old, &mut new);
    }
    (Some(Value::Object(old)), Some(Value::Object(new)))
}

/// A change to a flag's rules, rule by rule (by name): `rules_added` (after), `rules_removed`
/// (before), `rules_changed` (each side's version of the rules that differ), and
/// `rules_order` (the names in order, each side) when the rules kept moved.
fn rule_changes(
    before: &Flag,
    after: &Flag,
    old: &mut serde_json::Map<String, Value>,
    new: &mut serde_json::Map<String, Value>,
) {
    let find = |flag: &Flag, name: &str| flag.rules.iter().find(|r| r.name == name).cloned();
    let added: Vec<Value> = (after.rules.iter())
        .filter(|r| find(before, &r.name).is_none())
        .map(to_value)
        .collect();
    let removed: Vec<Value> = (before.rules.iter())
        .filter(|r| find(after, &r.name).is_none())
        .map(to_value)
        .collect();
    let (mut was, mut is) = (serde_json::Map::new(), serde_json::Map::new());
    for rule in &after.rules {
        if let Some(previous) = find(before, &rule.name).filter(|p| p != rule) {
            was.insert(rule.name.clone(), to_value(&previous));
            is.insert(rule.name.clone(), to_value(rule));
        }
    }
    let kept = |flag: &Flag, other: &Flag| -> Vec<String> {
        (flag.rules.iter())
            .filter(|r| find(other, &r.name).is_some())
            .map(|r| r.name.clone())
            .collect()
    };
    let (order_before, order_after) = (kept(before, after), kept(after, before));
    if !added.is_empty() {
        new.insert("rules_added".into(), Value::Array(added));
    }
    if !removed.is_empty() {
        old.insert("rules_removed".into(), Value::Array(removed));
    }
    if !is.is_empty() {
        old.insert("rules_changed".into(), Value::Object(was));
        new.insert("rules_changed".into(), Value::Object(is));
    }
    if order_before != order_after {
        old.insert("rules_order".into(), serde_json::json!(order_before));
        new.insert("rules_order".into(), serde_json::json!(order_after));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use switchyard_core::Rule;

    #[test]
    fn a_rules_change_is_recorded_rule_by_rule() {
        let rule = |name: &str, p| Rule {
            rollout_percentage: p,
            ..Rule::new(name)
        };
        let before = Flag {
            rules: vec![rule("a", 10), rule("b", 20), rule("c", 30)],
            version: 1,
            ..Flag::new("f")
        };
        let after = Flag {
            rules: vec![rule("c", 30), rule("a", 15), rule("d", 40)],
            version: 2,
            ..Flag::new("f")
        };
        let (old, new) = audited(Some(&before), Some(&after));
        let (old, new) = (old.unwrap(), new.unwrap());
        assert_eq!(new["rules_added"], json!([to_value(&rule("d", 40))]));
        assert_eq!(old["rules_removed"], json!([to_value(&rule("b", 20))]));
        assert_eq!(old["rules_changed"], json!({"a": to_value(&rule("a", 10))}));
        assert_eq!(new["rules_changed"], json!({"a": to_value(&rule("a", 15))}));
        assert_eq!(
            (&old["rules_order"], &new["rules_order"]),
            (&json!(["a", "c"]), &json!(["c", "a"]))
        );
        assert!(old.get("rules").is_none() && new.get("rules").is_none());
        // An unrelated change records no rule at all.
        let renamed = Flag {
            description: "x".into(),
            ..before.clone()
        };
        let (_, new) = audited(Some(&before), Some(&renamed));
        assert_eq!(
            new.unwrap().as_object().unwrap().keys().collect::<Vec<_>>(),
            ["description", "version"]
        );
    }
}
