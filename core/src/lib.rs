//! Switchyard's core: the flag model and the one pure function that decides whether a flag
//! is on for a context. The server and the SDK both evaluate with this crate, so they give
//! the same answer for the same input. No I/O, no clock, no async, no logging.
//!
//! # Layout
//! - [`model`]: Flag, Markets, Whitelist, KillSwitch, Decision, Reason, Snapshot,
//!   Export — also the wire and backup format.
//! - [`bucket`]: the Unleash-compatible murmur3 bucket that makes rollouts sticky per user.
//! - [`context`]: `Context`, who is asking (read from a JSON object only).
//! - [`eval`]: `evaluate`, the single entry point of the rules in docs/flags.md#the-decision.
//! - [`validate`]: rejects impossible flags, reporting every problem at once.
//! - [`openfeature`]: maps a decision onto the OpenFeature (OFREP) reason vocabulary.
//! - [`role`]: who may do what (docs/api.md#tokens-and-roles), shared by the server and the CLI.
//! - [`patch`]: `FlagPatch`, a partial change (the server applies it, the CLI builds it).
//! - [`impact`]: exposures and events per variant, and the sequential test impact guards make.
//! - [`plan`]: release plans: stages, guards, and what a running plan does next.
//! - [`constraint`]: constraints on any context attribute, with Unleash's operators.
//! - [`rule`]: variants with values and weights, rules, prerequisites, and their limits.
//! - [`segment`]: named, reusable lists of constraints rules refer to.
//! - [`client_id`]: the `X-Switchyard-Client` header SDKs name themselves with (docs/api.md#fleet-proof-that-a-change-took).

pub mod bucket;
pub mod client_id;
pub mod constraint;
pub mod context;
pub mod decision;
pub mod delta;
pub mod eval;
pub mod export;
pub mod flag;
pub mod impact;
pub mod model;
pub mod openfeature;
pub mod patch;
pub mod plan;
pub mod problem;
pub mod role;
pub mod rule;
pub mod segment;
pub mod snapshot;
pub mod validate;
mod wire;

pub use bucket::{bucket, split};
pub use eval::{evaluate, evaluate_at, evaluate_flag, evaluate_found};
pub use model::{
    Context, Decision, Delta, Export, Flag, FlagSpec, FlagVariant, KillSwitch, Markets, Pick,
    Reason, Requirement, Rule, Segment, SegmentSpec, Snapshot, Variant, Whitelist,
};
pub use patch::FlagPatch;
pub use problem::ProblemDetails;
pub use role::Role;
pub use validate::{
    Limits, MAX_VERSION, Problem, ValidationError, validate_context, validate_export,
    validate_flag, validate_flag_in, validate_key, validate_reason, validate_references,
    validate_segment,
};
