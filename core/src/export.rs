//! The backup format: what `GET /v1/export` writes, `POST /v1/import` reads and an SDK
//! bootstraps from.

use serde::{Deserialize, Serialize};

use crate::flag::{Flag, KillSwitch};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// Always [`Export::FORMAT`].
    pub format: u32,
    /// The global kill switch.
    #[serde(default)]
    pub global_kill_switch: KillSwitch,
    /// Every flag, sorted by key.
    #[serde(default)]
    pub flags: Vec<Flag>,
}

impl Export {
    /// The one format this version writes and reads.
    pub const FORMAT: u32 = 1;
}
