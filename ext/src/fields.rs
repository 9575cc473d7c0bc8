//! JSON objects of options read by serde: one struct per kind of object,
//! whose fields are its known keys (`deny_unknown_fields`), each holding
//! the value as given. Callers check the values afterwards, in the struct's
//! order, with the check of each value's kind (a duration, a time, a
//! name...), so the struct is the one list of keys: an unknown key's
//! message lists them from it.
//!
//! Which error wins: an unknown key, wherever it stands (it is the likelier
//! typo, and its message lists what was meant), then the values in the
//! struct's order, not the object's.

use std::cell::Cell;

use serde::de::{self, Deserialize, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// A key's value as given, JSON null included (serde's `Option` would read
/// a null as an absent key, and some keys give null a meaning of its own).
#[derive(Debug)]
pub struct Given<T = Value>(pub Option<T>);

impl<T> Default for Given<T> {
    fn default() -> Self {
        Given(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Given<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|v| Given(Some(v)))
    }
}

/// Why an object could not be read.
#[derive(Debug)]
pub enum Problem {
    NotJson(serde_json::Error),
    NotObject,
    /// The first key the struct does not know, and the keys it knows.
    Unknown {
        key: String,
        known: String,
    },
    Twice(String),
}

/// Reads the object in `text` into `T`.
pub fn parse<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, Problem> {
    // A struct would also read an array, by position: only objects here.
    if !text.trim_start().starts_with('{') {
        return Err(match serde_json::from_str::<IgnoredAny>(text) {
            Err(e) => Problem::NotJson(e),
            Ok(_) => Problem::NotObject,
        });
    }
    serde_json::from_str(text).map_err(|e| diagnose::<T>(text, e))
}

/// Reads an object already parsed (a member of another) into `T`.
pub fn read<'a, T: Deserialize<'a>>(v: &'a Value) -> Result<T, Problem> {
    let Value::Object(map) = v else { return Err(Problem::NotObject) };
    T::deserialize(v).map_err(|e| match map.keys().find(|k| !keys_of::<T>().contains(&k.as_str())) {
        Some(key) => unknown::<T>(key),
        None => Problem::NotJson(e),
    })
}

/// What went wrong, found again on the error path only: the parse that
/// failed stops at the first problem, not necessarily the one to report
/// (invalid JSON after an unknown key is still invalid JSON).
fn diagnose<'a, T: Deserialize<'a>>(text: &str, e: serde_json::Error) -> Problem {
    if let Err(e) = serde_json::from_str::<IgnoredAny>(text) {
        return Problem::NotJson(e);
    }
    let Ok(KeysInOrder(keys)) = serde_json::from_str(text) else { return Problem::NotObject };
    let known = keys_of::<T>();
    if let Some(key) = keys.iter().find(|k| !known.contains(&k.as_str())) {
        return unknown::<T>(key);
    }
    match keys.iter().enumerate().find(|(i, k)| keys[..*i].contains(k)) {
        Some((_, key)) => Problem::Twice(key.clone()),
        None => Problem::NotJson(e),
    }
}

fn unknown<'a, T: Deserialize<'a>>(key: &str) -> Problem {
    Problem::Unknown { key: key.to_string(), known: keys_of::<T>().join(", ") }
}

/// An object's keys, in order, duplicates kept.
struct KeysInOrder(Vec<String>);

impl<'de> Deserialize<'de> for KeysInOrder {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = KeysInOrder;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<KeysInOrder, M::Error> {
                let mut keys = Vec::new();
                while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    keys.push(key);
                }
                Ok(KeysInOrder(keys))
            }
        }
        d.deserialize_map(Keys)
    }
}

/// The keys of a struct, as serde's derive lists them for its deserializer.
fn keys_of<'a, T: Deserialize<'a>>() -> &'static [&'static str] {
    let keys = Cell::new(&[][..]);
    let _ = T::deserialize(KeyLister(&keys));
    keys.get()
}

/// A deserializer that only notes the fields a struct asks for.
struct KeyLister<'c>(&'c Cell<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for KeyLister<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only structs list their keys"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.set(fields);
        Err(de::Error::custom("keys listed"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default, Debug)]
    #[serde(default, deny_unknown_fields)]
    struct Two {
        a: Given,
        b: Given,
    }

    #[test]
    fn reads_given_values_null_included() {
        let t: Two = parse(r#"{"b": null}"#).unwrap();
        assert_eq!((t.a.0, t.b.0), (None, Some(Value::Null)));
        let t: Two = read(&serde_json::json!({"a": [1]})).unwrap();
        assert_eq!(t.a.0, Some(serde_json::json!([1])));
    }

    #[test]
    fn names_the_problem() {
        let problem = |text: &str| format!("{:?}", parse::<Two>(text).unwrap_err());
        assert_eq!(keys_of::<Two>(), ["a", "b"]);
        // The unknown key wins wherever it stands; invalid JSON wins over it.
        assert!(problem(r#"{"a": 1, "c": 2, "b": 3}"#).contains(r#"Unknown { key: "c", known: "a, b" }"#));
        assert!(problem(r#"{"c": 1, "a""#).starts_with("NotJson"));
        assert!(problem(r#"{"a": 1, "a": 2}"#).contains(r#"Twice("a")"#));
        assert!(problem("[1, 2]").starts_with("NotObject"));
        assert!(problem("[1, 2").starts_with("NotJson"));
        assert!(problem(" 5").starts_with("NotObject"));
        let read = |v: Value| format!("{:?}", read::<Two>(&v).unwrap_err());
        assert!(read(serde_json::json!([1])).starts_with("NotObject"));
        assert!(read(serde_json::json!({"z": 1})).contains(r#"key: "z""#));
    }
}
