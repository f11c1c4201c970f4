//! Serde helpers the wire types share (a leaf: it depends on nothing else in the crate).

use serde::{Deserialize, Deserializer};

/// For an `Option<Option<T>>` field with `#[serde(default)]`: a field that is there, even as
/// `null`, is `Some` (`Some(None)` for `null`); a field that is absent stays `None`. This is
/// how a patch tells "clear it" from "leave it".
pub(crate) fn present<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
