//! A warehouse row in RudderStack's reverse-ETL ("VDM v2") shape:
//! `{"type": "record", "action": "insert"|"update"|"delete", "fields": {...}, "identifiers": {...}}`.

use crate::json_values::{object, string};
use crate::outcome::Error;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordAction {
    /// The row is new in the model.
    Insert,
    /// The row changed.
    Update,
    /// The row left the model: deleted in Zendesk when the config's `allowDeletes` is on.
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// What the platform saw happen to the row. How it is written is the config's `syncMode`.
    pub action: RecordAction,
    /// The row's columns.
    pub fields: Map<String, Value>,
    /// The columns that identify the row (e.g. `{"external_id": "u-1"}`); they win over
    /// `fields` of the same name.
    pub identifiers: Map<String, Value>,
    /// With `action: delete` on a user: forget the person for good (a privacy erasure).
    pub permanent: bool,
}

impl Record {
    pub(crate) fn from_object(message: &Map<String, Value>) -> Result<Record, Error> {
        let action = match string(message, "action")?
            .map(|a| a.to_ascii_lowercase())
            .as_deref()
        {
            Some("insert") => RecordAction::Insert,
            Some("update") => RecordAction::Update,
            Some("delete") => RecordAction::Delete,
            Some(other) => {
                return Err(Error::InvalidEvent(format!(
                    "record `action` {other:?} is not one of insert, update, delete"
                )));
            }
            None => {
                return Err(Error::InvalidEvent(
                    "a record needs an `action` (insert, update or delete)".into(),
                ));
            }
        };
        let fields = object(message, "fields")?;
        let identifiers = object(message, "identifiers")?;
        if fields.is_empty() && identifiers.is_empty() {
            return Err(Error::InvalidEvent(
                "the record has no `fields` and no `identifiers`".into(),
            ));
        }
        Ok(Record {
            action,
            fields,
            identifiers,
            permanent: match message.get("permanent") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(permanent)) => *permanent,
                Some(_) => {
                    return Err(Error::InvalidEvent(
                        "the record's `permanent` must be true or false".into(),
                    ));
                }
            },
        })
    }
}
