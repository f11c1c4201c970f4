//! Flag changes: create or replace (`PUT`), patch, delete, roll back.

use serde::{Deserialize, Deserializer};
use switchyard_core::validate::validate_key;
use switchyard_core::{Flag, Markets, Whitelist};

use super::diff::audited;
use super::{ChangeError, Writer, conflict, reason, to_value};
use crate::store::{Change, Commit};

/// A full flag, as `PUT /v1/flags/{key}` takes it. Unknown fields are refused, so a typo
/// never passes silently. `version`, `updated_at` and `updated_by` are accepted so that a
/// flag read with GET can be sent back: `version` is then the expected version.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagInput {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    rollout_percentage: u32,
    #[serde(default)]
    group_id: Option<String>,
    #[serde(default)]
    markets: Markets,
    #[serde(default)]
    whitelist: Whitelist,
    /// Accepted only as it is (a flag read with GET can be sent back): only the kill
    /// endpoints change a kill switch (SPEC §6).
    #[serde(default)]
    kill_switch: Option<bool>,
    #[serde(default)]
    expected_version: Option<u64>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    updated_at: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    updated_by: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    reason: Option<String>,
}

/// A partial change, as `PATCH /v1/flags/{key}` takes it: absent fields stay as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagPatch {
    description: Option<String>,
    enabled: Option<bool>,
    rollout_percentage: Option<u32>,
    /// `null` clears the group (back to the key).
    #[serde(default, deserialize_with = "present")]
    group_id: Option<Option<String>>,
    markets: Option<Markets>,
    whitelist: Option<Whitelist>,
    /// Users to add to the whitelist.
    whitelist_add: Option<Vec<String>>,
    /// Users to remove from the whitelist.
    whitelist_remove: Option<Vec<String>>,
    /// Refused: only the kill endpoints change a kill switch (SPEC §6).
    kill_switch: Option<bool>,
    expected_version: Option<u64>,
    reason: Option<String>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl FlagPatch {
    fn is_empty(&self) -> bool {
        self.description.is_none()
            && self.enabled.is_none()
            && self.rollout_percentage.is_none()
            && self.group_id.is_none()
            && self.markets.is_none()
            && self.whitelist.is_none()
            && self.whitelist_add.is_none()
            && self.whitelist_remove.is_none()
    }

    fn apply(&self, mut flag: Flag) -> Flag {
        if let Some(d) = &self.description {
            flag.description = d.clone();
        }
        if let Some(e) = self.enabled {
            flag.enabled = e;
        }
        if let Some(p) = self.rollout_percentage {
            flag.rollout_percentage = p;
        }
        if let Some(g) = &self.group_id {
            flag.group_id = g.clone();
        }
        if let Some(m) = &self.markets {
            flag.markets = m.clone();
        }
        if let Some(w) = &self.whitelist {
            flag.whitelist = w.clone();
        }
        if self.whitelist_add.is_some() || self.whitelist_remove.is_some() {
            // A set: removing 10,000 users from 10,000 stays linear.
            let remove: std::collections::HashSet<&str> = self
                .whitelist_remove
                .iter()
                .flatten()
                .map(String::as_str)
                .collect();
            let users = flag.whitelist.sorted().into_iter().map(str::to_owned);
            let added = self.whitelist_add.iter().flatten().cloned();
            let users = users.chain(added).filter(|u| !remove.contains(u.as_str()));
            flag.whitelist = Whitelist::new(users);
        }
        flag
    }
}

/// Why a write that would change a kill switch is refused: only the kill endpoints do that,
/// with a reason to turn one on (SPEC §6).
fn kill_switch_elsewhere(key: &str) -> ChangeError {
    ChangeError::BadInput(format!(
        "kill_switch changes only through POST /v1/flags/{key}/kill (with a reason to turn it \
         on); leave it out of this write or send it as it is"
    ))
}

impl Writer<'_> {
    /// `PUT`: creates `key`, or replaces it when the expected version is given and current.
    /// Returns the flag and whether it was created.
    pub async fn put(
        &self,
        key: &str,
        input: FlagInput,
        if_match: Option<u64>,
    ) -> Result<(Flag, bool), ChangeError> {
        validate_key(key).map_err(switchyard_core::ValidationError::from)?;
        if let Some(body_key) = &input.key
            && body_key != key
        {
            return Err(ChangeError::BadInput(format!(
                "the body's key {body_key:?} differs from the path's {key:?}"
            )));
        }
        let expected = if_match.or(input.expected_version).or(input.version);
        let why = reason(input.reason)?;
        let _ = (input.updated_at, input.updated_by);
        let current = self.changes.store.flag(key).await?;
        let kill_switch = current.as_ref().is_some_and(|c| c.kill_switch);
        if input.kill_switch.is_some_and(|k| k != kill_switch) {
            return Err(kill_switch_elsewhere(key));
        }
        let flag = Flag {
            description: input.description,
            enabled: input.enabled,
            rollout_percentage: input.rollout_percentage,
            group_id: input.group_id,
            markets: input.markets,
            whitelist: input.whitelist,
            kill_switch,
            ..Flag::new(key)
        };
        let (version, action) = match (&current, expected) {
            (None, None) => (self.first_version(key, 1).await?, "flag.create"),
            (Some(c), None) => {
                return Err(ChangeError::Conflict {
                    message: format!(
                        "flag {key:?} exists (version {}); to replace it, send its version as \
                         If-Match or expected_version",
                        c.version
                    ),
                    current_version: Some(c.version),
                });
            }
            (None, Some(e)) => return Err(conflict(key, Some(e), None)),
            (Some(c), Some(e)) if c.version != e => {
                return Err(conflict(key, Some(e), Some(c.version)));
            }
            (Some(c), Some(_)) => (c.version.saturating_add(1), "flag.update"),
        };
        let flag = self.stamp(flag, version)?;
        let (before, after) = audited(current.as_ref(), Some(&flag));
        let commit = Commit {
            changes: vec![Change::PutFlag {
                flag: flag.clone(),
                expected: current.as_ref().map(|c| c.version),
            }],
            audit: vec![self.audit(action, Some(key), before, after, why)],
        };
        self.commit(commit).await?;
        Ok((flag, current.is_none()))
    }

    /// `PATCH`: a partial change, conditional when an expected version is given.
    pub async fn patch(
        &self,
        key: &str,
        patch: FlagPatch,
        if_match: Option<u64>,
    ) -> Result<Flag, ChangeError> {
        if patch.kill_switch.is_some() {
            return Err(kill_switch_elsewhere(key));
        }
        if patch.is_empty() {
            return Err(ChangeError::BadInput(
                "the patch changes nothing: give at least one field to change".into(),
            ));
        }
        let limit = self.changes.limits.max_whitelist;
        for list in [&patch.whitelist_add, &patch.whitelist_remove]
            .into_iter()
            .flatten()
        {
            if list.len() > limit {
                return Err(ChangeError::BadInput(format!(
                    "a whitelist change lists {} users; the limit is {limit}",
                    list.len()
                )));
            }
        }
        let expected = if_match.or(patch.expected_version);
        let why = reason(patch.reason.clone())?;
        self.update(key, expected, "flag.update", why, |f| patch.apply(f))
            .await
    }

    /// `DELETE`: removes `key` (its history stays). Conditional with an expected version.
    pub async fn delete(
        &self,
        key: &str,
        expected: Option<u64>,
        why: Option<String>,
    ) -> Result<Flag, ChangeError> {
        let why = reason(why)?;
        let current = self.current(key).await?;
        if let Some(e) = expected
            && e != current.version
        {
            return Err(conflict(key, Some(e), Some(current.version)));
        }
        let commit = Commit {
            changes: vec![Change::DeleteFlag {
                key: key.to_owned(),
                expected: current.version,
            }],
            audit: vec![self.audit(
                "flag.delete",
                Some(key),
                Some(to_value(&current)),
                None,
                why,
            )],
        };
        self.commit(commit).await?;
        Ok(current)
    }

    /// Makes version `to` of `key` current again, as a new version. A deleted flag comes back.
    pub async fn rollback(
        &self,
        key: &str,
        to: u64,
        expected: Option<u64>,
        why: Option<String>,
    ) -> Result<Flag, ChangeError> {
        let why = reason(why)?;
        let history = self.changes.store.history(key).await?;
        let Some(target) = history.iter().find(|f| f.version == to).cloned() else {
            return Err(if history.is_empty() {
                ChangeError::FlagNotFound(key.to_owned())
            } else {
                ChangeError::NotFound(format!("flag {key:?} has no version {to}"))
            });
        };
        // The kill switch stays as it is now (SPEC §6: a rollback never lifts one).
        let restore = move |current: Flag| Flag {
            key: current.key,
            kill_switch: current.kill_switch,
            ..target.clone()
        };
        if self.changes.store.flag(key).await?.is_some() {
            return self
                .update(key, expected, "flag.rollback", why, restore)
                .await;
        }
        // Deleted: bring it back as a new version, with the kill switch it last had.
        let Some(last) = history.last().cloned() else {
            return Err(ChangeError::FlagNotFound(key.to_owned()));
        };
        let version = self.first_version(key, 1).await?;
        let flag = self.stamp(restore(last), version)?;
        let commit = Commit {
            changes: vec![Change::PutFlag {
                flag: flag.clone(),
                expected: None,
            }],
            audit: vec![self.audit("flag.rollback", Some(key), None, Some(to_value(&flag)), why)],
        };
        self.commit(commit).await?;
        Ok(flag)
    }
}
