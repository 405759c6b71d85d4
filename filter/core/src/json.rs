//! Strict JSON for untrusted input: token headers and claims, key sets, discovery documents.
//!
//! On top of RFC 8259 syntax (which serde_json enforces) it refuses duplicate member names at any
//! depth (RFC 7515 §4 and RFC 7519 §4 require it: two parsers must never disagree on which `sub`
//! or `alg` counts) and nesting deeper than [`MAX_JSON_DEPTH`]. The depth is counted while
//! building the value, one level per array or object, so parsing stops long before serde_json's
//! own recursion limit (128) or the stack could be reached. It does not interpret the values.

use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Deepest nesting of arrays and objects accepted. Real headers, claims and key sets nest at most
/// four or five levels; 32 leaves room for odd claim shapes while keeping recursion shallow.
pub const MAX_JSON_DEPTH: usize = 32;

/// Longest member name echoed back in [`JsonError::DuplicateKey`], so an error never carries a
/// large chunk of untrusted input into logs.
const MAX_REPORTED_KEY_CHARS: usize = 64;

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not RFC 8259 JSON (the message gives a position, never content).
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// The same member name appears twice in one object.
    #[error("duplicate member name {0:?}")]
    DuplicateKey(String),
    /// Arrays and objects nest deeper than [`MAX_JSON_DEPTH`].
    #[error("JSON nested deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
    /// Well-formed JSON, but the top level is not an object.
    #[error("JSON document is not an object")]
    NotAnObject,
}

/// Parses a document that must be a JSON object.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    match parse_value(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotAnObject),
    }
}

/// Parses any JSON value under the strict rules above.
pub fn parse_value(bytes: &[u8]) -> Result<Value, JsonError> {
    let violation = Cell::new(None);
    let seed = StrictValue {
        depth: 0,
        violation: &violation,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match (parsed, violation.take()) {
        // A violation recorded by the visitor explains the error better than serde_json's text.
        (_, Some(violation)) => Err(violation),
        (Ok(value), None) => Ok(value),
        (Err(e), None) => Err(JsonError::Syntax(e.to_string())),
    }
}

/// Builds a `Value` one level at a time, refusing duplicates and excess depth as it goes.
/// `violation` carries our own error out past serde_json, which only knows string errors.
#[derive(Clone, Copy)]
struct StrictValue<'v> {
    depth: usize,
    violation: &'v Cell<Option<JsonError>>,
}

impl StrictValue<'_> {
    fn fail<E: serde::de::Error>(self, why: JsonError) -> E {
        let message = why.to_string();
        self.violation.set(Some(why));
        E::custom(message)
    }

    /// The seed for the members of a container, or an error if that would be too deep.
    fn enter<E: serde::de::Error>(self) -> Result<Self, E> {
        let depth = self.depth + 1;
        if depth > MAX_JSON_DEPTH {
            return Err(self.fail(JsonError::TooDeep));
        }
        Ok(StrictValue { depth, ..self })
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON text cannot spell NaN or infinity, so `from` never maps this to null.
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.enter()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.enter()?;
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                let shown: String = name.chars().take(MAX_REPORTED_KEY_CHARS).collect();
                return Err(self.fail(JsonError::DuplicateKey(shown)));
            }
            let value = map.next_value_seed(inner)?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_arrays(depth: usize) -> Vec<u8> {
        let mut doc = "[".repeat(depth).into_bytes();
        doc.extend(std::iter::repeat_n(b']', depth));
        doc
    }

    #[test]
    fn accepts_nesting_exactly_at_the_limit() {
        assert!(parse_value(&nested_arrays(MAX_JSON_DEPTH)).is_ok());
    }

    #[test]
    fn refuses_nesting_one_level_past_the_limit() {
        assert_eq!(
            parse_value(&nested_arrays(MAX_JSON_DEPTH + 1)),
            Err(JsonError::TooDeep)
        );
    }

    #[test]
    fn refuses_nesting_past_serde_json_recursion_limit_as_too_deep() {
        assert_eq!(parse_value(&nested_arrays(200)), Err(JsonError::TooDeep));
    }

    #[test]
    fn refuses_ten_thousand_nested_objects_without_overflowing_the_stack() {
        let doc = "{\"a\":".repeat(10_000);
        assert_eq!(parse_value(doc.as_bytes()), Err(JsonError::TooDeep));
    }

    #[test]
    fn refuses_duplicate_names_at_the_top_level() {
        assert_eq!(
            parse_object(br#"{"sub":"a","sub":"b"}"#),
            Err(JsonError::DuplicateKey("sub".into()))
        );
    }

    #[test]
    fn refuses_duplicate_names_deep_inside_arrays() {
        let doc = br#"{"a":[1,{"b":{"c":1,"c":2}}]}"#;
        assert_eq!(parse_object(doc), Err(JsonError::DuplicateKey("c".into())));
    }

    #[test]
    fn refuses_duplicates_spelled_with_escapes() {
        let doc = br#"{"alg":"RS256","\u0061lg":"none"}"#;
        assert_eq!(
            parse_object(doc),
            Err(JsonError::DuplicateKey("alg".into()))
        );
    }

    #[test]
    fn truncates_a_long_duplicate_name_in_the_error() {
        let name = "k".repeat(1000);
        let doc = format!(r#"{{"{name}":1,"{name}":2}}"#);
        let Err(JsonError::DuplicateKey(shown)) = parse_object(doc.as_bytes()) else {
            panic!("expected a duplicate-key error");
        };
        assert_eq!(shown.len(), MAX_REPORTED_KEY_CHARS);
    }

    #[test]
    fn allows_the_same_name_in_sibling_objects() {
        let map = parse_object(br#"{"a":{"x":1},"b":{"x":2}}"#).unwrap();
        assert_eq!(map["b"]["x"], 2);
    }

    #[test]
    fn refuses_arrays_where_an_object_is_required() {
        assert_eq!(parse_object(b"[1,2]"), Err(JsonError::NotAnObject));
    }

    #[test]
    fn refuses_trailing_garbage_and_bad_syntax() {
        assert!(matches!(parse_value(b"{} x"), Err(JsonError::Syntax(_))));
        assert!(matches!(parse_value(b"{'a':1}"), Err(JsonError::Syntax(_))));
        assert!(matches!(parse_value(b""), Err(JsonError::Syntax(_))));
        assert!(matches!(
            parse_value(br#"{"a":"\ud800"}"#),
            Err(JsonError::Syntax(_))
        ));
    }

    #[test]
    fn keeps_every_scalar_type() {
        let v = parse_value(br#"[null,true,-1,18446744073709551615,1.5,"s"]"#).unwrap();
        assert_eq!(
            v,
            serde_json::json!([null, true, -1, 18446744073709551615u64, 1.5, "s"])
        );
    }
}
