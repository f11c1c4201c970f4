//! A partial change to a flag, as `PATCH /v1/flags/{key}` takes it: the server applies it,
//! the CLI builds it. Absent fields stay as they are.

use serde::{Deserialize, Serialize};

use serde_json::Value;

use crate::model::{Flag, FlagSpec, FlagVariant, Markets, Requirement, Rule, Whitelist};

/// A partial change, as `PATCH /v1/flags/{key}` takes it: absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagPatch {
    /// The new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Turn the flag on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The new rollout percentage, 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_percentage: Option<u32>,
    /// `null` clears the group (back to the key).
    #[serde(
        default,
        deserialize_with = "crate::wire::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub group_id: Option<Option<String>>,
    /// Every market the flag is limited to (empty: every market).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markets: Option<Markets>,
    /// The whole whitelist, replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitelist: Option<Whitelist>,
    /// Users to add to the whitelist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitelist_add: Option<Vec<String>>,
    /// Users to remove from the whitelist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitelist_remove: Option<Vec<String>>,
    /// Refused: only the kill endpoints change a kill switch (docs/flags.md#limits-and-safety-rules).
    /// The variants, whole (`[]`: none, a boolean flag again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<FlagVariant>>,
    /// The value served when off; `null` clears it.
    #[serde(
        default,
        deserialize_with = "crate::wire::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub off_value: Option<Option<Value>>,
    /// The rules, whole and in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<Rule>>,
    /// The flags required, whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<Vec<Requirement>>,
    /// The stickiness attribute; `null`: `user_id` again.
    #[serde(
        default,
        deserialize_with = "crate::wire::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub stickiness: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_switch: Option<bool>,
    /// The version the change is based on (409 when the flag is at another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
    /// Why, for the audit trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
impl FlagPatch {
    /// True when the patch changes nothing a client may set.
    pub fn is_empty(&self) -> bool {
        let FlagPatch {
            description,
            enabled,
            rollout_percentage,
            group_id,
            markets,
            whitelist,
            whitelist_add,
            whitelist_remove,
            variants,
            off_value,
            rules,
            requires,
            stickiness,
            kill_switch: _,
            expected_version: _,
            reason: _,
        } = self;
        variants.is_none()
            && off_value.is_none()
            && rules.is_none()
            && requires.is_none()
            && stickiness.is_none()
            && description.is_none()
            && enabled.is_none()
            && rollout_percentage.is_none()
            && group_id.is_none()
            && markets.is_none()
            && whitelist.is_none()
            && whitelist_add.is_none()
            && whitelist_remove.is_none()
    }

    /// `flag` with the patch applied. Both the patch and the flag's spec are destructured
    /// without `..`: a field added to either is a compile error here.
    pub fn apply(&self, flag: Flag) -> Flag {
        let FlagPatch {
            description,
            enabled,
            rollout_percentage,
            group_id,
            markets,
            whitelist,
            whitelist_add,
            whitelist_remove,
            variants,
            off_value,
            rules,
            requires,
            stickiness,
            kill_switch: _,
            expected_version: _,
            reason: _,
        } = self;
        let FlagSpec {
            description: old_description,
            enabled: old_enabled,
            rollout_percentage: old_rollout,
            group_id: old_group,
            markets: old_markets,
            whitelist: old_whitelist,
            variants: old_variants,
            off_value: old_off_value,
            rules: old_rules,
            requires: old_requires,
            stickiness: old_stickiness,
        } = flag.spec();
        let mut whitelist = whitelist.clone().unwrap_or(old_whitelist);
        if whitelist_add.is_some() || whitelist_remove.is_some() {
            // A set: removing 10,000 users from 10,000 stays linear.
            let remove: std::collections::HashSet<&str> = whitelist_remove
                .iter()
                .flatten()
                .map(String::as_str)
                .collect();
            let users = whitelist.sorted().into_iter().map(str::to_owned);
            let added = whitelist_add.iter().flatten().cloned();
            let users = users.chain(added).filter(|u| !remove.contains(u.as_str()));
            whitelist = Whitelist::new(users);
        }
        flag.with_spec(FlagSpec {
            description: description.clone().unwrap_or(old_description),
            enabled: enabled.unwrap_or(old_enabled),
            rollout_percentage: rollout_percentage.unwrap_or(old_rollout),
            group_id: group_id.clone().unwrap_or(old_group),
            markets: markets.clone().unwrap_or(old_markets),
            whitelist,
            variants: variants.clone().unwrap_or(old_variants),
            off_value: off_value.clone().unwrap_or(old_off_value),
            rules: rules.clone().unwrap_or(old_rules),
            requires: requires.clone().unwrap_or(old_requires),
            stickiness: stickiness.clone().unwrap_or(old_stickiness),
        })
    }
}
