//! Integration tests of switchyard-core: conformance with Unleash's client specification
//! and the properties docs/flags.md#the-decision says tests must pin.

mod conformance;
mod features;
mod impact;
mod properties;
mod targeting;
mod vectors;
