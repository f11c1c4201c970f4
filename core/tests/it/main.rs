//! Integration tests of switchyard-core: conformance with Unleash's client specification
//! and the properties SPEC §2 says tests must pin.

mod conformance;
mod impact;
mod properties;
