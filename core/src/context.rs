//! The evaluation context (docs/flags.md#the-decision): who is asking, from which market, and
//! any other attribute a constraint may compare. Read from a JSON object only, borrowing its
//! strings from the request when it can, and bounded while it is read.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// What an evaluation knows about the caller (docs/flags.md#the-decision). Borrows from the request when it can.
///
/// `targetingKey` (OFREP) is accepted for `user_id`. An empty `user_id` counts as no user, as
/// OpenFeature SDKs send `""` when no key is set. Every other key is an attribute: a string,
/// a number (kept as its JSON text) or a boolean (`"true"`/`"false"`); `null` is no attribute,
/// and arrays and objects are skipped (no constraint compares them) but still count towards
/// [`MAX_ATTRIBUTES`]. It is read from a JSON object only (never from an array, as serde's
/// derive would allow), and a context of more than [`MAX_ATTRIBUTES`] keys besides the user
/// and the market is refused while it is read, before anything is kept of the rest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context<'a> {
    /// The user being evaluated: whitelist lookups and rollout bucketing use it.
    pub user_id: Option<Cow<'a, str>>,
    /// The caller's market code, compared case-insensitively with a flag's markets.
    pub market: Option<Cow<'a, str>>,
    /// Every other attribute, in the order given.
    attributes: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The evaluator's clock, for date constraints when the context sends no `current_time`:
    /// an input like the rest, so evaluation stays pure. Never read from JSON.
    now: Option<DateTime<Utc>>,
}

/// The most attributes a context may carry besides `user_id` and `market`
/// (docs/flags.md#limits-and-safety-rules).
pub const MAX_ATTRIBUTES: usize = 100;
/// The longest attribute value, in bytes: [`crate::validate_context`] refuses a longer one, and
/// a constraint never compares one (it reads as absent), so no value is matched whole past it.
pub const MAX_ATTRIBUTE_BYTES: usize = 1024;
/// The longest attribute name, in bytes.
pub const MAX_ATTRIBUTE_NAME_BYTES: usize = 128;

impl Serialize for Context<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        if let Some(user) = &self.user_id {
            map.serialize_entry("user_id", user)?;
        }
        if let Some(market) = &self.market {
            map.serialize_entry("market", market)?;
        }
        for (name, value) in &self.attributes {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Context<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Visitor};

        struct Object<'a>(std::marker::PhantomData<Context<'a>>);
        impl<'de: 'a, 'a> Visitor<'de> for Object<'a> {
            type Value = Context<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of context attributes")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Context<'a>, M::Error> {
                let mut ctx = Context::default();
                let mut others = 0usize;
                while let Some(Borrowed(name)) = map.next_key::<Borrowed<'a>>()? {
                    let slot = match &*name {
                        "user_id" | "targetingKey" => &mut ctx.user_id,
                        "market" => &mut ctx.market,
                        _ => {
                            others += 1;
                            if others > MAX_ATTRIBUTES {
                                return Err(de::Error::custom(format_args!(
                                    "more than {MAX_ATTRIBUTES} context attributes"
                                )));
                            }
                            if let Some(Scalar(value)) = map.next_value::<Option<Scalar<'a>>>()? {
                                ctx.attributes.push((name, value));
                            }
                            continue;
                        }
                    };
                    if slot.is_some() {
                        return Err(de::Error::custom(
                            "user_id and targetingKey (or market) given twice",
                        ));
                    }
                    *slot = map.next_value::<Option<Borrowed<'a>>>()?.map(|b| b.0);
                }
                Ok(ctx)
            }
        }
        d.deserialize_map(Object(std::marker::PhantomData))
    }
}

/// An attribute's value as a constraint reads it: a string (borrowed when it can be), a
/// number as its JSON text, a boolean as `"true"`/`"false"`, and `""` for an array or an
/// object (skipped whole, never compared: see [`Context::attribute_value`]).
struct Scalar<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

        struct Value<'a>(std::marker::PhantomData<Scalar<'a>>);
        impl<'de: 'a, 'a> Visitor<'de> for Value<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an attribute value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'a>, E> {
                Ok(Scalar(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'a>, E> {
                Ok(Scalar(Cow::Owned(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'a>, E> {
                Ok(Scalar(Cow::Borrowed(if v { "true" } else { "false" })))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'a>, E> {
                Ok(Scalar(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'a>, E> {
                Ok(Scalar(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'a>, E> {
                Ok(Scalar(Cow::Owned(v.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar(Cow::Borrowed(SKIPPED)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar(Cow::Borrowed(SKIPPED)))
            }
        }
        d.deserialize_any(Value(std::marker::PhantomData))
    }
}

/// What an array or object attribute is kept as: a marker no constraint ever compares.
const SKIPPED: &str = "\u{0}[skipped]";

/// A string that borrows from the input when it has no escapes (serde's own `Cow<str>`
/// always copies).
#[derive(Deserialize)]
struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'a> Context<'a> {
    /// An empty context: no user, no market.
    pub fn new() -> Self {
        Context::default()
    }

    /// The same context for `user`.
    pub fn user(mut self, user: impl Into<Cow<'a, str>>) -> Self {
        self.user_id = Some(user.into());
        self
    }

    /// The same context in `market`.
    pub fn market(mut self, market: impl Into<Cow<'a, str>>) -> Self {
        self.market = Some(market.into());
        self
    }

    /// The user id, with `""` read as no user.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref().filter(|u| !u.is_empty())
    }

    /// The same context with attribute `name` set to `value` (replacing one given before).
    pub fn with(mut self, name: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        let (name, value) = (name.into(), value.into());
        match &*name {
            "user_id" | "targetingKey" => self.user_id = Some(value),
            "market" => self.market = Some(value),
            _ => {
                self.attributes.retain(|(n, _)| *n != name);
                self.attributes.push((name, value));
            }
        }
        self
    }

    /// The attributes besides `user_id` and `market`, in the order given (arrays and
    /// objects, which no constraint compares, are left out).
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attributes
            .iter()
            .filter(|(_, v)| v != SKIPPED)
            .map(|(n, v)| (&**n, &**v))
    }

    /// How many attributes it carries besides `user_id` and `market`.
    pub fn attribute_count(&self) -> usize {
        self.attributes.len()
    }

    /// The value a constraint compares for attribute `name`: `user_id` (or `targetingKey`),
    /// `market`, or any other attribute; `None` when absent, an array or an object, or over
    /// [`MAX_ATTRIBUTE_BYTES`] (so no constraint ever matches a value whole past the limit).
    pub fn attribute_value(&self, name: &str) -> Option<&str> {
        let value = match name {
            "user_id" | "targetingKey" => self.user_id(),
            "market" => self.market.as_deref(),
            _ => self
                .attributes
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| &**v)
                .filter(|v| *v != SKIPPED),
        };
        value.filter(|v| v.len() <= MAX_ATTRIBUTE_BYTES)
    }

    /// The same context evaluated at `now` (the evaluator's clock; see [`Context::now`]).
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// The clock date constraints fall back on when the context sends no `current_time`;
    /// `None` (the default): they compare only a time the context sends. An evaluator sets
    /// it (with [`Context::at`]) when its snapshot [uses the clock](crate::Snapshot::uses_clock).
    pub fn now(&self) -> Option<DateTime<Utc>> {
        self.now
    }

    /// A copy that owns its strings, to keep past the request it came from.
    pub fn into_owned(self) -> Context<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        Context {
            user_id: self.user_id.map(own),
            market: self.market.map(own),
            attributes: self
                .attributes
                .into_iter()
                .map(|(n, v)| (own(n), own(v)))
                .collect(),
            now: self.now,
        }
    }
}

impl crate::constraint::Attributes for Context<'_> {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attribute_value(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_borrows_plain_strings_and_reads_targeting_key() {
        let body = r#"{"targetingKey":"u-1","market":"fr","plan":"pro"}"#;
        let ctx: Context<'_> = serde_json::from_str(body).unwrap();
        assert!(matches!(ctx.user_id, Some(Cow::Borrowed("u-1"))));
        assert_eq!(ctx.market.as_deref(), Some("fr"));
        let escaped: Context<'_> = serde_json::from_str(r#"{"user_id":"a\"b"}"#).unwrap();
        assert_eq!(escaped.user_id(), Some("a\"b"));
        assert_eq!(Context::new().user("").user_id(), None);
        // An object only: serde's derive would read `["u1", "FR"]` as a context.
        assert!(serde_json::from_str::<Context<'_>>(r#"["u1","FR"]"#).is_err());
        assert!(
            serde_json::from_str::<Context<'_>>(r#"{"user_id":"a","targetingKey":"b"}"#).is_err()
        );
        let null: Context<'_> = serde_json::from_str(r#"{"user_id":null,"x":null}"#).unwrap();
        assert_eq!(null, Context::new());
    }

    #[test]
    fn other_keys_are_attributes_bounded_while_read() {
        use crate::constraint::Attributes;
        let body = r#"{"user_id":"u","plan":"pro","age":42,"beta":true,"tags":["a"],"nested":{"a":1},"ratio":0.5}"#;
        let ctx: Context<'_> = serde_json::from_str(body).unwrap();
        assert_eq!(ctx.attribute("plan"), Some("pro"));
        assert_eq!(ctx.attribute("age"), Some("42"));
        assert_eq!(ctx.attribute("beta"), Some("true"));
        assert_eq!(ctx.attribute("ratio"), Some("0.5"));
        assert_eq!(ctx.attribute("tags"), None, "arrays are never compared");
        assert_eq!(ctx.attribute("nested"), None);
        assert_eq!(ctx.attribute("targetingKey"), Some("u"));
        assert_eq!(ctx.attribute_count(), 6);
        assert_eq!(ctx.attributes().count(), 4);
        let text = serde_json::to_string(&ctx).unwrap();
        let round: Context<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(round.attribute("age"), Some("42"));
        assert_eq!(round.user_id(), Some("u"));

        let many: String = (0..=MAX_ATTRIBUTES)
            .map(|i| format!("\"a{i}\":1"))
            .collect::<Vec<_>>()
            .join(",");
        let e = serde_json::from_str::<Context<'_>>(&format!("{{{many}}}")).unwrap_err();
        assert!(
            e.to_string().contains("more than 100 context attributes"),
            "{e}"
        );
        let just: String = (0..MAX_ATTRIBUTES)
            .map(|i| format!("\"a{i}\":1"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(
            serde_json::from_str::<Context<'_>>(&format!("{{{just},\"user_id\":\"u\"}}")).is_ok()
        );

        let long = "x".repeat(MAX_ATTRIBUTE_BYTES + 1);
        let ctx = Context::new()
            .with("plan", long.as_str())
            .with("plan", "pro")
            .with("big", long.as_str());
        assert_eq!(
            ctx.attribute("plan"),
            Some("pro"),
            "the last value given wins"
        );
        assert_eq!(ctx.attribute("big"), None, "over the limit, never compared");
    }
}
