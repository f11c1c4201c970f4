//! Kill switches: a flag's own and the global one. Turning one on needs a reason; these are
//! the only writes that change a kill switch (SPEC §6).

use chrono::Utc;
use switchyard_core::{Flag, KillSwitch};

use super::{ChangeError, Writer, reason, to_value};
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
        Ok(after)
    }
}
