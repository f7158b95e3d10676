//! Field definitions: user and organization fields (paginated listing, creation with Zendesk's
//! key rule: "only letters, numbers, and underscores. It can't be only numbers"; checkbox tags;
//! dropdown options) and ticket fields (Zendesk's system fields plus custom ones, keyless).

use serde_json::{Value, json};

use crate::account::{Account, Call, IdKind};
use crate::attrs;
use crate::http::{Handled, Response, record_invalid, record_not_found};
use crate::model::{FieldDef, FieldOption};
use crate::pagination::{PageRequest, page_body};
use crate::render;
use crate::time::now_iso8601;

/// Ticket field types (`tagger` is the dropdown).
const TICKET_FIELD_TYPES: [&str; 11] = [
    "checkbox",
    "date",
    "decimal",
    "integer",
    "lookup",
    "multiselect",
    "partialcreditcard",
    "regexp",
    "tagger",
    "text",
    "textarea",
];

const FIELD_TYPES: [&str; 10] = [
    "checkbox",
    "date",
    "decimal",
    "dropdown",
    "integer",
    "lookup",
    "multiselect",
    "regexp",
    "text",
    "textarea",
];

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum FieldScope {
    User,
    Organization,
    Ticket,
}

impl FieldScope {
    fn collection(self) -> &'static str {
        match self {
            FieldScope::User => "user_fields",
            FieldScope::Organization => "organization_fields",
            FieldScope::Ticket => "ticket_fields",
        }
    }

    fn wrapper(self) -> &'static str {
        match self {
            FieldScope::User => "user_field",
            FieldScope::Organization => "organization_field",
            FieldScope::Ticket => "ticket_field",
        }
    }

    fn definitions(self, account: &Account) -> &Vec<FieldDef> {
        match self {
            FieldScope::User => &account.data.user_fields,
            FieldScope::Organization => &account.data.organization_fields,
            FieldScope::Ticket => &account.data.ticket_fields,
        }
    }

    fn definitions_mut(self, account: &mut Account) -> &mut Vec<FieldDef> {
        match self {
            FieldScope::User => &mut account.data.user_fields,
            FieldScope::Organization => &mut account.data.organization_fields,
            FieldScope::Ticket => &mut account.data.ticket_fields,
        }
    }
}

pub(crate) fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.chars().all(|c| c.is_ascii_digit())
}

/// What a new field definition says (the API body's inner object, or a seed).
pub(crate) struct NewField {
    pub key: String,
    pub title: String,
    pub field_type: String,
    pub tag: Option<String>,
    pub options: Vec<FieldOption>,
    pub required: bool,
}

impl NewField {
    pub fn new(key: &str, title: &str, field_type: &str) -> NewField {
        NewField {
            key: key.to_string(),
            title: title.to_string(),
            field_type: field_type.to_string(),
            tag: None,
            options: Vec::new(),
            required: false,
        }
    }

    /// Parses `{key, title, type, tag, custom_field_options, required}`; type defaults to text.
    pub fn parse(attrs: &serde_json::Map<String, Value>) -> Result<NewField, Response> {
        let text = |key: &str| -> Result<Option<String>, Response> {
            Ok(attrs::text(attrs, key)?.as_set().cloned())
        };
        let options = match attrs.get("custom_field_options") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    let name = item.get("name").and_then(Value::as_str);
                    let value = item.get("value").and_then(Value::as_str);
                    match (name, value) {
                        (Some(name), Some(value)) => Ok(FieldOption {
                            name: name.to_string(),
                            value: value.to_string(),
                        }),
                        _ => Err(record_invalid(
                            "custom_field_options",
                            "Custom field options: each needs a name and a value",
                            "InvalidValue",
                        )),
                    }
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(record_invalid(
                    "custom_field_options",
                    "Custom field options: must be a list",
                    "InvalidValue",
                ));
            }
        };
        Ok(NewField {
            key: text("key")?.unwrap_or_default(),
            title: text("title")?.unwrap_or_default(),
            field_type: text("type")?.unwrap_or_else(|| "text".to_string()),
            tag: text("tag")?,
            options,
            required: attrs::boolean(attrs, "required")?
                .as_set()
                .copied()
                .unwrap_or(false),
        })
    }
}

/// Validated creation shared by the API and the seeding helpers.
pub(crate) fn add(
    account: &mut Account,
    scope: FieldScope,
    new: NewField,
) -> Result<u64, Response> {
    let NewField {
        key,
        title,
        field_type,
        tag,
        options,
        required,
    } = new;
    let keyed = scope != FieldScope::Ticket;
    if keyed && !is_valid_key(&key) {
        if key.is_empty() {
            return Err(record_invalid("key", "Key: cannot be blank", "BlankValue"));
        }
        return Err(record_invalid(
            "key",
            &format!(
                "Key: {key} is invalid: use only letters, numbers and underscores, and not only numbers"
            ),
            "InvalidValue",
        ));
    }
    if title.trim().is_empty() {
        return Err(record_invalid(
            "title",
            "Title: cannot be blank",
            "BlankValue",
        ));
    }
    let types: &[&str] = if keyed {
        &FIELD_TYPES
    } else {
        &TICKET_FIELD_TYPES
    };
    if !types.contains(&field_type.as_str()) {
        return Err(record_invalid("type", "Type: is invalid", "InvalidValue"));
    }
    if keyed && scope.definitions(account).iter().any(|f| f.key == key) {
        return Err(record_invalid(
            "key",
            "Key: has already been taken",
            "DuplicateValue",
        ));
    }
    let id = account.next_id(IdKind::Field);
    let now = now_iso8601();
    let definitions = scope.definitions_mut(account);
    let position = definitions.len() as u64;
    definitions.push(FieldDef {
        id,
        key: if keyed { key } else { String::new() },
        title: title.trim().to_string(),
        // Zendesk keeps a tag on checkboxes only.
        tag: tag.filter(|_| field_type == "checkbox"),
        r#type: field_type,
        active: true,
        position,
        options,
        required,
        removable: true,
        created_at: now.clone(),
        updated_at: now,
    });
    Ok(id)
}

/// `GET /user_fields` / `GET /organization_fields` (cursor, offset, or the first 100 by default).
pub(crate) fn list(call: Call, scope: FieldScope) -> Handled {
    let account = &*call.account;
    let request = PageRequest::from_query(&call.query, true)?;
    let collection = scope.collection();
    let items: Vec<Value> = scope
        .definitions(account)
        .iter()
        .map(|f| render::field(account, f, collection))
        .collect();
    let url = format!("{}/api/v2/{collection}.json", account.base_url);
    Ok(Response::json(
        200,
        &page_body(collection, items, request, &url, &[]),
    ))
}

/// `POST /user_fields` `{"user_field":{key,title,type?,tag?,custom_field_options?}}` -> 201.
pub(crate) fn create(call: Call, scope: FieldScope) -> Handled {
    let attrs = attrs::wrapped_object(&call.body, scope.wrapper())?;
    let new = NewField::parse(attrs)?;
    let id = add(call.account, scope, new)?;
    let account = &*call.account;
    let field = scope
        .definitions(account)
        .iter()
        .find(|f| f.id == id)
        .ok_or_else(record_not_found)?;
    Ok(Response::json(
        201,
        &json!({scope.wrapper(): render::field(account, field, scope.collection())}),
    ))
}
