//! Typed reads of the destination config's keys, with errors that name the key.

use serde_json::{Map, Value};

use crate::outcome::Error;

/// Typed access to the config object; `null` and `""` count as missing.
pub(crate) struct Settings<'a>(pub(crate) &'a Map<String, Value>);

impl Settings<'_> {
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// One of `choices`, exactly as listed (blank or null: `None`).
    pub(crate) fn choice(
        &self,
        key: &str,
        choices: &[&'static str],
    ) -> Result<Option<&'static str>, Error> {
        let wrong = || wrong_type(key, &format!("one of {}", choices.join(", ")));
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => choices
                .iter()
                .find(|choice| **choice == s.as_str())
                .map(|choice| Some(*choice))
                .ok_or_else(wrong),
            Some(_) => Err(wrong()),
        }
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, Error> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(_) => Err(wrong_type(key, "a string")),
        }
    }

    pub(crate) fn flag(&self, key: &str) -> Result<bool, Error> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(wrong_type(key, "a boolean (true or false)")),
        }
    }

    pub(crate) fn seconds(&self, key: &str, max: u64, default: u32) -> Result<u32, Error> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(s) if s <= max => Ok(s as u32),
                _ => Err(wrong_type(
                    key,
                    &format!("a whole number of seconds from 0 to {max}"),
                )),
            },
            Some(_) => Err(wrong_type(key, "a number of seconds")),
        }
    }

    pub(crate) fn string_list(&self, key: &str) -> Result<Vec<String>, Error> {
        let items = match self.0.get(key) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(wrong_type(key, "a list of strings")),
        };
        let mut list = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::String(s) if s.trim().is_empty() => {}
                Value::String(s) => list.push(s.trim().to_string()),
                _ => return Err(wrong_type(key, "a list of strings")),
            }
        }
        Ok(list)
    }
}

pub(crate) fn wrong_type(key: &str, expected: &str) -> Error {
    Error::InvalidConfig(format!("`{key}` must be {expected}"))
}
