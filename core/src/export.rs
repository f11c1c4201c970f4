//! The backup format: what `GET /v1/export` writes, `POST /v1/import` reads and an SDK
//! bootstraps from.

use serde::{Deserialize, Serialize};

use crate::flag::{Flag, KillSwitch};
use crate::segment::Segment;

/// A backup: the global kill switch, every flag and every segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// [`Export::FORMAT`] when written; [`Export::READS`] are read.
    pub format: u32,
    /// The global kill switch.
    #[serde(default)]
    pub global_kill_switch: KillSwitch,
    /// Every flag, sorted by key.
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// Every segment, sorted by key (format 2 on; a format 1 backup has none).
    #[serde(default)]
    pub segments: Vec<Segment>,
}

impl Export {
    /// The format this version writes: 2, which added segments and the flags' variants,
    /// rules and prerequisites.
    pub const FORMAT: u32 = 2;
    /// The formats this version reads: 1 (flags only) and 2.
    pub const READS: [u32; 2] = [1, 2];
}
