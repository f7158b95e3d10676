//! Reading attributes out of request bodies with Zendesk-like validation errors.

use serde_json::{Map, Value};

use crate::http::{Response, missing_parameter, record_invalid};

/// How a request treats one attribute: not mentioned, explicitly cleared (null), or set.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Patch<T> {
    Absent,
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    pub fn as_set(&self) -> Option<&T> {
        match self {
            Patch::Set(value) => Some(value),
            _ => None,
        }
    }

    /// Applies the patch to a stored optional value.
    pub fn apply_to(self, slot: &mut Option<T>) {
        match self {
            Patch::Absent => {}
            Patch::Clear => *slot = None,
            Patch::Set(value) => *slot = Some(value),
        }
    }
}

/// `{"<wrapper>": {...}}` -> the inner object, or Zendesk's 400 for a missing parameter.
pub(crate) fn wrapped_object<'a>(
    body: &'a Option<Value>,
    wrapper: &str,
) -> Result<&'a Map<String, Value>, Response> {
    body.as_ref()
        .and_then(|b| b.get(wrapper))
        .and_then(Value::as_object)
        .ok_or_else(|| missing_parameter(wrapper))
}

/// A text attribute. Numbers are accepted and stringified (Zendesk does that for ids and
/// phones); blank strings count as a clear.
pub(crate) fn text(attrs: &Map<String, Value>, key: &str) -> Result<Patch<String>, Response> {
    match attrs.get(key) {
        None => Ok(Patch::Absent),
        Some(Value::Null) => Ok(Patch::Clear),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Patch::Clear),
        Some(Value::String(s)) => Ok(Patch::Set(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(Patch::Set(n.to_string())),
        Some(other) => Err(invalid_value(key, other)),
    }
}

pub(crate) fn boolean(attrs: &Map<String, Value>, key: &str) -> Result<Patch<bool>, Response> {
    match attrs.get(key) {
        None => Ok(Patch::Absent),
        Some(Value::Null) => Ok(Patch::Clear),
        Some(Value::Bool(b)) => Ok(Patch::Set(*b)),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(Patch::Set(s == "true")),
        Some(other) => Err(invalid_value(key, other)),
    }
}

/// An id attribute: a number or a numeric string.
pub(crate) fn id(attrs: &Map<String, Value>, key: &str) -> Result<Patch<u64>, Response> {
    match attrs.get(key) {
        None => Ok(Patch::Absent),
        Some(Value::Null) => Ok(Patch::Clear),
        Some(value) => value_as_id(value)
            .map(Patch::Set)
            .ok_or_else(|| invalid_value(key, value)),
    }
}

pub(crate) fn value_as_id(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A list of strings; a single string is split on whitespace and commas (Zendesk accepts
/// space-separated tag strings).
pub(crate) fn string_list(
    attrs: &Map<String, Value>,
    key: &str,
) -> Result<Patch<Vec<String>>, Response> {
    match attrs.get(key) {
        None => Ok(Patch::Absent),
        Some(Value::Null) => Ok(Patch::Set(Vec::new())),
        Some(Value::String(s)) => Ok(Patch::Set(
            s.split([' ', ','])
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        )),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(invalid_value(key, other)),
            })
            .collect::<Result<Vec<String>, Response>>()
            .map(Patch::Set),
        Some(other) => Err(invalid_value(key, other)),
    }
}

/// A custom-field object (`user_fields` / `organization_fields`).
pub(crate) fn object<'a>(
    attrs: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, Response> {
    match attrs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(invalid_value(key, other)),
    }
}

/// Merges custom-field values key by key, keeping only keys that are defined fields (Zendesk
/// discards the others); a null value clears the key.
pub(crate) fn merge_custom_fields(
    stored: &mut Map<String, Value>,
    incoming: &Map<String, Value>,
    defined_keys: &[String],
) {
    for (key, value) in incoming {
        if !defined_keys.iter().any(|k| k == key) {
            continue;
        }
        if value.is_null() {
            stored.remove(key);
        } else {
            stored.insert(key.clone(), value.clone());
        }
    }
}

/// `skip_verify_email` is accepted at the top level of the body and inside the wrapper object
/// (where exactly Zendesk reads it is unverified; PostHog puts it inside `user`).
pub(crate) fn skip_verify_email(body: &Option<Value>, attrs: &Map<String, Value>) -> bool {
    let top = body
        .as_ref()
        .and_then(|b| b.get("skip_verify_email"))
        .and_then(Value::as_bool);
    let inner = attrs.get("skip_verify_email").and_then(Value::as_bool);
    top.or(inner).unwrap_or(false)
}

fn invalid_value(key: &str, value: &Value) -> Response {
    record_invalid(
        key,
        &format!("{}: is invalid ({value})", humanize(key)),
        "InvalidValue",
    )
}

/// "external_id" -> "External id", the way Zendesk names fields in messages.
pub(crate) fn humanize(key: &str) -> String {
    let spaced = key.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
