//! The flag model, shared by server, SDK and CLI, gathered under one path: these types are
//! also the wire format (`/v1/snapshot`, `/v1/flags`) and the backup format (`/v1/export`).
//! Each lives in a module of its own: [`crate::flag`], [`crate::decision`],
//! [`crate::snapshot`], [`crate::delta`], [`crate::export`].

pub use crate::context::Context;
pub use crate::decision::{Decision, Pick, Reason, Variant};
pub use crate::delta::Delta;
pub use crate::export::Export;
pub use crate::flag::{Flag, FlagSpec, KillSwitch, Markets, Whitelist};
pub use crate::rule::{FlagVariant, Requirement, Rule};
pub use crate::segment::{Segment, SegmentSpec};
pub use crate::snapshot::Snapshot;
