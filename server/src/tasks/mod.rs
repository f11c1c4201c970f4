//! The server's background tasks, each a loop over the shared state until it is dropped:
//! keeping the snapshot current, the fleet heartbeat, the release plan scheduler, the
//! impact flusher and retention. They sit above the subsystems they drive (nothing below
//! them imports them), so the state and the subsystems stay free of cycles.
//!
//! - [`sync`]: refresh, apply a commit in place, reconcile, retention.
//! - [`heartbeat`]: this instance's heartbeat and the fleet metrics.
//! - [`scheduler`]: every running release plan, one tick a second.
//! - [`impact`]: the impact buffer to the store.

pub mod heartbeat;
pub mod impact;
pub mod scheduler;
pub mod sync;
