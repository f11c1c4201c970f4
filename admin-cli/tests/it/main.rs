//! Integration tests of the `switchyard` binary against a real server over HTTP.

mod commands;
mod docs;
mod errors;
mod fleet;
mod helpers;
mod plan;
mod targeting;
