//! Finding a user or organization by a custom field's value (`identifierKey` naming the
//! field's key), as Hightouch matches on custom fields. Zendesk does not enforce unique values,
//! so the search's results are checked exactly and more than one match fails the row.
//!
//! Users are searched with `users/search?query=key:"value"`; organizations, whose own search
//! knows only name and external_id, with the unified `search?query=type:organization
//! key:"value"`. Zendesk's index lags new records by up to minutes: a user just created is then
//! not found, and an upsert's `create_or_update` still matches them by email, never creating a
//! second one.

use crate::client::{Client, encode};
use crate::fields::{self, FieldScope};
use crate::outcome::Error;
use serde_json::Value;

pub fn find(
    client: &mut Client,
    scope: FieldScope,
    key: &str,
    value: &str,
) -> Result<Option<u64>, Error> {
    let (noun, item) = match scope {
        FieldScope::User => ("user", "users"),
        FieldScope::Organization => ("organization", "results"),
    };
    if !fields::is_defined(client, scope, key)? {
        return Err(Error::InvalidConfig(format!(
            "`identifierKey` {key:?} names no custom {noun} field of this account"
        )));
    }
    let term = format!("{key}:\"{}\"", value.replace('"', ""));
    let path = match scope {
        FieldScope::User => format!("/api/v2/users/search?query={}", encode(&term)),
        FieldScope::Organization => format!(
            "/api/v2/search?query={}",
            encode(&format!("type:organization {term}"))
        ),
    };
    let found: Vec<u64> = client
        .list_all(&path, item)?
        .iter()
        .filter(|found| holds(&found[scope.collection()][key], value))
        .filter_map(|found| found.get("id").and_then(Value::as_u64))
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [id] => Ok(Some(*id)),
        many => Err(Error::InvalidEvent(format!(
            "{} {noun}s have {key} {value:?}: `identifierKey` needs a field whose values are \
             unique",
            many.len()
        ))),
    }
}

/// Whether a field's value is exactly `wanted` (numbers and checkboxes by their text).
fn holds(field: &Value, wanted: &str) -> bool {
    match field {
        Value::String(s) => s == wanted,
        Value::Number(n) => n.to_string() == wanted,
        Value::Bool(b) => b.to_string() == wanted,
        _ => false,
    }
}
