//! Custom objects (the new API), with the shapes of Zendesk's reference:
//! - `GET /custom_objects` and `GET /custom_objects/{key}/fields` (`custom_object_fields`; the
//!   standard `standard::name` and `standard::external_id` with `include_standard_fields`);
//! - records: `POST .../records` creates (201; `name` required, `external_id` unique),
//!   `GET .../records?filter[external_ids]=a,b` lists (cursor meta), `GET|PATCH|DELETE
//!   .../records/{id}`, `PATCH .../records?external_id=` creates or updates (200), and
//!   `DELETE .../records?external_id=` deletes (204).
//!
//! Bodies are `{"custom_object_record": {"name", "external_id", "custom_object_fields": {}}}`.
//! A value for a field the object does not define is refused (422), unlike user fields, which
//! Zendesk silently discards. An unknown object key or record is 404.

use serde_json::{Map, Value, json};

use crate::account::{Account, Call, IdKind};
use crate::attrs::{self, Patch};
use crate::http::{Handled, Response, bad_request, record_invalid, record_not_found};
use crate::model::{CustomObject, CustomObjectRecord};
use crate::time::now_iso8601;

pub(crate) fn list_objects(call: Call) -> Handled {
    let objects: Vec<Value> = (call.account.data.custom_objects.iter())
        .map(|o| json!({"key": o.key, "title": o.title, "title_pluralized": format!("{}s", o.title)}))
        .collect();
    Ok(Response::json(200, &json!({ "custom_objects": objects })))
}

pub(crate) fn list_fields(call: Call, key: &str) -> Handled {
    let object = object(call.account, key)?;
    let mut fields = Vec::new();
    if call.query.get("include_standard_fields") == Some("true") {
        for (key, title) in [("name", "Name"), ("external_id", "External id")] {
            fields.push(json!({"key": format!("standard::{key}"), "title": title,
                "type": "text", "active": true, "system": true}));
        }
    }
    fields.extend(object.fields.iter().map(|f| {
        json!({"id": f.id, "key": f.key, "title": f.title, "type": f.r#type, "active": true,
            "system": false})
    }));
    Ok(Response::json(
        200,
        &json!({ "custom_object_fields": fields }),
    ))
}

/// `GET .../records`: all of them, or those whose external ids `filter[external_ids]` lists
/// (comma-separated, case-sensitive). One page (the mock's objects are small).
pub(crate) fn list_records(call: Call, key: &str) -> Handled {
    let object = object(call.account, key)?;
    let wanted: Option<Vec<&str>> = call
        .query
        .get("filter[external_ids]")
        .map(|ids| ids.split(',').map(str::trim).collect());
    let records: Vec<Value> = (object.records.iter())
        .filter(|r| match &wanted {
            None => true,
            Some(ids) => r.external_id.as_deref().is_some_and(|e| ids.contains(&e)),
        })
        .map(|r| render(key, r))
        .collect();
    Ok(Response::json(
        200,
        &json!({"custom_object_records": records,
            "meta": {"has_more": false, "after_cursor": null, "before_cursor": null}}),
    ))
}

pub(crate) fn show_record(call: Call, key: &str, id: &str) -> Handled {
    let object = object(call.account, key)?;
    let record = (object.records.iter().find(|r| r.id == id)).ok_or_else(record_not_found)?;
    Ok(Response::json(
        200,
        &json!({"custom_object_record": render(key, record)}),
    ))
}

pub(crate) fn create_record(call: Call, key: &str) -> Handled {
    let input = RecordInput::parse(&call.body)?;
    let record = create(call.account, key, input)?;
    Ok(Response::json(
        201,
        &json!({ "custom_object_record": record }),
    ))
}

pub(crate) fn update_record(call: Call, key: &str, id: &str) -> Handled {
    let input = RecordInput::parse(&call.body)?;
    let record = update(call.account, key, id, input)?;
    Ok(Response::json(
        200,
        &json!({ "custom_object_record": record }),
    ))
}

/// `PATCH .../records?external_id=`: updates the record with that external id, or creates it.
pub(crate) fn upsert_record(call: Call, key: &str) -> Handled {
    let external_id = by_external_id(&call)?;
    let mut input = RecordInput::parse(&call.body)?;
    let existing = (object(call.account, key)?.records.iter())
        .find(|r| r.external_id.as_deref() == Some(external_id.as_str()))
        .map(|r| r.id.clone());
    let record = match existing {
        Some(id) => update(call.account, key, &id, input)?,
        None => {
            input.external_id = Patch::Set(external_id);
            create(call.account, key, input)?
        }
    };
    Ok(Response::json(
        200,
        &json!({ "custom_object_record": record }),
    ))
}

pub(crate) fn delete_record(call: Call, key: &str, id: &str) -> Handled {
    let object = object_mut(call.account, key)?;
    let before = object.records.len();
    object.records.retain(|r| r.id != id);
    if object.records.len() == before {
        return Err(record_not_found());
    }
    Ok(Response::no_content())
}

/// `DELETE .../records?external_id=`.
pub(crate) fn delete_by_external_id(call: Call, key: &str) -> Handled {
    let external_id = by_external_id(&call)?;
    let object = object_mut(call.account, key)?;
    let id = (object.records.iter())
        .find(|r| r.external_id.as_deref() == Some(external_id.as_str()))
        .map(|r| r.id.clone())
        .ok_or_else(record_not_found)?;
    object.records.retain(|r| r.id != id);
    Ok(Response::no_content())
}

struct RecordInput {
    name: Patch<String>,
    external_id: Patch<String>,
    fields: Map<String, Value>,
}

impl RecordInput {
    fn parse(body: &Option<Value>) -> Result<RecordInput, Response> {
        let attrs = attrs::wrapped_object(body, "custom_object_record")?;
        Ok(RecordInput {
            name: attrs::text(attrs, "name")?,
            external_id: attrs::text(attrs, "external_id")?,
            fields: attrs::object(attrs, "custom_object_fields")?
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// Refuses values of fields the object does not define.
    fn check_fields(&self, object: &CustomObject) -> Result<(), Response> {
        match (self.fields.keys()).find(|k| !object.fields.iter().any(|f| &f.key == *k)) {
            Some(unknown) => Err(record_invalid(
                "custom_object_fields",
                &format!(
                    "Custom object fields: {unknown} is not a field of {}",
                    object.key
                ),
                "InvalidValue",
            )),
            None => Ok(()),
        }
    }
}

fn create(account: &mut Account, key: &str, input: RecordInput) -> Result<Value, Response> {
    let number = account.next_id(IdKind::CustomRecord);
    let object = object_mut(account, key)?;
    input.check_fields(object)?;
    let Some(name) = input.name.as_set().cloned() else {
        return Err(record_invalid(
            "name",
            "Name: cannot be blank",
            "BlankValue",
        ));
    };
    let external_id = input.external_id.as_set().cloned();
    check_external_id_free(object, external_id.as_deref(), None)?;
    let now = now_iso8601();
    let mut fields = Map::new();
    merge(&mut fields, input.fields);
    let record = CustomObjectRecord {
        id: format!("01JZ{number:022}"),
        name,
        external_id,
        custom_object_fields: fields,
        created_at: now.clone(),
        updated_at: now,
    };
    let rendered = render(key, &record);
    object.records.push(record);
    Ok(rendered)
}

fn update(
    account: &mut Account,
    key: &str,
    id: &str,
    input: RecordInput,
) -> Result<Value, Response> {
    let object = object_mut(account, key)?;
    input.check_fields(object)?;
    if matches!(input.name, Patch::Clear) {
        return Err(record_invalid(
            "name",
            "Name: cannot be blank",
            "BlankValue",
        ));
    }
    check_external_id_free(
        object,
        input.external_id.as_set().map(String::as_str),
        Some(id),
    )?;
    let record = (object.records.iter_mut().find(|r| r.id == id)).ok_or_else(record_not_found)?;
    if let Some(name) = input.name.as_set() {
        record.name = name.clone();
    }
    input.external_id.apply_to(&mut record.external_id);
    merge(&mut record.custom_object_fields, input.fields);
    record.updated_at = now_iso8601();
    Ok(render(key, record))
}

fn check_external_id_free(
    object: &CustomObject,
    external_id: Option<&str>,
    owner: Option<&str>,
) -> Result<(), Response> {
    let taken = (object.records.iter())
        .any(|r| r.external_id.as_deref() == external_id && Some(r.id.as_str()) != owner);
    match (external_id, taken) {
        (Some(external_id), true) => Err(record_invalid(
            "external_id",
            &format!("External id: {external_id} has already been taken"),
            "DuplicateValue",
        )),
        _ => Ok(()),
    }
}

/// Only the fields named change; a null clears one.
fn merge(stored: &mut Map<String, Value>, incoming: Map<String, Value>) {
    for (key, value) in incoming {
        if value.is_null() {
            stored.remove(&key);
        } else {
            stored.insert(key, value);
        }
    }
}

fn by_external_id(call: &Call) -> Result<String, Response> {
    call.query
        .get("external_id")
        .map(str::to_string)
        .ok_or_else(|| bad_request("InvalidParameter", "external_id or name is required"))
}

fn object<'a>(account: &'a Account, key: &str) -> Result<&'a CustomObject, Response> {
    (account.data.custom_objects.iter())
        .find(|o| o.key == key)
        .ok_or_else(record_not_found)
}

fn object_mut<'a>(account: &'a mut Account, key: &str) -> Result<&'a mut CustomObject, Response> {
    (account.data.custom_objects.iter_mut())
        .find(|o| o.key == key)
        .ok_or_else(record_not_found)
}

fn render(key: &str, record: &CustomObjectRecord) -> Value {
    json!({"id": record.id, "name": record.name, "external_id": record.external_id,
        "custom_object_key": key, "custom_object_fields": record.custom_object_fields,
        "created_at": record.created_at, "updated_at": record.updated_at})
}

/// Defines a custom object with `fields` (key, type) for a test or a demo account.
pub(crate) fn define(account: &mut Account, key: &str, title: &str, fields: &[(&str, &str)]) {
    let fields = fields
        .iter()
        .map(|(field_key, field_type)| crate::model::CustomObjectField {
            id: account.next_id(IdKind::Field),
            key: field_key.to_string(),
            title: attrs::humanize(field_key),
            r#type: field_type.to_string(),
        })
        .collect();
    account.data.custom_objects.retain(|o| o.key != key);
    account.data.custom_objects.push(CustomObject {
        key: key.to_string(),
        title: title.to_string(),
        fields,
        records: Vec::new(),
    });
}
