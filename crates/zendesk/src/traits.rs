//! Typed reading of trait and property values, with errors that name the offending key.

use crate::outcome::Error;
use serde_json::{Map, Value};

/// A text value: strings (trimmed; empty = absent) and numbers (their decimal text).
pub fn text(map: &Map<String, Value>, key: &str) -> Result<Option<String>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(Error::InvalidEvent(format!("`{key}` must be a string"))),
    }
}

/// The first of `keys` that has a text value.
pub fn first_text(map: &Map<String, Value>, keys: &[&str]) -> Result<Option<String>, Error> {
    for key in keys {
        if let Some(value) = text(map, key)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// A list of strings given as one string or a list (`tags`, `domainNames`).
pub fn string_list(map: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, Error> {
    let wrong = || Error::InvalidEvent(format!("`{key}` must be a string or a list of strings"));
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.trim().to_string()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(|s| s.trim().to_string())
                    .ok_or_else(wrong)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong()),
    }
}

/// A boolean; anything but `true`/`false` is an error naming the key.
pub fn flag(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::InvalidEvent(format!(
            "`{key}` must be true or false"
        ))),
    }
}

/// The person's display name: `name`, else first + last name (camelCase or snake_case).
pub fn person_name(traits: &Map<String, Value>) -> Result<Option<String>, Error> {
    if let Some(name) = text(traits, "name")? {
        return Ok(Some(name));
    }
    let first = first_text(traits, &["firstName", "first_name"])?;
    let last = first_text(traits, &["lastName", "last_name"])?;
    let joined = [first, last]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok((!joined.is_empty()).then_some(joined))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn names() {
        assert_eq!(
            person_name(&map(json!({"name": "Ann Lee", "firstName": "X"})))
                .unwrap()
                .as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(
            person_name(&map(json!({"firstName": "Ann", "lastName": "Lee"})))
                .unwrap()
                .as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(
            person_name(&map(json!({"first_name": "Ann", "last_name": "Lee"})))
                .unwrap()
                .as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(
            person_name(&map(json!({"last_name": "Lee"})))
                .unwrap()
                .as_deref(),
            Some("Lee")
        );
        assert_eq!(person_name(&map(json!({"name": " "}))).unwrap(), None);
        assert!(person_name(&map(json!({"name": {"first": "x"}}))).is_err());
    }

    #[test]
    fn lists_and_flags() {
        assert_eq!(
            string_list(&map(json!({"t": "a"})), "t").unwrap(),
            Some(vec!["a".to_string()])
        );
        assert_eq!(
            string_list(&map(json!({"t": ["a", "b"]})), "t").unwrap(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert!(string_list(&map(json!({"t": [1]})), "t").is_err());
        assert_eq!(flag(&map(json!({"f": true})), "f").unwrap(), Some(true));
        assert!(flag(&map(json!({"f": "true"})), "f").is_err());
        assert_eq!(
            text(&map(json!({"n": 5})), "n").unwrap().as_deref(),
            Some("5")
        );
    }
}
