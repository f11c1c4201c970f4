//! Release plans at run time (docs/api.md#release-plans): the scheduler every instance runs, the guards it
//! reads, and the templates a plan can start from. The plan itself (stages, state, the step
//! a running plan takes next) is `switchyard_core::plan`; its writes are `changes::plan`.
//!
//! # Layout
//! - [`guards`]: Prometheus queries and what each guard has read.
//! - [`scheduler`]: the task that looks at every running plan each tick.
//! - [`template`]: a plan request (`"template": "standard"` and overrides) made a plan.
//! - [`view`]: a plan as the API shows it, with its guards' readings.

pub mod guards;
pub mod template;
pub mod view;
