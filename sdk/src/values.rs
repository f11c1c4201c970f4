//! Typed getters: what a flag serves beyond on/off (docs/flags.md#values-rules-segments-and-prerequisites),
//! read as the type the app asks for. A boolean flag serves `true`/`false`; a flag with
//! variants serves one variant's value, or its `off_value` when off. Asking a type the flag
//! does not serve, an unknown flag, or no data yet gives the caller's default: never a panic,
//! never a block.

use serde_json::Value;
use switchyard_core::openfeature::{self, OpenFeatureReason};
use switchyard_core::{Context, Decision, Reason};

use crate::client::Client;

/// Everything one evaluation served: the value, the variant's name, the rule that decided
/// and the decision with its reasons. May grow.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub struct Resolution {
    /// The value served (`true`/`false` for a boolean flag).
    pub value: Value,
    /// The variant's name: a variant's, or `on`/`off`.
    pub variant: String,
    /// The rule that decided, when one did.
    pub rule: Option<String>,
    /// The decision (on or off, Switchyard's reason, the flag's version).
    pub decision: Decision,
    /// The decision's reason in OpenFeature's vocabulary.
    pub reason: OpenFeatureReason,
}

impl Client {
    /// What `flag` serves `ctx`, whole; `None` when the flag is unknown or no data is loaded
    /// (the decision's reason, `FLAG_NOT_FOUND` or `NO_DATA`, is then in `Err`).
    pub fn resolve(&self, flag: &str, ctx: &Context<'_>) -> Result<Resolution, Reason> {
        self.decide(flag, ctx, |found, decision| {
            let found = found.ok_or(decision.reason)?;
            Ok(Resolution {
                value: found.value(decision).clone(),
                variant: found.variant_name(decision).to_owned(),
                rule: found.rule_name(decision).map(str::to_owned),
                decision: *decision,
                reason: openfeature::reason_of(decision, Some(found)),
            })
        })
    }

    /// The value `flag` serves `ctx` when it is a boolean (a boolean flag's on/off, or a
    /// variant's boolean value); else `default`.
    pub fn bool_value(&self, flag: &str, ctx: &Context<'_>, default: bool) -> bool {
        self.read_value(flag, ctx, |v| v.as_bool())
            .unwrap_or(default)
    }

    /// The value `flag` serves `ctx` when it is a string; else `default`.
    pub fn string_value(&self, flag: &str, ctx: &Context<'_>, default: &str) -> String {
        self.read_value(flag, ctx, |v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| default.to_owned())
    }

    /// The value `flag` serves `ctx` when it is a number; else `default`.
    pub fn number_value(&self, flag: &str, ctx: &Context<'_>, default: f64) -> f64 {
        self.read_value(flag, ctx, Value::as_f64).unwrap_or(default)
    }

    /// The value `flag` serves `ctx`, of any JSON type; `default` when the flag is unknown or
    /// no data is loaded.
    pub fn json_value(&self, flag: &str, ctx: &Context<'_>, default: Value) -> Value {
        self.read_value(flag, ctx, |v| Some(v.clone()))
            .unwrap_or(default)
    }

    /// The name of the variant `flag` serves `ctx` (`on`/`off` for a boolean flag); `None`
    /// when the flag is unknown or no data is loaded.
    pub fn variant(&self, flag: &str, ctx: &Context<'_>) -> Option<String> {
        self.decide(flag, ctx, |found, d| {
            found.map(|f| f.variant_name(d).to_owned())
        })
    }

    /// `read` applied to the value `flag` serves `ctx`, borrowed (nothing is copied but what
    /// `read` keeps); `None` when the flag is unknown or no data is loaded.
    fn read_value<T>(
        &self,
        flag: &str,
        ctx: &Context<'_>,
        read: impl FnOnce(&Value) -> Option<T>,
    ) -> Option<T> {
        self.decide(flag, ctx, |found, d| read(found?.value(d)))
    }
}
