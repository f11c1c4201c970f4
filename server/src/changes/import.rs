//! Imports: a backup validated whole, then written in one commit; `replace` restores exactly,
//! `merge` only creates and updates. An import never lifts a kill switch.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use switchyard_core::segment::MAX_SEGMENTS;
use switchyard_core::validate::{validate_export, validate_references};
use switchyard_core::{Export, Flag, KillSwitch, Segment, Snapshot};

use super::diff::{audited, same_content};
use super::{ChangeError, Writer, to_value};
use crate::store::{Commit, Write};

/// What an import did, or would do with `dry_run`.
#[derive(Debug, Default, Serialize)]
pub struct ImportPlan {
    /// Keys created.
    pub created: Vec<String>,
    /// Keys whose content changed.
    pub updated: Vec<String>,
    /// Keys deleted (`replace` mode only).
    pub deleted: Vec<String>,
    /// How many flags (and segments) were already as imported.
    pub unchanged: usize,
    /// Whether the global kill switch changes.
    pub global_kill_switch_changed: bool,
    /// Segment keys created.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub segments_created: Vec<String>,
    /// Segment keys whose content changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub segments_updated: Vec<String>,
    /// Segment keys deleted (`replace` mode only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub segments_deleted: Vec<String>,
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

/// The reason recorded when an import turns a kill switch on and the backup gives none.
const IMPORTED_KILL: &str = "kill switch on as in the imported backup";

impl Writer<'_> {
    /// Restores or merges a backup, validated whole before anything is written, in one commit.
    pub async fn import(
        &self,
        export: Export,
        mode: ImportMode,
        dry_run: bool,
    ) -> Result<ImportPlan, ChangeError> {
        validate_export(&export, &self.changes.limits)?;
        let loaded = self.changes.store.load().await?;
        let mut current: std::collections::HashMap<String, Flag> = loaded
            .flags
            .into_iter()
            .map(|f| (f.key.clone(), f))
            .collect();
        let mut current_segments: std::collections::HashMap<String, Segment> = loaded
            .segments
            .into_iter()
            .map(|s| (s.key.clone(), s))
            .collect();
        // What the flags name (segments, required flags), checked against the state the
        // import leaves.
        let merging = mode == ImportMode::Merge;
        let kept = current
            .values()
            .filter(|_| merging)
            .filter(|f| !export.flags.iter().any(|i| i.key == f.key));
        let after = kept.chain(&export.flags).cloned();
        let kept_segments = current_segments
            .values()
            .filter(|_| merging)
            .filter(|s| !export.segments.iter().any(|i| i.key == s.key));
        let segments_after: Vec<Segment> = kept_segments.chain(&export.segments).cloned().collect();
        if segments_after.len() > MAX_SEGMENTS {
            return Err(ChangeError::BadInput(format!(
                "the import would leave {} segments; the most a deployment holds is {MAX_SEGMENTS}",
                segments_after.len()
            )));
        }
        validate_references(
            &Snapshot::new(0, KillSwitch::default(), after).with_segments(segments_after),
        )?;
        let mut plan = ImportPlan {
            dry_run,
            ..ImportPlan::default()
        };
        let mut commit = Commit::default();
        for incoming in &export.segments {
            let existing = current_segments.remove(&incoming.key);
            if existing
                .as_ref()
                .is_some_and(|e| e.spec() == incoming.spec())
            {
                plan.unchanged += 1;
                continue;
            }
            let segment = Segment {
                version: existing.as_ref().map_or(1, |e| e.version.saturating_add(1)),
                updated_at: Some(Utc::now()),
                updated_by: Some(self.actor.to_owned()),
                ..incoming.clone()
            };
            let action = if existing.is_some() {
                plan.segments_updated.push(segment.key.clone());
                "import.segment_update"
            } else {
                plan.segments_created.push(segment.key.clone());
                "import.segment_create"
            };
            commit.audit.push(self.audit(
                action,
                None,
                existing.as_ref().map(to_value),
                Some(to_value(&segment)),
                None,
            ));
            commit.writes.push(Write::PutSegment {
                segment,
                expected: existing.map(|e| e.version),
            });
        }
        if !merging {
            for (key, segment) in current_segments {
                commit.audit.push(self.audit(
                    "import.segment_delete",
                    None,
                    Some(to_value(&segment)),
                    None,
                    None,
                ));
                commit.writes.push(Write::DeleteSegment {
                    key: key.clone(),
                    expected: segment.version,
                });
                plan.segments_deleted.push(key);
            }
        }
        // Kill switches the import turns on, told to the watchers once it is committed.
        let mut killed: Vec<Flag> = Vec::new();
        for mut incoming in export.flags {
            let key = incoming.key.clone();
            let existing = current.remove(&key);
            // An import never lifts an active kill switch (docs/flags.md#limits-and-safety-rules); one it turns on is
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
            if kills {
                killed.push(flag.clone());
            }
            let (before, after) = audited(existing.as_ref(), Some(&flag));
            let why = kills.then(|| IMPORTED_KILL.to_owned());
            commit
                .audit
                .push(self.audit(action, Some(&key), before, after, why));
            commit.writes.push(Write::PutFlag {
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
                commit.writes.push(Write::DeleteFlag {
                    key: key.clone(),
                    expected: flag.version,
                });
                plan.deleted.push(key);
            }
        }
        let switch = export.global_kill_switch;
        let before = loaded.global_kill_switch;
        // Only turning the global switch on: an import never lifts it (docs/flags.md#limits-and-safety-rules).
        let mut global_kill = None;
        if switch.active && !before.active {
            plan.global_kill_switch_changed = true;
            let why = switch
                .reason
                .clone()
                .or_else(|| Some(IMPORTED_KILL.to_owned()));
            let after = KillSwitch {
                active: true,
                reason: why.clone(),
                set_by: Some(self.actor.to_owned()),
                set_at: Some(Utc::now()),
            };
            commit.audit.push(self.audit(
                "import.kill_switch",
                None,
                Some(to_value(&before)),
                Some(to_value(&after)),
                why,
            ));
            global_kill = after.reason.clone();
            commit.writes.push(Write::SetGlobalKillSwitch(after));
        }
        plan.created.sort();
        plan.updated.sort();
        plan.deleted.sort();
        plan.segments_created.sort();
        plan.segments_updated.sort();
        plan.segments_deleted.sort();
        if !dry_run && !commit.writes.is_empty() {
            self.commit(commit).await?;
            for flag in &killed {
                self.tell_kill(Some(flag), true, Some(IMPORTED_KILL));
            }
            if let Some(why) = &global_kill {
                self.tell_kill(None, true, Some(why));
            }
        }
        Ok(plan)
    }
}
