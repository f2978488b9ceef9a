//! Duplicate member names in JSON, found however they are spelled.
//!
//! RFC 8259 §4 leaves duplicate names undefined and serde_json keeps the last one, so
//! `{"alg":"none","al\u0067":"EdDSA"}` would read as EdDSA to one parser and `none` to
//! another. A signed record whose members can be read two ways is not trustworthy:
//! `issuer-protocol.md` §3 verifiers refuse the protected header, the envelope or the
//! payload when any object in it names a member twice. Names are compared after JSON
//! unescaping, so `\u` escapes cannot hide a duplicate.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Checks that no object anywhere in `bytes` names a member twice.
///
/// `Err` carries the duplicated name (unescaped), or serde_json's message when the text
/// is not JSON at all (nesting deeper than serde_json's limit of 128 is such an error).
pub fn check_no_duplicate_members(bytes: &[u8]) -> Result<(), DuplicateError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Unique
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| {
            let text = e.to_string();
            match text.strip_prefix(DUPLICATE_PREFIX) {
                Some(rest) => DuplicateError::Duplicate(
                    rest.split(" at line ").next().unwrap_or(rest).to_owned(),
                ),
                None => DuplicateError::NotJson(text),
            }
        })
}

/// Why [`check_no_duplicate_members`] refused a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DuplicateError {
    /// The member name that appears twice in one object.
    Duplicate(String),
    /// The text is not JSON; serde_json's message.
    NotJson(String),
}

const DUPLICATE_PREFIX: &str = "duplicate member: ";

/// A value of any shape whose objects are checked on the way through.
struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unique)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        // Keys arrive unescaped (serde_json decodes `\u` escapes), as `String` or `&str`.
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("{DUPLICATE_PREFIX}{key}")));
            }
            map.next_value_seed(Unique)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_at_any_depth_and_in_any_spelling() {
        assert_eq!(
            check_no_duplicate_members(br#"{"a":1,"b":[{"c":2}]}"#),
            Ok(())
        );
        assert_eq!(
            check_no_duplicate_members(br#"{"alg":"none","al\u0067":"EdDSA"}"#),
            Err(DuplicateError::Duplicate("alg".into()))
        );
        assert_eq!(
            check_no_duplicate_members(br#"{"x":{"kind":1,"k\u0069nd":2}}"#),
            Err(DuplicateError::Duplicate("kind".into()))
        );
        assert_eq!(
            check_no_duplicate_members(br#"[{"a":1},{"a":1,"a":2}]"#),
            Err(DuplicateError::Duplicate("a".into()))
        );
    }

    #[test]
    fn text_that_is_not_json_says_so() {
        assert!(matches!(
            check_no_duplicate_members(b"{\"a\":"),
            Err(DuplicateError::NotJson(_))
        ));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            check_no_duplicate_members(deep.as_bytes()),
            Err(DuplicateError::NotJson(_))
        ));
    }
}
