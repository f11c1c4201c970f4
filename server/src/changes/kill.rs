//! Kill switches: a flag's own and the global one. Turning one on needs a reason; these are
//! the only writes that change a kill switch (SPEC §6).

use chrono::Utc;
use switchyard_core::{Flag, KillSwitch};

use super::{ChangeError, Event, Writer, reason, to_value};
use crate::store::{Change, Commit};

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
            .update(key, None, action, why.clone(), |f| Flag {
                kill_switch: active,
                ..f
            })
            .await?;
        if before.kill_switch != active {
            let text = match (&why, active) {
                (Some(why), true) => format!("{key} was killed by {}: {why}", self.actor),
                (None, true) => format!("{key} was killed by {}", self.actor),
                (_, false) => format!("{key}'s kill switch was lifted by {}", self.actor),
            };
            self.tell("kill_switch", &flag, text, kill_detail(active, why));
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
        if before.active != active {
            let text = match (&after.reason, active) {
                (Some(why), true) => format!(
                    "The global kill switch was turned ON by {}: {why} (every flag is off)",
                    self.actor
                ),
                (None, true) => format!("The global kill switch was turned ON by {}", self.actor),
                (_, false) => format!("The global kill switch was lifted by {}", self.actor),
            };
            let mut detail = kill_detail(active, after.reason.clone());
            detail.insert("global".into(), serde_json::json!(true));
            self.follow.notify(Event {
                event: "kill_switch",
                flag: None,
                text,
                at: Utc::now(),
                actor: self.actor.to_owned(),
                version: None,
                detail,
            });
        }
        Ok(after)
    }
}

fn kill_detail(active: bool, reason: Option<String>) -> serde_json::Map<String, serde_json::Value> {
    let mut detail = serde_json::Map::new();
    detail.insert("active".into(), serde_json::json!(active));
    detail.insert("reason".into(), serde_json::json!(reason));
    detail
}
