//! Validation: rejects impossible flags and backups before they are stored, and reports every
//! problem at once, each with the field it is in and what to do about it.

use std::collections::HashSet;

use crate::model::{Context, Export, Flag, Segment, Snapshot};

mod references;
mod targeting;

pub use references::reference_problems;

/// Limits a flag must keep within. The defaults are docs/flags.md#a-flag's; a server may raise them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most user ids in one whitelist (10,000: docs/flags.md#limits-and-safety-rules).
    pub max_whitelist: usize,
    /// Most market codes on one flag.
    pub max_markets: usize,
    /// Longest description, in bytes.
    pub max_description_bytes: usize,
    /// Most flags in one import.
    pub max_flags: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_whitelist: 10_000,
            max_markets: 300,
            max_description_bytes: 4_096,
            max_flags: 100_000,
        }
    }
}

/// The longest key or group id.
pub const MAX_KEY_LEN: usize = 128;
/// The longest whitelisted user id, in bytes.
pub const MAX_USER_ID_BYTES: usize = 256;
/// The longest `user_id` (`targetingKey`) an evaluation accepts, in bytes (docs/flags.md#limits-and-safety-rules): a longer
/// one is refused before it is hashed.
pub const MAX_CONTEXT_USER_BYTES: usize = 1024;
/// The longest reason a kill switch, write or import may carry, in bytes.
pub const MAX_REASON_BYTES: usize = 1024;
/// The highest version (flag or snapshot): 2^53 − 1, exact in every JSON client and in Lua
/// (docs/flags.md#limits-and-safety-rules). A write or import that would pass it is refused.
pub const MAX_VERSION: u64 = (1 << 53) - 1;

pub use crate::problem::{Problem, ValidationError};

fn into_result(problems: Vec<Problem>) -> Result<(), ValidationError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ValidationError { problems })
    }
}

/// Checks a flag key (also used for `group_id`): 1–128 chars of `[A-Za-z0-9._-]`,
/// starting with a letter or digit.
pub fn validate_key(key: &str) -> Result<(), Problem> {
    check_identifier("key", key)
}

fn check_identifier(field: &str, value: &str) -> Result<(), Problem> {
    if value.is_empty() || value.len() > MAX_KEY_LEN {
        return Err(Problem::new(
            field,
            format!(
                "must be 1 to {MAX_KEY_LEN} characters long (is {})",
                value.len()
            ),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(Problem::new(
            field,
            format!("{value:?} has {bad:?}; use only letters, digits, '.', '_' and '-'"),
        ));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Problem::new(
            field,
            format!("{value:?} must start with a letter or a digit"),
        ));
    }
    Ok(())
}

/// Checks one market code: 2–8 chars of `[A-Za-z0-9_-]`.
pub fn validate_market(code: &str) -> Result<(), String> {
    let ok_chars = code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if (2..=8).contains(&code.len()) && ok_chars {
        Ok(())
    } else {
        Err(format!(
            "{code:?} is not a market code: use 2 to 8 letters, digits, '_' or '-' (e.g. \"FR\")"
        ))
    }
}

/// Checks one whitelisted user id: 1–256 bytes, no NUL.
pub fn validate_user_id(user: &str) -> Result<(), String> {
    let preview: String = user.chars().take(32).collect();
    if user.is_empty() || user.len() > MAX_USER_ID_BYTES {
        Err(format!(
            "user id {preview:?} is {} bytes; user ids must be 1 to {MAX_USER_ID_BYTES} bytes",
            user.len()
        ))
    } else if user.contains('\0') {
        Err(format!("user id {preview:?} holds a NUL character"))
    } else {
        Ok(())
    }
}

/// Checks an evaluation context (docs/flags.md#limits-and-safety-rules): a `user_id` of at most 1,024 bytes without NUL,
/// a market code as in docs/flags.md#a-flag (an empty one counts as none), and every other
/// attribute's name at most 128 bytes and value at most 1,024 (their count is bounded while the
/// context is read: [`crate::context::MAX_ATTRIBUTES`]). Cheap: it runs before anything is
/// hashed or compared.
pub fn validate_context(ctx: &Context<'_>) -> Result<(), String> {
    use crate::context::{MAX_ATTRIBUTE_BYTES, MAX_ATTRIBUTE_NAME_BYTES};
    for (name, value) in ctx.attributes() {
        if name.len() > MAX_ATTRIBUTE_NAME_BYTES {
            return Err(format!(
                "an attribute name is {} bytes; the limit is {MAX_ATTRIBUTE_NAME_BYTES}",
                name.len()
            ));
        }
        if value.len() > MAX_ATTRIBUTE_BYTES {
            return Err(format!(
                "attribute {name:?} is {} bytes; the limit is {MAX_ATTRIBUTE_BYTES}",
                value.len()
            ));
        }
    }
    if let Some(user) = ctx.user_id.as_deref() {
        if user.len() > MAX_CONTEXT_USER_BYTES {
            return Err(format!(
                "user_id (targetingKey) is {} bytes; the limit is {MAX_CONTEXT_USER_BYTES}",
                user.len()
            ));
        }
        if user.contains('\0') {
            return Err("user_id (targetingKey) holds a NUL character".into());
        }
    }
    match ctx.market.as_deref() {
        Some(market) if !market.is_empty() => validate_market(market),
        _ => Ok(()),
    }
}

/// Checks a reason given with a change: at most 1,024 bytes, no NUL.
pub fn validate_reason(reason: &str) -> Result<(), String> {
    if reason.len() > MAX_REASON_BYTES {
        Err(format!(
            "reason is {} bytes; the limit is {MAX_REASON_BYTES}",
            reason.len()
        ))
    } else if reason.contains('\0') {
        Err("reason holds a NUL character".into())
    } else {
        Ok(())
    }
}

/// Checks everything a client may set on a flag; version and audit fields are the server's.
/// What it names outside itself (segments, required flags) is [`validate_flag_in`]'s.
pub fn validate_flag(flag: &Flag, limits: &Limits) -> Result<(), ValidationError> {
    into_result(flag_problems(flag, limits))
}

/// [`validate_flag`], and what the flag names checked against the `snapshot` it would
/// join: the segments its rules name and the flags it requires exist, and `requires` makes
/// no cycle (docs/flags.md#values-rules-segments-and-prerequisites).
pub fn validate_flag_in(
    flag: &Flag,
    limits: &Limits,
    snapshot: &Snapshot,
) -> Result<(), ValidationError> {
    let mut problems = flag_problems(flag, limits);
    if problems.is_empty() {
        problems = reference_problems(flag, snapshot);
    }
    into_result(problems)
}

/// Checks a segment: its key, description and constraints.
pub fn validate_segment(segment: &Segment, limits: &Limits) -> Result<(), ValidationError> {
    into_result(targeting::segment_problems(
        segment,
        limits.max_description_bytes,
    ))
}

/// "`field` holds `count` `what`; the limit is `limit`", when over the limit.
fn over_limit(field: &str, count: usize, what: &str, limit: usize) -> Option<Problem> {
    (count > limit)
        .then(|| Problem::new(field, format!("holds {count} {what}; the limit is {limit}")))
}

fn flag_problems(flag: &Flag, limits: &Limits) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(plan) = &flag.plan {
        problems.extend(plan.problems().into_iter().map(|p| p.within("plan")));
        if let Some(rule) = plan.rule.as_deref().filter(|_| plan.state.is_open())
            && flag.walked_percentage(Some(rule)).is_none()
        {
            problems.push(Problem::new(
                "plan.rule",
                format!("the release plan walks rule {rule:?}, which the flag does not have; keep the rule, or abort the plan first"),
            ));
        }
    }
    problems.extend(validate_key(&flag.key).err());
    if let Some(group) = &flag.group_id {
        problems.extend(check_identifier("group_id", group).err());
    }
    let description = flag.description.len();
    problems.extend(over_limit(
        "description",
        description,
        "bytes",
        limits.max_description_bytes,
    ));
    if flag.description.contains('\0') {
        problems.push(Problem::new("description", "holds a NUL character"));
    }
    if flag.version > MAX_VERSION {
        problems.push(Problem::new(
            "version",
            format!(
                "is {}; versions stop at 2^53 - 1 ({MAX_VERSION})",
                flag.version
            ),
        ));
    }
    if flag.rollout_percentage > 100 {
        problems.push(Problem::new(
            "rollout_percentage",
            format!("must be 0 to 100 (is {})", flag.rollout_percentage),
        ));
    }
    problems.extend(over_limit(
        "markets",
        flag.markets.len(),
        "markets",
        limits.max_markets,
    ));
    for (i, code) in flag.markets.as_slice().iter().enumerate() {
        if let Err(message) = validate_market(code) {
            problems.push(Problem::new(format!("markets[{i}]"), message));
        }
    }
    let users = flag.whitelist.len();
    problems.extend(over_limit(
        "whitelist",
        users,
        "users (the server's config can raise the limit)",
        limits.max_whitelist,
    ));
    // Only the first few bad ids: a 10,000-entry list of bad ids would drown the answer.
    let bad_users = flag.whitelist.sorted().into_iter();
    let bad_users = bad_users.filter_map(|u| validate_user_id(u).err());
    for message in bad_users.take(10) {
        problems.push(Problem::new("whitelist", message));
    }
    problems.extend(targeting::problems(flag));
    problems
}

/// Checks a whole backup before any of it is written: the format, every flag and segment,
/// and that no two share a key. What the flags name is [`validate_references`]'s, against
/// the state the import would leave.
pub fn validate_export(export: &Export, limits: &Limits) -> Result<(), ValidationError> {
    let mut problems = Vec::new();
    if !Export::READS.contains(&export.format) {
        problems.push(Problem::new(
            "format",
            format!(
                "is {}; this version reads formats 1 and {}",
                export.format,
                Export::FORMAT
            ),
        ));
    }
    if export.format == 1 && !export.segments.is_empty() {
        problems.push(Problem::new(
            "segments",
            "a format 1 backup has no segments; write format 2",
        ));
    }
    problems.extend(over_limit(
        "flags",
        export.flags.len(),
        "flags",
        limits.max_flags,
    ));
    if let Some(reason) = &export.global_kill_switch.reason
        && let Err(message) = validate_reason(reason)
    {
        problems.push(Problem::new("global_kill_switch.reason", message));
    }
    let mut seen = HashSet::new();
    for (i, flag) in export.flags.iter().enumerate() {
        let prefix = format!("flags[{i}]");
        let inner = flag_problems(flag, limits).into_iter();
        problems.extend(inner.map(|p| p.within(&prefix)));
        if !seen.insert(flag.key.as_str()) {
            problems.push(Problem::new(
                format!("{prefix}.key"),
                format!("{:?} appears more than once", flag.key),
            ));
        }
    }
    problems.extend(over_limit(
        "segments",
        export.segments.len(),
        "segments",
        crate::segment::MAX_SEGMENTS,
    ));
    let mut seen = HashSet::new();
    for (i, segment) in export.segments.iter().enumerate() {
        let prefix = format!("segments[{i}]");
        let inner = targeting::segment_problems(segment, limits.max_description_bytes);
        problems.extend(inner.into_iter().map(|p| p.within(&prefix)));
        if !seen.insert(segment.key.as_str()) {
            problems.push(Problem::new(
                format!("{prefix}.key"),
                format!("{:?} appears more than once", segment.key),
            ));
        }
    }
    into_result(problems)
}

/// Checks what every flag of `snapshot` names, against `snapshot` itself: the state an
/// import would leave (a backup alone in `replace` mode, merged into the store's in `merge`
/// mode). Fields are named `flags[KEY]…`.
pub fn validate_references(snapshot: &Snapshot) -> Result<(), ValidationError> {
    into_result(references::snapshot_problems(snapshot))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Markets, Whitelist};

    #[test]
    fn keys() {
        for good in [
            "a",
            "new-onboarding",
            "Checkout.v2_beta",
            "9lives",
            &"k".repeat(128),
        ] {
            assert_eq!(validate_key(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "-lead",
            ".x",
            "has space",
            "ünï",
            "a/b",
            &"k".repeat(129),
        ] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reports_every_problem_with_its_field() {
        let flag = Flag {
            rollout_percentage: 101,
            group_id: Some("_g".into()),
            markets: Markets::new(["F", "FR", "toolongcode"]),
            whitelist: Whitelist::new(["", "ok"]),
            description: "x".repeat(5000),
            ..Flag::new("bad key")
        };
        let err = validate_flag(&flag, &Limits::default()).unwrap_err();
        let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "key",
                "group_id",
                "description",
                "rollout_percentage",
                "markets[0]",
                "markets[2]",
                "whitelist"
            ]
        );
        assert!(
            err.to_string()
                .contains("rollout_percentage: must be 0 to 100 (is 101)")
        );
    }

    #[test]
    fn list_limits() {
        let limits = Limits {
            max_whitelist: 2,
            max_markets: 1,
            ..Limits::default()
        };
        let flag = Flag {
            markets: Markets::new(["FR", "US"]),
            whitelist: Whitelist::new(["a", "b", "c"]),
            ..Flag::new("f")
        };
        let err = validate_flag(&flag, &limits).unwrap_err();
        let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["markets", "whitelist"]);
    }

    #[test]
    fn contexts_reasons_versions_and_nul() {
        let long = "u".repeat(MAX_CONTEXT_USER_BYTES + 1);
        assert!(validate_context(&Context::new().user(long.as_str())).is_err());
        let max = "u".repeat(MAX_CONTEXT_USER_BYTES);
        assert_eq!(validate_context(&Context::new().user(max.as_str())), Ok(()));
        assert!(validate_context(&Context::new().user("a\0b")).is_err());
        assert!(validate_context(&Context::new().market("F")).is_err());
        assert_eq!(validate_context(&Context::new().market("")), Ok(()));
        assert_eq!(validate_context(&Context::new().market("fr")), Ok(()));
        assert!(validate_reason(&"r".repeat(MAX_REASON_BYTES + 1)).is_err());
        assert!(validate_reason("a\0").is_err());
        let flag = Flag {
            version: MAX_VERSION + 1,
            description: "a\0".into(),
            whitelist: Whitelist::new(["ok", "n\0l"]),
            ..Flag::new("f")
        };
        let err = validate_flag(&flag, &Limits::default()).unwrap_err();
        let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["description", "version", "whitelist"]);
        let export = Export {
            format: 1,
            global_kill_switch: crate::KillSwitch {
                active: true,
                reason: Some("r".repeat(5000)),
                ..Default::default()
            },
            flags: vec![],
            segments: vec![],
        };
        let err = validate_export(&export, &Limits::default()).unwrap_err();
        assert_eq!(err.problems[0].field, "global_kill_switch.reason");
    }

    #[test]
    fn export_duplicates_and_format() {
        let export = Export {
            format: 3,
            global_kill_switch: Default::default(),
            flags: vec![Flag::new("a"), Flag::new("a"), Flag::new("b c")],
            segments: vec![],
        };
        let err = validate_export(&export, &Limits::default()).unwrap_err();
        let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["format", "flags[1].key", "flags[2].key"]);
    }
}
