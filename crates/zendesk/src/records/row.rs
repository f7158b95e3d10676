//! A record's columns under their Zendesk field names (after `fieldMapping`), with typed reads
//! that name the column, the required-field check, and the identifier.

use crate::client::Client;
use crate::json_values::numeric_id;
use crate::outcome::Error;
use crate::record::Record;
use crate::sync_config::{IdentifierKey, ObjectType};
use crate::traits;
use serde_json::{Map, Value};
use std::fmt;

/// What names the record in Zendesk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    ExternalId(String),
    Email(String),
    Id(u64),
    /// A custom user or organization field's value (`identifierKey` names the field).
    CustomField {
        key: String,
        value: String,
    },
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identifier::ExternalId(value) => write!(f, "external_id {value:?}"),
            Identifier::Email(value) => write!(f, "email {value:?}"),
            Identifier::Id(value) => write!(f, "id {value}"),
            Identifier::CustomField { key, value } => write!(f, "{key} {value:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row(Map<String, Value>);

impl Row {
    /// The record's columns under their Zendesk names. Without a mapping every column is a
    /// Zendesk name already (RudderStack's VDM v2 maps them); with one, only the mapped columns
    /// and the identifiers are written, so a warehouse's bookkeeping columns never become
    /// Zendesk fields. When several columns feed one field, the first with a value wins. Null
    /// values are left out: a sync never clears a field.
    pub fn mapped(client: &Client, record: &Record, mapping: &[(String, String)]) -> Row {
        let mut row = Map::new();
        if mapping.is_empty() {
            row.extend(record.fields.clone());
        } else {
            for (from, to) in mapping {
                if let Some(value) = record.fields.get(from).filter(|v| !v.is_null()) {
                    row.entry(to.clone()).or_insert_with(|| value.clone());
                }
            }
            let left_out: Vec<&str> = record
                .fields
                .keys()
                .filter(|column| !mapping.iter().any(|(from, _)| from == *column))
                .map(String::as_str)
                .collect();
            if !left_out.is_empty() {
                client.debug(
                    "record columns not in fieldMapping: not written",
                    &[("columns", &left_out.join(", "))],
                );
            }
        }
        for (column, value) in &record.identifiers {
            let target = mapping
                .iter()
                .find(|(from, _)| from == column)
                .map_or(column, |(_, to)| to);
            row.insert(target.clone(), value.clone());
        }
        row.retain(|_, value| !value.is_null());
        Row(row)
    }

    /// The seed's required fields: users name and email, organizations name, tickets subject
    /// and description.
    pub fn require(&self, object: ObjectType) -> Result<(), Error> {
        let required: &[&str] = match object {
            ObjectType::Users => &["name", "email"],
            ObjectType::Organizations => &["name"],
            ObjectType::Tickets => &["subject", "description"],
            ObjectType::OrganizationMemberships => &["organization_external_id"],
            ObjectType::TicketComments => &["body"],
            ObjectType::CustomObjects => &[],
        };
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(
                |key| !matches!(self.0.get(*key), Some(Value::String(s)) if !s.trim().is_empty()),
            )
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::InvalidEvent(format!(
            "the record lacks {}: {} records need {} (map a column to each in `fieldMapping`)",
            missing
                .iter()
                .map(|key| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(" and "),
            object.name(),
            required.join(" and ")
        )))
    }

    pub fn identifier(&self, key: &IdentifierKey) -> Result<Identifier, Error> {
        let missing = || {
            Error::InvalidEvent(format!(
                "the record has no `{}`, its identifierKey",
                key.name()
            ))
        };
        let text = || traits::text(&self.0, key.name())?.ok_or_else(missing);
        match key {
            IdentifierKey::ExternalId => text().map(Identifier::ExternalId),
            IdentifierKey::Email => text().map(Identifier::Email),
            IdentifierKey::CustomField(field) => text().map(|value| Identifier::CustomField {
                key: field.clone(),
                value,
            }),
            IdentifierKey::Id => {
                let value = self.0.get("id").ok_or_else(missing)?;
                numeric_id(value).map(Identifier::Id).ok_or_else(|| {
                    Error::InvalidEvent("the record's `id` must be a Zendesk id (a number)".into())
                })
            }
        }
    }

    /// Removes and returns a text column (strings, or numbers as their decimal text).
    pub fn take_text(&mut self, key: &str) -> Result<Option<String>, Error> {
        let value = traits::text(&self.0, key).map_err(|_| wrong(key, "a string"))?;
        self.0.remove(key);
        Ok(value)
    }

    /// Removes and returns a yes/no column: a boolean, or `true`/`false`/`1`/`0` as text.
    pub fn take_bool(&mut self, key: &str) -> Result<Option<bool>, Error> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(flag)),
            Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(Some(true)),
            Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(Some(false)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Some(true)),
                "false" | "0" | "no" => Ok(Some(false)),
                _ => Err(wrong(key, "true or false")),
            },
            Some(_) => Err(wrong(key, "true or false")),
        }
    }

    /// Removes and returns a list column: a list of strings, or one comma-separated string.
    pub fn take_list(&mut self, key: &str) -> Result<Option<Vec<String>>, Error> {
        let list = match self.0.remove(key) {
            None => None,
            Some(Value::String(s)) => Some(
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| item.as_str().map(|s| s.trim().to_string()))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| wrong(key, "a list of strings"))?,
            ),
            Some(_) => return Err(wrong(key, "a list of strings")),
        };
        Ok(list)
    }

    /// Removes and returns a Zendesk id column.
    pub fn take_id(&mut self, key: &str) -> Result<Option<u64>, Error> {
        match self.0.remove(key) {
            None => Ok(None),
            Some(value) => numeric_id(&value)
                .map(Some)
                .ok_or_else(|| wrong(key, "a Zendesk id (a number)")),
        }
    }

    /// Whatever is left: the custom field columns.
    pub fn into_rest(self) -> Map<String, Value> {
        self.0
    }
}

fn wrong(key: &str, expected: &str) -> Error {
    Error::InvalidEvent(format!("the record's `{key}` must be {expected}"))
}
