//! Custom user / organization field definitions: paginated listing and creation with Zendesk's
//! key rule ("only letters, numbers, and underscores. It can't be only numbers").

use serde_json::{Value, json};

use crate::account::{Account, Call, IdKind};
use crate::attrs::{self, Patch};
use crate::http::{Handled, Response, record_invalid, record_not_found};
use crate::model::FieldDef;
use crate::pagination::{PageRequest, page_body};
use crate::render;
use crate::time::now_iso8601;

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
}

impl FieldScope {
    fn collection(self) -> &'static str {
        match self {
            FieldScope::User => "user_fields",
            FieldScope::Organization => "organization_fields",
        }
    }

    fn wrapper(self) -> &'static str {
        match self {
            FieldScope::User => "user_field",
            FieldScope::Organization => "organization_field",
        }
    }

    fn definitions(self, account: &Account) -> &Vec<FieldDef> {
        match self {
            FieldScope::User => &account.data.user_fields,
            FieldScope::Organization => &account.data.organization_fields,
        }
    }

    fn definitions_mut(self, account: &mut Account) -> &mut Vec<FieldDef> {
        match self {
            FieldScope::User => &mut account.data.user_fields,
            FieldScope::Organization => &mut account.data.organization_fields,
        }
    }
}

pub(crate) fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.chars().all(|c| c.is_ascii_digit())
}

/// Validated creation shared by the API and the seeding helpers.
pub(crate) fn add(
    account: &mut Account,
    scope: FieldScope,
    key: &str,
    title: &str,
    field_type: &str,
) -> Result<u64, Response> {
    if !is_valid_key(key) {
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
    if !FIELD_TYPES.contains(&field_type) {
        return Err(record_invalid("type", "Type: is invalid", "InvalidValue"));
    }
    if scope.definitions(account).iter().any(|f| f.key == key) {
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
        key: key.to_string(),
        title: title.trim().to_string(),
        r#type: field_type.to_string(),
        active: true,
        position,
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

/// `POST /user_fields` `{"user_field":{key,title,type?}}` -> 201; type defaults to text.
pub(crate) fn create(call: Call, scope: FieldScope) -> Handled {
    let attrs = attrs::wrapped_object(&call.body, scope.wrapper())?;
    let key = match attrs::text(attrs, "key")? {
        Patch::Set(key) => key,
        _ => return Err(record_invalid("key", "Key: cannot be blank", "BlankValue")),
    };
    let title = attrs::text(attrs, "title")?
        .as_set()
        .cloned()
        .unwrap_or_default();
    let field_type = attrs::text(attrs, "type")?
        .as_set()
        .cloned()
        .unwrap_or_else(|| "text".to_string());
    let id = add(call.account, scope, &key, &title, &field_type)?;
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
