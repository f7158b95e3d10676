//! Typed reads of an event's JSON fields, with errors that name the key.

use serde_json::{Map, Value};

use crate::outcome::Error;

pub(crate) fn invalid_type(key: &str, expected: &str) -> Error {
    Error::InvalidEvent(format!("`{key}` must be {expected}"))
}

pub(crate) fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(invalid_type(key, "a string")),
    }
}

/// Ids may be strings or numbers; numbers become their decimal text.
pub(crate) fn id_string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, Error> {
    match map.get(key) {
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::String(_)) | Some(Value::Null) | None => string(map, key),
        Some(_) => Err(invalid_type(key, "a string or a number")),
    }
}

pub(crate) fn object(map: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(_) => Err(invalid_type(key, "a JSON object")),
    }
}

/// A Zendesk numeric id given as a JSON number or a numeric string.
pub fn numeric_id(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        }
        _ => None,
    }
}
