//! Kill switches: a flag's own and the global one. Turning one on needs a reason; these are
//! the only writes that change a kill switch (docs/flags.md#limits-and-safety-rules).

use chrono::Utc;
use switchyard_core::{Flag, KillSwitch};

use super::{ChangeError, Event, Precondition, Writer, reason, to_value};
use crate::store::{Commit, Write};

impl Writer<'_> {
    /// A flag's own kill switch. Turning it on needs a reason.
    pub async fn kill_flag(
        &self,
        key: &str,
        active: bool,
        why: Option<String>,
    ) -> Result<Flag, ChangeError> {
        let why = reason(why)?;
        if active && why.is_none() {
            return Err(ChangeError::BadInput(
                "a reason is required to kill a flag (it goes to the audit trail)".into(),
            ));
        }
        let action = if active { "flag.kill" } else { "flag.unkill" };
        let before = self.current(key).await?;
        let flag = self
            .update(key, Precondition::NONE, action, why.clone(), |f| Flag {
                kill_switch: active,
                ..f
            })
            .await?;
        if before.kill_switch != active {
            self.tell_kill(Some(&flag), active, why.as_deref());
        }
        Ok(flag)
    }

    /// The global kill switch. Turning it on needs a reason.
    pub async fn global_kill(
        &self,
        active: bool,
        why: Option<String>,
    ) -> Result<KillSwitch, ChangeError> {
        let why = reason(why)?;
        if active && why.is_none() {
            return Err(ChangeError::BadInput(
                "a reason is required to activate the global kill switch".into(),
            ));
        }
        let before = self.changes.store.load().await?.global_kill_switch;
        let after = KillSwitch {
            active,
            reason: why.clone(),
            set_by: Some(self.actor.to_owned()),
            set_at: Some(Utc::now()),
        };
        let action = if active {
            "kill_switch.activate"
        } else {
            "kill_switch.deactivate"
        };
        let commit = Commit {
            writes: vec![Write::SetGlobalKillSwitch(after.clone())],
            audit: vec![self.audit(
                action,
                None,
                Some(to_value(&before)),
                Some(to_value(&after)),
                why,
            )],
        };
        self.commit(commit).await?;
        if before.active != active {
            self.tell_kill(None, active, after.reason.as_deref());
        }
        Ok(after)
    }
}

impl Writer<'_> {
    /// Tells the watchers that a kill switch changed (docs/api.md#release-plans notifications): `flag`'s, or
    /// the global one (`None`), whoever changed it (a person, a guard, an import).
    pub(super) fn tell_kill(&self, flag: Option<&Flag>, active: bool, why: Option<&str>) {
        let actor = self.actor;
        let text = match (flag, active, why) {
            (Some(f), true, Some(why)) => format!("{} was killed by {actor}: {why}", f.key),
            (Some(f), true, None) => format!("{} was killed by {actor}", f.key),
            (Some(f), false, _) => format!("{}'s kill switch was lifted by {actor}", f.key),
            (None, true, Some(why)) => {
                format!(
                    "The global kill switch was turned ON by {actor}: {why} (every flag is off)"
                )
            }
            (None, true, None) => format!("The global kill switch was turned ON by {actor}"),
            (None, false, _) => format!("The global kill switch was lifted by {actor}"),
        };
        let mut detail = serde_json::Map::new();
        detail.insert("active".into(), serde_json::json!(active));
        detail.insert("reason".into(), serde_json::json!(why));
        match flag {
            Some(f) => self.tell("kill_switch", f, text, detail),
            None => {
                detail.insert("global".into(), serde_json::json!(true));
                self.follow.notify(Event {
                    event: "kill_switch",
                    flag: None,
                    text,
                    at: Utc::now(),
                    actor: actor.to_owned(),
                    version: None,
                    detail,
                });
            }
        }
    }
}
