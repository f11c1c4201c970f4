//! The evaluation context (docs/flags.md#the-decision): who is asking, and from which market. Read from a JSON
//! object only, borrowing its strings from the request when it can.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};

/// What an evaluation knows about the caller (docs/flags.md#the-decision). Borrows from the request when it can.
///
/// `targetingKey` (OFREP) is accepted for `user_id`; other attributes are ignored. An empty
/// `user_id` counts as no user, as OpenFeature SDKs send `""` when no key is set. It is read
/// from a JSON object only (never from an array, as serde's derive would allow).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Context<'a> {
    /// The user being evaluated: whitelist lookups and rollout bucketing use it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Cow<'a, str>>,
    /// The caller's market code, compared case-insensitively with a flag's markets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Context<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, IgnoredAny, MapAccess, Visitor};

        /// A context's keys, told apart without copying them.
        enum Field {
            User,
            Market,
            Other,
        }
        impl<'de> Deserialize<'de> for Field {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Names;
                impl Visitor<'_> for Names {
                    type Value = Field;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a context attribute name")
                    }
                    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                        Ok(match name {
                            "user_id" | "targetingKey" => Field::User,
                            "market" => Field::Market,
                            _ => Field::Other,
                        })
                    }
                }
                d.deserialize_identifier(Names)
            }
        }

        struct Object<'a>(std::marker::PhantomData<Context<'a>>);
        impl<'de: 'a, 'a> Visitor<'de> for Object<'a> {
            type Value = Context<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of context attributes")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Context<'a>, M::Error> {
                let mut ctx = Context::default();
                while let Some(field) = map.next_key::<Field>()? {
                    let slot = match field {
                        Field::User => &mut ctx.user_id,
                        Field::Market => &mut ctx.market,
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
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

    /// A copy that owns its strings, to keep past the request it came from.
    pub fn into_owned(self) -> Context<'static> {
        Context {
            user_id: self.user_id.map(|u| Cow::Owned(u.into_owned())),
            market: self.market.map(|m| Cow::Owned(m.into_owned())),
        }
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
        let null: Context<'_> = serde_json::from_str(r#"{"user_id":null,"x":[1]}"#).unwrap();
        assert_eq!(null, Context::new());
    }
}
