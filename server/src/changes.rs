//! Every change to flags, kill switches and tokens: read the current state, check the
//! expected version, validate, and commit the change with its audit entry in one atomic
//! store step, then refresh the served snapshot. Handlers only translate HTTP to these calls.

use chrono::Utc;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use switchyard_core::validate::{validate_export, validate_flag, validate_key, validate_reason};
use switchyard_core::{Export, Flag, KillSwitch, Markets, Whitelist};

use crate::auth::{Caller, Role, generate_token, hash_token, hex};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AuditEntry, Change, Commit, StoreError, TokenRecord};
use crate::sync;

/// How often an unconditional change retries when a writer on another instance got in first.
const MAX_ATTEMPTS: u32 = 10;

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

/// What an import did, or would do with `dry_run`.
#[derive(Debug, Default, Serialize)]
pub struct ImportPlan {
    /// Keys created.
    pub created: Vec<String>,
    /// Keys whose content changed.
    pub updated: Vec<String>,
    /// Keys deleted (`replace` mode only).
    pub deleted: Vec<String>,
    /// How many flags were already as imported.
    pub unchanged: usize,
    /// Whether the global kill switch changes.
    pub global_kill_switch_changed: bool,
    /// True when nothing was written.
    pub dry_run: bool,
}

/// How an import treats flags the backup does not hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportMode {
    /// Restore: the store ends up holding exactly the backup; other flags are deleted.
    #[default]
    Replace,
    /// Upsert the backup's flags; leave others alone.
    Merge,
}

/// A new token, shown once.
#[derive(Debug, Serialize)]
pub struct IssuedToken {
    /// The record, without its hash.
    #[serde(flatten)]
    pub info: TokenInfo,
    /// The token itself: shown this once, never stored.
    pub token: String,
}

/// A token as listed: never its hash.
#[derive(Debug, Serialize)]
pub struct TokenInfo {
    /// Id to revoke it by.
    pub id: String,
    /// Its name (the audit actor).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it was created.
    pub created_at: chrono::DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
}

impl From<&TokenRecord> for TokenInfo {
    fn from(r: &TokenRecord) -> Self {
        TokenInfo {
            id: r.id.clone(),
            name: r.name.clone(),
            role: r.role,
            created_at: r.created_at,
            created_by: r.created_by.clone(),
        }
    }
}

/// Makes changes on behalf of one caller, once the rate limit admits them.
pub struct Writer<'a> {
    state: &'a AppState,
    caller: &'a Caller,
}

fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("model types serialise")
}

/// A reason as given: trimmed, `None` when blank, refused when too long or holding NUL.
fn reason(reason: Option<String>) -> Result<Option<String>, ApiError> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(r) = &reason {
        validate_reason(r).map_err(ApiError::BadRequest)?;
    }
    Ok(reason)
}

/// What an audit entry records of a flag's change: the full flag when it is created or
/// deleted; for an update, only the fields that changed (and the versions), with a
/// whitelist change as the users added and removed. An entry costs what changed, not what
/// the flag weighs: a one-field change to a flag with 10,000 whitelisted users is bytes,
/// not megabytes.
fn audited(before: Option<&Flag>, after: Option<&Flag>) -> (Option<Value>, Option<Value>) {
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

fn same_content(a: &Flag, b: &Flag) -> bool {
    let strip = |f: &Flag| Flag {
        version: 0,
        updated_at: None,
        updated_by: None,
        ..f.clone()
    };
    strip(a) == strip(b)
}

/// Why a write that would change a kill switch is refused: only the kill endpoints do that,
/// with a reason to turn one on (SPEC §6).
fn kill_switch_elsewhere(key: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "kill_switch changes only through POST /v1/flags/{key}/kill (with a reason to turn it \
         on); leave it out of this write or send it as it is"
    ))
}

/// The reason recorded when an import turns a kill switch on and the backup gives none.
const IMPORTED_KILL: &str = "kill switch on as in the imported backup";

fn conflict(key: &str, expected: Option<u64>, current: Option<u64>) -> ApiError {
    ApiError::from(StoreError::Conflict {
        key: key.to_owned(),
        expected,
        current,
    })
}

impl<'a> Writer<'a> {
    /// A writer for `caller`, or 429 when the caller is over its write rate.
    pub fn new(state: &'a AppState, caller: &'a Caller) -> Result<Self, ApiError> {
        state.admit_write(caller)?;
        Ok(Writer { state, caller })
    }

    fn audit(
        &self,
        action: &str,
        flag: Option<&str>,
        before: Option<Value>,
        after: Option<Value>,
        reason: Option<String>,
    ) -> AuditEntry {
        AuditEntry {
            id: 0,
            at: Utc::now(),
            actor: self.caller.name.clone(),
            action: action.to_owned(),
            flag: flag.map(str::to_owned),
            before,
            after,
            reason,
        }
    }

    /// Stamps `flag` as the next version, written now by this caller.
    fn stamp(&self, mut flag: Flag, version: u64) -> Result<Flag, ApiError> {
        flag.version = version;
        flag.updated_at = Some(Utc::now());
        flag.updated_by = Some(self.caller.name.clone());
        validate_flag(&flag, &self.state.limits)?;
        Ok(flag)
    }

    /// Commits, then refreshes the snapshot so the change is served before the reply.
    async fn commit(&self, commit: Commit) -> Result<(), ApiError> {
        match self.state.store.commit(commit).await {
            Ok(_) => {}
            Err(e @ StoreError::Unavailable(_)) => {
                self.state.set_store_health(Some(e.to_string()));
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = sync::refresh(self.state).await {
            // Committed all the same: the reconciler serves it once the store answers.
            tracing::warn!(error = %e, "change committed but the snapshot refresh failed");
        }
        Ok(())
    }

    /// The version a new flag `key` starts at: 1, or one past a deleted flag's last version,
    /// or past every version served before the store came back older (so history and ETags
    /// never repeat a version).
    async fn first_version(&self, key: &str, at_least: u64) -> Result<u64, ApiError> {
        let last = self
            .state
            .store
            .history(key)
            .await?
            .last()
            .map_or(0, |f| f.version);
        let floor = self.state.store.version_floor().await?;
        Ok(last.max(floor).saturating_add(1).max(at_least).max(1))
    }

    async fn current(&self, key: &str) -> Result<Flag, ApiError> {
        self.state
            .store
            .flag(key)
            .await?
            .ok_or_else(|| ApiError::FlagNotFound(key.to_owned()))
    }

    /// `PUT`: creates `key`, or replaces it when the expected version is given and current.
    /// Returns the flag and whether it was created.
    pub async fn put(
        &self,
        key: &str,
        input: FlagInput,
        if_match: Option<u64>,
    ) -> Result<(Flag, bool), ApiError> {
        validate_key(key).map_err(switchyard_core::ValidationError::from)?;
        if let Some(body_key) = &input.key
            && body_key != key
        {
            return Err(ApiError::BadRequest(format!(
                "the body's key {body_key:?} differs from the path's {key:?}"
            )));
        }
        let expected = if_match.or(input.expected_version).or(input.version);
        let why = reason(input.reason)?;
        let _ = (input.updated_at, input.updated_by);
        let current = self.state.store.flag(key).await?;
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
                return Err(ApiError::Conflict {
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

    /// Changes `key` with `edit`. With `expected`, only from that version (else 409); without,
    /// from whatever version is current, retrying when another writer gets in first.
    async fn update(
        &self,
        key: &str,
        expected: Option<u64>,
        action: &str,
        why: Option<String>,
        edit: impl Fn(Flag) -> Flag,
    ) -> Result<Flag, ApiError> {
        let _queued = self.state.write_lock.lock().await;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                // Another instance wrote first: back off a little, longer each time.
                tokio::time::sleep(std::time::Duration::from_millis(u64::from(attempt) * 5)).await;
            }
            let current = self.current(key).await?;
            if let Some(e) = expected
                && e != current.version
            {
                return Err(conflict(key, Some(e), Some(current.version)));
            }
            let next = self.stamp(edit(current.clone()), current.version.saturating_add(1))?;
            let (before, after) = audited(Some(&current), Some(&next));
            let commit = Commit {
                changes: vec![Change::PutFlag {
                    flag: next.clone(),
                    expected: Some(current.version),
                }],
                audit: vec![self.audit(action, Some(key), before, after, why.clone())],
            };
            match self.commit(commit).await {
                Ok(()) => return Ok(next),
                Err(ApiError::Conflict { .. }) if expected.is_none() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ApiError::Conflict {
            message: format!("flag {key:?} kept changing under this write; retry"),
            current_version: None,
        })
    }

    /// `PATCH`: a partial change, conditional when an expected version is given.
    pub async fn patch(
        &self,
        key: &str,
        patch: FlagPatch,
        if_match: Option<u64>,
    ) -> Result<Flag, ApiError> {
        if patch.kill_switch.is_some() {
            return Err(kill_switch_elsewhere(key));
        }
        if patch.is_empty() {
            return Err(ApiError::BadRequest(
                "the patch changes nothing: give at least one field to change".into(),
            ));
        }
        let limit = self.state.limits.max_whitelist;
        for list in [&patch.whitelist_add, &patch.whitelist_remove]
            .into_iter()
            .flatten()
        {
            if list.len() > limit {
                return Err(ApiError::BadRequest(format!(
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
    ) -> Result<Flag, ApiError> {
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

    /// A flag's own kill switch. Turning it on needs a reason.
    pub async fn kill_flag(
        &self,
        key: &str,
        active: bool,
        why: Option<String>,
    ) -> Result<Flag, ApiError> {
        let why = reason(why)?;
        if active && why.is_none() {
            return Err(ApiError::BadRequest(
                "a reason is required to kill a flag (it goes to the audit trail)".into(),
            ));
        }
        let action = if active { "flag.kill" } else { "flag.unkill" };
        self.update(key, None, action, why, |f| Flag {
            kill_switch: active,
            ..f
        })
        .await
    }

    /// The global kill switch. Turning it on needs a reason.
    pub async fn global_kill(
        &self,
        active: bool,
        why: Option<String>,
    ) -> Result<KillSwitch, ApiError> {
        let why = reason(why)?;
        if active && why.is_none() {
            return Err(ApiError::BadRequest(
                "a reason is required to activate the global kill switch".into(),
            ));
        }
        let before = self.state.store.load().await?.global_kill_switch;
        let after = KillSwitch {
            active,
            reason: why.clone(),
            set_by: Some(self.caller.name.clone()),
            set_at: Some(Utc::now()),
        };
        let action = if active {
            "kill_switch.activate"
        } else {
            "kill_switch.deactivate"
        };
        let commit = Commit {
            changes: vec![Change::SetGlobalKillSwitch(after.clone())],
            audit: vec![self.audit(
                action,
                None,
                Some(to_value(&before)),
                Some(to_value(&after)),
                why,
            )],
        };
        self.commit(commit).await?;
        Ok(after)
    }

    /// Makes version `to` of `key` current again, as a new version. A deleted flag comes back.
    pub async fn rollback(
        &self,
        key: &str,
        to: u64,
        expected: Option<u64>,
        why: Option<String>,
    ) -> Result<Flag, ApiError> {
        let why = reason(why)?;
        let history = self.state.store.history(key).await?;
        let Some(target) = history.iter().find(|f| f.version == to).cloned() else {
            return Err(if history.is_empty() {
                ApiError::FlagNotFound(key.to_owned())
            } else {
                ApiError::NotFound(format!("flag {key:?} has no version {to}"))
            });
        };
        // The kill switch stays as it is now (SPEC §6: a rollback never lifts one).
        let restore = move |current: Flag| Flag {
            key: current.key,
            kill_switch: current.kill_switch,
            ..target.clone()
        };
        if self.state.store.flag(key).await?.is_some() {
            return self
                .update(key, expected, "flag.rollback", why, restore)
                .await;
        }
        // Deleted: bring it back as a new version, with the kill switch it last had.
        let Some(last) = history.last().cloned() else {
            return Err(ApiError::FlagNotFound(key.to_owned()));
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

    /// Restores or merges a backup, validated whole before anything is written, in one commit.
    pub async fn import(
        &self,
        export: Export,
        mode: ImportMode,
        dry_run: bool,
    ) -> Result<ImportPlan, ApiError> {
        validate_export(&export, &self.state.limits)?;
        let loaded = self.state.store.load().await?;
        let mut current: std::collections::HashMap<String, Flag> = loaded
            .flags
            .into_iter()
            .map(|f| (f.key.clone(), f))
            .collect();
        let mut plan = ImportPlan {
            dry_run,
            ..ImportPlan::default()
        };
        let mut commit = Commit::default();
        for mut incoming in export.flags {
            let key = incoming.key.clone();
            let existing = current.remove(&key);
            // An import never lifts an active kill switch (SPEC §6); one it turns on is
            // audited with a reason.
            let was_killed = existing.as_ref().is_some_and(|c| c.kill_switch);
            incoming.kill_switch |= was_killed;
            let kills = incoming.kill_switch && !was_killed;
            let (version, action) = match &existing {
                Some(c) if same_content(c, &incoming) => {
                    plan.unchanged += 1;
                    continue;
                }
                Some(c) => (c.version.saturating_add(1), "import.update"),
                None => (
                    self.first_version(&key, incoming.version).await?,
                    "import.create",
                ),
            };
            let flag = self.stamp(incoming, version)?;
            let (before, after) = audited(existing.as_ref(), Some(&flag));
            let why = kills.then(|| IMPORTED_KILL.to_owned());
            commit
                .audit
                .push(self.audit(action, Some(&key), before, after, why));
            commit.changes.push(Change::PutFlag {
                flag,
                expected: existing.as_ref().map(|c| c.version),
            });
            match existing {
                Some(_) => plan.updated.push(key),
                None => plan.created.push(key),
            }
        }
        if mode == ImportMode::Replace {
            for (key, flag) in current {
                commit.audit.push(self.audit(
                    "import.delete",
                    Some(&key),
                    Some(to_value(&flag)),
                    None,
                    None,
                ));
                commit.changes.push(Change::DeleteFlag {
                    key: key.clone(),
                    expected: flag.version,
                });
                plan.deleted.push(key);
            }
        }
        let switch = export.global_kill_switch;
        let before = loaded.global_kill_switch;
        // Only turning the global switch on: an import never lifts it (SPEC §6).
        if switch.active && !before.active {
            plan.global_kill_switch_changed = true;
            let why = switch
                .reason
                .clone()
                .or_else(|| Some(IMPORTED_KILL.to_owned()));
            let after = KillSwitch {
                active: true,
                reason: why.clone(),
                set_by: Some(self.caller.name.clone()),
                set_at: Some(Utc::now()),
            };
            commit.audit.push(self.audit(
                "import.kill_switch",
                None,
                Some(to_value(&before)),
                Some(to_value(&after)),
                why,
            ));
            commit.changes.push(Change::SetGlobalKillSwitch(after));
        }
        plan.created.sort();
        plan.updated.sort();
        plan.deleted.sort();
        if !dry_run && !commit.changes.is_empty() {
            self.commit(commit).await?;
        }
        Ok(plan)
    }

    /// Issues a token: the plain token is in the answer, only its hash is stored.
    pub async fn create_token(&self, name: &str, role: Role) -> Result<IssuedToken, ApiError> {
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid_name || name.starts_with("env-") {
            return Err(ApiError::BadRequest(format!(
                "token name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-', not \
                 starting with \"env-\" (kept for the bootstrap tokens)"
            )));
        }
        let (token, id) = generate_token()?;
        let record = TokenRecord {
            id,
            name: name.to_owned(),
            role,
            hash: hex(&hash_token(&token)),
            created_at: Utc::now(),
            created_by: self.caller.name.clone(),
        };
        let info = TokenInfo::from(&record);
        let entry = self.audit("token.create", None, None, Some(to_value(&info)), None);
        let commit = Commit {
            changes: vec![Change::CreateToken(record)],
            audit: vec![entry],
        };
        self.commit(commit).await?;
        Ok(IssuedToken { info, token })
    }

    /// Revokes a stored token by id.
    pub async fn revoke_token(&self, id: &str) -> Result<(), ApiError> {
        let records = self.state.store.tokens().await?;
        let Some(record) = records.iter().find(|r| r.id == id) else {
            return Err(ApiError::NotFound(format!("no token has id {id:?}")));
        };
        let before = to_value(&TokenInfo::from(record));
        let commit = Commit {
            changes: vec![Change::RevokeToken { id: id.to_owned() }],
            audit: vec![self.audit("token.revoke", None, Some(before), None, None)],
        };
        self.commit(commit).await
    }
}
