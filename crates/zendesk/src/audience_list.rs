//! RudderStack's `audiencelist` event: `properties.listData.add` and `.remove`, lists of
//! identifier objects naming the users who joined and left an audience.

use crate::json_values::{numeric_id, object};
use crate::outcome::Error;
use serde_json::{Map, Value};

/// One listed user, by whatever identifiers the platform sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Member {
    pub external_id: Option<String>,
    pub email: Option<String>,
    /// The Zendesk user id.
    pub id: Option<u64>,
    /// Used when Upsert creates the user.
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AudienceList {
    pub add: Vec<Member>,
    pub remove: Vec<Member>,
}

impl AudienceList {
    pub(crate) fn from_object(message: &Map<String, Value>) -> Result<AudienceList, Error> {
        let properties = object(message, "properties")?;
        let list_data = match properties.get("listData") {
            Some(Value::Object(list_data)) => list_data,
            _ => {
                return Err(Error::InvalidEvent(
                    "an audiencelist event needs `properties.listData` with `add` and/or \
                     `remove` lists"
                        .into(),
                ));
            }
        };
        Ok(AudienceList {
            add: members(list_data, "add")?,
            remove: members(list_data, "remove")?,
        })
    }
}

fn members(list_data: &Map<String, Value>, key: &str) -> Result<Vec<Member>, Error> {
    let items = match list_data.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(Error::InvalidEvent(format!(
                "`properties.listData.{key}` must be a list of identifier objects"
            )));
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let at = format!("properties.listData.{key}[{index}]");
            let Value::Object(item) = item else {
                return Err(Error::InvalidEvent(format!(
                    "`{at}` must be an object of identifiers (email, external_id, id)"
                )));
            };
            member(item, &at)
        })
        .collect()
}

/// Identifier keys are matched case-insensitively; `userId` is the CDP's name for `external_id`.
fn member(item: &Map<String, Value>, at: &str) -> Result<Member, Error> {
    let mut member = Member::default();
    for (key, value) in item {
        let text = || match value {
            Value::String(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Null | Value::String(_) => Ok(None),
            _ => Err(Error::InvalidEvent(format!(
                "`{at}.{key}` must be a string"
            ))),
        };
        match key.to_ascii_lowercase().replace('_', "").as_str() {
            "email" => member.email = text()?,
            "externalid" | "userid" => member.external_id = text()?,
            "name" => member.name = text()?,
            "id" | "zendeskid" | "zendeskuserid" => {
                member.id = match value {
                    Value::Null => None,
                    value => Some(numeric_id(value).ok_or_else(|| {
                        Error::InvalidEvent(format!("`{at}.{key}` must be a Zendesk user id"))
                    })?),
                }
            }
            _ => {}
        }
    }
    if member.email.is_none() && member.external_id.is_none() && member.id.is_none() {
        return Err(Error::InvalidEvent(format!(
            "`{at}` names no user: give an email, external_id (or userId) or id"
        )));
    }
    Ok(member)
}
