//! Constraints on any context attribute: `{"attribute", "operator", "values" | "value",
//! "case_insensitive", "inverted"}`, with Unleash's operators and their semantics: the
//! building block of a flag's rules and of segments.
//!
//! - `IN`, `NOT_IN`: the attribute is (not) one of `values`, looked up in a set; an absent
//!   attribute is in no list.
//! - `STR_CONTAINS`, `STR_STARTS_WITH`, `STR_ENDS_WITH`: against any of `values`.
//! - `NUM_EQ`, `NUM_GT`, `NUM_GTE`, `NUM_LT`, `NUM_LTE`: the attribute read as a number
//!   against `value`; an attribute that is no number matches nothing.
//! - `DATE_AFTER`, `DATE_BEFORE`: the attribute (normally `current_time`, RFC 3339) against
//!   `value`; a context without `current_time` is compared at the evaluator's clock.
//! - `SEMVER_EQ`, `SEMVER_GT`, `SEMVER_GTE`, `SEMVER_LT`, `SEMVER_LTE`: semantic versions, pre-releases ordered as the
//!   semver specification orders them.
//! - `REGEX`: `value` matches anywhere in the attribute.
//! - `case_insensitive` folds both sides (string and list operators, `REGEX`); `inverted`
//!   turns the result over.
//!
//! Pure: the time the date operators compare with is an input,
//! and regular expressions run on a linear-time engine (the `regex` crate: no input can make
//! it backtrack). A constraint is checked whole when it is built ([`Constraint::new`]), so
//! matching never fails: an unknown operator, a pattern that does not compile or a value
//! that is not a number, a date or a version is refused then, with the reason.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most values one constraint may list.
pub const MAX_VALUES: usize = 10_000;
/// The longest regular expression, in bytes.
pub const MAX_PATTERN_BYTES: usize = 512;
/// The compiled size a regular expression may reach (the `regex` crate's own bound).
const MAX_REGEX_SIZE: usize = 1 << 20;

/// How a constraint compares an attribute with its values.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    /// The attribute is one of the values.
    In,
    /// The attribute is none of the values (or absent).
    NotIn,
    /// The attribute contains one of the values.
    StrContains,
    /// The attribute starts with one of the values.
    StrStartsWith,
    /// The attribute ends with one of the values.
    StrEndsWith,
    /// The attribute, as a number, equals the value.
    NumEq,
    /// … is greater than the value.
    NumGt,
    /// … is greater than or equal to the value.
    NumGte,
    /// … is less than the value.
    NumLt,
    /// … is less than or equal to the value.
    NumLte,
    /// The context's `current_time` (else the evaluator's clock) is after the value.
    DateAfter,
    /// … is before the value.
    DateBefore,
    /// The attribute, as a semantic version, equals the value.
    SemverEq,
    /// … is greater than the value.
    SemverGt,
    /// … is greater than or equal to the value.
    SemverGte,
    /// … is less than the value.
    SemverLt,
    /// … is less than or equal to the value.
    SemverLte,
    /// The attribute matches the value, a regular expression (anywhere in it).
    Regex,
}

impl Operator {
    /// Every operator, with its name on the wire.
    pub const ALL: [(Operator, &'static str); 18] = [
        (Operator::In, "IN"),
        (Operator::NotIn, "NOT_IN"),
        (Operator::StrContains, "STR_CONTAINS"),
        (Operator::StrStartsWith, "STR_STARTS_WITH"),
        (Operator::StrEndsWith, "STR_ENDS_WITH"),
        (Operator::NumEq, "NUM_EQ"),
        (Operator::NumGt, "NUM_GT"),
        (Operator::NumGte, "NUM_GTE"),
        (Operator::NumLt, "NUM_LT"),
        (Operator::NumLte, "NUM_LTE"),
        (Operator::DateAfter, "DATE_AFTER"),
        (Operator::DateBefore, "DATE_BEFORE"),
        (Operator::SemverEq, "SEMVER_EQ"),
        (Operator::SemverGt, "SEMVER_GT"),
        (Operator::SemverGte, "SEMVER_GTE"),
        (Operator::SemverLt, "SEMVER_LT"),
        (Operator::SemverLte, "SEMVER_LTE"),
        (Operator::Regex, "REGEX"),
    ];

    /// The name on the wire: `IN`, `STR_STARTS_WITH`, …
    pub fn as_str(self) -> &'static str {
        Operator::ALL
            .iter()
            .find(|(op, _)| *op == self)
            .map_or("?", |(_, name)| name)
    }

    /// Whether it compares with a list (`values`) rather than one `value`.
    pub fn takes_list(self) -> bool {
        matches!(
            self,
            Operator::In
                | Operator::NotIn
                | Operator::StrContains
                | Operator::StrStartsWith
                | Operator::StrEndsWith
        )
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operator {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Operator::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(op, _)| *op)
            .ok_or_else(|| {
                let known: Vec<&str> = Operator::ALL.iter().map(|(_, n)| *n).collect();
                format!("unknown operator {name:?}: use one of {}", known.join(", "))
            })
    }
}

/// A constraint as written: what the wire carries and the store keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstraintSpec {
    /// The context attribute (`user_id`, `market`, or any other the caller sends).
    pub attribute: String,
    /// The operator's name, e.g. `IN`.
    pub operator: String,
    /// The list the list operators compare with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// The one value the other operators compare with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Compare strings without regard to case.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub case_insensitive: bool,
    /// Match when the comparison fails, and the other way round.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inverted: bool,
}

/// What a constraint compares with, parsed once.
#[derive(Clone, Debug)]
enum Against {
    /// `IN` and `NOT_IN`: a set, so a lookup costs the same over 10 values or 10,000.
    Set(HashSet<String, foldhash::fast::RandomState>),
    /// The string operators' list (lower-cased when case-insensitive).
    Strings(Vec<String>),
    Number(f64),
    Date(DateTime<Utc>),
    Version(semver::Version),
    Pattern(regex::Regex),
    /// What [`Constraint::new`] refused, kept by a lenient read (a newer server's operator
    /// in an older SDK's snapshot): it matches nothing, and a write refuses it.
    Refused(String),
}

/// A constraint, checked and ready to match: built from its [`ConstraintSpec`] by
/// [`Constraint::new`], which refuses what could not match sensibly.
#[derive(Clone, Debug)]
pub struct Constraint {
    spec: ConstraintSpec,
    operator: Operator,
    against: Against,
}

impl PartialEq for Constraint {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl Eq for Constraint {}

/// Where a constraint reads the attribute it compares.
pub trait Attributes {
    /// The attribute `name`'s value, if the context has it.
    fn attribute(&self, name: &str) -> Option<&str>;
}

impl Constraint {
    /// Checks `spec` and prepares it; the error says what is wrong, for the field's problem.
    pub fn new(spec: ConstraintSpec) -> Result<Self, String> {
        let operator: Operator = spec.operator.parse()?;
        if spec.attribute.is_empty() {
            return Err("a constraint needs an attribute".into());
        }
        let one = || {
            spec.value
                .as_deref()
                .or(match spec.values.as_slice() {
                    [only] => Some(only.as_str()),
                    _ => None,
                })
                .ok_or_else(|| format!("{operator} compares with one value: give \"value\""))
        };
        if spec.values.len() > MAX_VALUES {
            return Err(format!(
                "{} values; the limit is {MAX_VALUES}",
                spec.values.len()
            ));
        }
        if operator.takes_list() && spec.value.is_some() {
            return Err(format!("{operator} compares with a list: give \"values\""));
        }
        let fold = |s: &str| {
            if spec.case_insensitive {
                s.to_lowercase()
            } else {
                s.to_owned()
            }
        };
        let against = match operator {
            Operator::In | Operator::NotIn => {
                Against::Set(spec.values.iter().map(|v| fold(v)).collect())
            }
            Operator::StrContains | Operator::StrStartsWith | Operator::StrEndsWith => {
                Against::Strings(spec.values.iter().map(|v| fold(v)).collect())
            }
            Operator::NumEq
            | Operator::NumGt
            | Operator::NumGte
            | Operator::NumLt
            | Operator::NumLte => {
                let text = one()?;
                let n: f64 = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("{text:?} is not a number"))?;
                if !n.is_finite() {
                    return Err(format!("{text:?} is not a finite number"));
                }
                Against::Number(n)
            }
            Operator::DateAfter | Operator::DateBefore => {
                let text = one()?;
                Against::Date(parse_date(text).ok_or_else(|| {
                    format!("{text:?} is not a date and time (RFC 3339, e.g. 2026-12-07T10:00:00Z)")
                })?)
            }
            Operator::SemverEq
            | Operator::SemverGt
            | Operator::SemverGte
            | Operator::SemverLt
            | Operator::SemverLte => {
                let text = one()?;
                Against::Version(
                    semver::Version::parse(text).map_err(|e| {
                        format!("{text:?} is not a semantic version (e.g. 2.3.0): {e}")
                    })?,
                )
            }
            Operator::Regex => {
                let text = one()?;
                if text.len() > MAX_PATTERN_BYTES {
                    return Err(format!(
                        "the pattern is {} bytes; the limit is {MAX_PATTERN_BYTES}",
                        text.len()
                    ));
                }
                let pattern = regex::RegexBuilder::new(text)
                    .case_insensitive(spec.case_insensitive)
                    .size_limit(MAX_REGEX_SIZE)
                    .build()
                    .map_err(|e| format!("the pattern does not compile: {e}"))?;
                Against::Pattern(pattern)
            }
        };
        Ok(Constraint {
            spec,
            operator,
            against,
        })
    }

    /// `spec` as [`Constraint::new`] builds it, or, when that refuses it, a constraint that
    /// matches nothing and keeps why ([`Constraint::problem`]): how a snapshot or a stored
    /// flag is read, so one constraint an older reader does not know spoils nothing else.
    pub fn lenient(spec: ConstraintSpec) -> Self {
        match Constraint::new(spec.clone()) {
            Ok(c) => c,
            Err(why) => Constraint {
                operator: spec.operator.parse().unwrap_or(Operator::In),
                spec,
                against: Against::Refused(why),
            },
        }
    }

    /// Why the constraint cannot match, when [`Constraint::new`] would refuse it.
    pub fn problem(&self) -> Option<&str> {
        match &self.against {
            Against::Refused(why) => Some(why),
            _ => None,
        }
    }

    /// The constraint as written.
    pub fn spec(&self) -> &ConstraintSpec {
        &self.spec
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// Whether `ctx` satisfies the constraint at `now` (what the date operators compare
    /// with when the context has no `current_time`; `None`: no clock, so they compare only
    /// a time the context sends). A refused constraint matches nothing, inverted or not.
    pub fn matches(&self, ctx: &(impl Attributes + ?Sized), now: Option<DateTime<Utc>>) -> bool {
        if let Against::Refused(_) = self.against {
            return false;
        }
        self.compare(ctx, now) != self.spec.inverted
    }

    /// Whether it compares cheaply: a set lookup, a string or a number comparison, against
    /// parsing the attribute (a version, a date) or running a pattern.
    pub fn is_cheap(&self) -> bool {
        matches!(
            self.against,
            Against::Set(_) | Against::Strings(_) | Against::Number(_) | Against::Refused(_)
        )
    }

    /// Whether it compares dates (and so may need the evaluator's clock).
    pub fn uses_clock(&self) -> bool {
        matches!(self.against, Against::Date(_))
    }

    fn compare(&self, ctx: &(impl Attributes + ?Sized), now: Option<DateTime<Utc>>) -> bool {
        let attribute = self.spec.attribute.as_str();
        let value = ctx.attribute(attribute);
        match (&self.against, value) {
            (Against::Refused(_), _) => false,
            (Against::Date(at), value) => {
                // The time compared: the attribute's (`current_time` as a rule), else, for
                // `current_time` alone, the evaluator's clock.
                let time = match value {
                    Some(text) => parse_date(text),
                    None if attribute == CURRENT_TIME => now,
                    None => None,
                };
                match time {
                    Some(t) if self.operator == Operator::DateAfter => t > *at,
                    Some(t) => t < *at,
                    None => false,
                }
            }
            // An absent attribute is in no list (so NOT_IN holds) and compares with nothing.
            (_, None) => self.operator == Operator::NotIn,
            (Against::Set(set), Some(value)) => {
                let found = if self.spec.case_insensitive {
                    set.contains(&value.to_lowercase())
                } else {
                    set.contains(value)
                };
                found == (self.operator == Operator::In)
            }
            (Against::Strings(list), Some(value)) => {
                let value = if self.spec.case_insensitive {
                    std::borrow::Cow::Owned(value.to_lowercase())
                } else {
                    std::borrow::Cow::Borrowed(value)
                };
                list.iter().any(|v| match self.operator {
                    Operator::StrContains => value.contains(v.as_str()),
                    Operator::StrStartsWith => value.starts_with(v.as_str()),
                    _ => value.ends_with(v.as_str()),
                })
            }
            (Against::Number(n), Some(value)) => {
                let Ok(x) = value.trim().parse::<f64>() else {
                    return false;
                };
                match self.operator {
                    Operator::NumEq => x == *n,
                    Operator::NumGt => x > *n,
                    Operator::NumGte => x >= *n,
                    Operator::NumLt => x < *n,
                    _ => x <= *n,
                }
            }
            (Against::Version(v), Some(value)) => {
                // A plain `X.Y.Z` against a plain version compares as three numbers, without
                // the parser (most of what an app sends); anything else is parsed.
                let order = match plain_version(value) {
                    Some(x) if v.pre.is_empty() && v.build.is_empty() => {
                        x.cmp(&(v.major, v.minor, v.patch))
                    }
                    _ => match semver::Version::parse(value) {
                        Ok(x) => x.cmp(v),
                        Err(_) => return false,
                    },
                };
                match self.operator {
                    Operator::SemverEq => order.is_eq(),
                    Operator::SemverGt => order.is_gt(),
                    Operator::SemverGte => order.is_ge(),
                    Operator::SemverLt => order.is_lt(),
                    _ => order.is_le(),
                }
            }
            (Against::Pattern(pattern), Some(value)) => pattern.is_match(value),
        }
    }
}

/// `X.Y.Z` of plain decimal numbers (no leading zero, no pre-release, no build), as semver
/// reads it; `None` for anything else, which the semver parser then reads (or refuses).
fn plain_version(text: &str) -> Option<(u64, u64, u64)> {
    let mut parts = text.split('.');
    let mut number = || -> Option<u64> {
        let part = parts.next()?;
        let plain = !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part == "0" || !part.starts_with('0'));
        if plain { part.parse().ok() } else { None }
    };
    let version = (number()?, number()?, number()?);
    parts.next().is_none().then_some(version)
}

/// Whether `ctx` matches every one of `constraints` (a rule's or a segment's). They are a
/// conjunction, so the order they are tried in changes no answer: the cheap ones go first,
/// and a context one of them refuses never pays for parsing a version or running a pattern.
pub fn all_match(
    constraints: &[Constraint],
    ctx: &(impl Attributes + ?Sized),
    now: Option<DateTime<Utc>>,
) -> bool {
    let (cheap, dear) = (
        |c: &&Constraint| c.is_cheap(),
        |c: &&Constraint| !c.is_cheap(),
    );
    constraints
        .iter()
        .filter(cheap)
        .all(|c| c.matches(ctx, now))
        && constraints.iter().filter(dear).all(|c| c.matches(ctx, now))
}

/// The attribute the date operators compare by default: when a context does not send it,
/// the evaluator's clock stands in.
pub const CURRENT_TIME: &str = "current_time";

/// RFC 3339, or a date alone (midnight UTC).
fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

impl Serialize for Constraint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.spec.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Constraint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Constraint::lenient(ConstraintSpec::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests;
