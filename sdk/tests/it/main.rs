//! Integration tests of switchyard-sdk against a real Switchyard server over HTTP.

mod bootstrap;
mod helpers;
mod impact;
#[cfg(feature = "openfeature")]
mod openfeature;
mod updates;
mod values;
