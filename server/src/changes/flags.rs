//! Flag changes: create or replace (`PUT`), patch, delete, roll back.

use serde::Deserialize;
use switchyard_core::validate::validate_key;
use switchyard_core::{Flag, FlagPatch, FlagSpec};

use super::diff::audited;
use super::{ChangeError, Precondition, Writer, reason, to_value};
use crate::store::{Commit, Write};

/// A full flag, as `PUT /v1/flags/{key}` takes it: a [`FlagSpec`] and what comes with a
/// write. `key`, `kill_switch`, `version`, `updated_at`, `updated_by` and `plan` are accepted
/// so that a flag read with GET can be sent back (`version` is then the expected version; the
/// plan is kept as stored). Any other field is refused by name.
#[derive(Debug)]
pub struct FlagInput {
    spec: FlagSpec,
    envelope: Envelope,
}

/// What comes with a `PUT` beside the spec.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(default)]
    key: Option<String>,
    /// Accepted only as it is: only the kill endpoints change a kill switch (docs/flags.md#limits-and-safety-rules).
    #[serde(default)]
    kill_switch: Option<bool>,
    #[serde(default)]
    expected_version: Option<u64>,
    #[serde(default)]
    version: Option<u64>,
    /// The server's stamps, accepted and not used (read back from a GET).
    #[serde(default)]
    updated_at: Option<serde_json::Value>,
    #[serde(default)]
    updated_by: Option<serde_json::Value>,
    #[serde(default)]
    reason: Option<String>,
    /// The release plan as read back from a GET: ignored, the plan changes only through
    /// `/v1/flags/{key}/plan`.
    #[serde(default)]
    plan: Option<serde_json::Value>,
}

/// The envelope's fields: the rest of a `PUT` body must be a [`FlagSpec`].
const ENVELOPE: [&str; 8] = [
    "plan",
    "key",
    "kill_switch",
    "expected_version",
    "version",
    "updated_at",
    "updated_by",
    "reason",
];

impl FlagInput {
    /// Reads a `PUT` body's object: the envelope's fields, then the spec from the rest, which
    /// refuses any field it does not know, by name.
    pub fn from_object(
        object: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, ChangeError> {
        let (envelope, spec) = split_envelope(object, &ENVELOPE, "flag")?;
        Ok(FlagInput { envelope, spec })
    }
}

/// A `PUT` body read as its envelope (the fields named `envelope`: what comes with a write
/// beside the spec) and its spec (the rest, every field known at any depth); an error names
/// `what` (`flag`, `segment`) and the field.
pub fn split_envelope<E, S>(
    mut object: serde_json::Map<String, serde_json::Value>,
    envelope: &[&str],
    what: &str,
) -> Result<(E, S), ChangeError>
where
    E: serde::de::DeserializeOwned,
    S: serde::de::DeserializeOwned,
{
    let fields: serde_json::Map<_, _> = envelope
        .iter()
        .filter_map(|k| object.remove_entry(*k))
        .collect();
    let invalid = |e: serde_json::Error| ChangeError::BadInput(format!("invalid {what}: {e}"));
    let envelope = serde_json::from_value(fields.into()).map_err(invalid)?;
    let spec = known_fields_only(serde_json::Value::Object(object)).map_err(invalid)?;
    Ok((envelope, spec))
}

/// Reads `value` as a `T`, refusing a field `T` does not know at any depth (a rule's, a
/// variant's), by its path: the model reads leniently, so a reader of a newer server's data
/// keeps working, but a write that would silently drop a field is refused.
pub fn known_fields_only<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, serde_json::Error> {
    let mut unknown = Vec::new();
    let read: T = serde_ignored::deserialize(value, |path| {
        if unknown.len() < 20 {
            unknown.push(path.to_string());
        }
    })?;
    if unknown.is_empty() {
        Ok(read)
    } else {
        Err(serde::de::Error::custom(format!(
            "unknown field(s) {}",
            unknown.join(", ")
        )))
    }
}

/// Why a write that would change a kill switch is refused: only the kill endpoints do that,
/// with a reason to turn one on (docs/flags.md#limits-and-safety-rules).
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
        precondition: Precondition,
    ) -> Result<(Flag, bool), ChangeError> {
        validate_key(key).map_err(switchyard_core::ValidationError::from)?;
        if let Some(body_key) = &input.envelope.key
            && body_key != key
        {
            return Err(ChangeError::BadInput(format!(
                "the body's key {body_key:?} differs from the path's {key:?}"
            )));
        }
        let precondition = precondition
            .or_body(input.envelope.expected_version)
            .or_body(input.envelope.version);
        let why = reason(input.envelope.reason)?;
        let _ = (
            &input.envelope.updated_at,
            &input.envelope.updated_by,
            &input.envelope.plan,
        );
        let current = self.changes.store.flag(key).await?;
        let kill_switch = current.as_ref().is_some_and(|c| c.kill_switch);
        if input.envelope.kill_switch.is_some_and(|k| k != kill_switch) {
            return Err(kill_switch_elsewhere(key));
        }
        let mut flag = Flag::new(key).with_spec(input.spec);
        flag.kill_switch = kill_switch;
        // The plan changes only through its own routes.
        flag.plan = current.as_ref().and_then(|c| c.plan.clone());
        precondition.check(key, current.as_ref().map(|c| c.version))?;
        let (version, action) = match (&current, precondition.expected()) {
            // (None, Some(_)) was refused by the check: nothing to replace.
            (None, _) => (self.first_version(key, 1).await?, "flag.create"),
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
            (Some(c), Some(_)) => (c.version.saturating_add(1), "flag.update"),
        };
        let mut flag = self.stamp_in_place(flag, version)?;
        let steered = current.as_ref().and_then(|c| self.steer(c, &mut flag));
        let (before, after) = audited(current.as_ref(), Some(&flag));
        let mut audit = vec![self.audit(action, Some(key), before, after, why)];
        audit.extend(steered.iter().map(|note| self.steered_pause(key, note)));
        let commit = Commit {
            writes: vec![Write::PutFlag {
                flag: flag.clone(),
                expected: current.as_ref().map(|c| c.version),
            }],
            audit,
        };
        self.commit(commit).await?;
        self.told_steered(&flag, steered);
        Ok((flag, current.is_none()))
    }

    /// `PATCH`: a partial change, conditional when an expected version is given.
    pub async fn patch(
        &self,
        key: &str,
        patch: FlagPatch,
        precondition: Precondition,
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
        let expected = precondition.or_body(patch.expected_version);
        let why = reason(patch.reason.clone())?;
        self.update(key, expected, "flag.update", why, |f| patch.apply(f))
            .await
    }

    /// `DELETE`: removes `key` (its history stays). Conditional with an expected version.
    pub async fn delete(
        &self,
        key: &str,
        expected: Precondition,
        why: Option<String>,
    ) -> Result<Flag, ChangeError> {
        let why = reason(why)?;
        let current = self.current(key).await?;
        expected.check(key, Some(current.version))?;
        let served = self.follow.served();
        let mut requiring: Vec<&str> = served
            .flags()
            .filter(|f| f.requires.iter().any(|r| r.flag == key))
            .map(|f| f.key.as_str())
            .collect();
        if !requiring.is_empty() {
            requiring.truncate(20);
            return Err(ChangeError::Conflict {
                message: format!(
                    "flag {key:?} is required by {}: remove it from their requires first",
                    requiring.join(", ")
                ),
                current_version: Some(current.version),
            });
        }
        let commit = Commit {
            writes: vec![Write::DeleteFlag {
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
        expected: Precondition,
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
        // The kill switch stays as it is now (docs/flags.md#limits-and-safety-rules: a rollback never lifts one).
        // So does the release plan: it changes only through its own routes.
        let restore = move |current: Flag| Flag {
            key: current.key,
            kill_switch: current.kill_switch,
            plan: current.plan,
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
        let flag = self.stamp_in_place(restore(last), version)?;
        let commit = Commit {
            writes: vec![Write::PutFlag {
                flag: flag.clone(),
                expected: None,
            }],
            audit: vec![self.audit("flag.rollback", Some(key), None, Some(to_value(&flag)), why)],
        };
        self.commit(commit).await?;
        Ok(flag)
    }
}
