//! Rows synced to the records of a custom object (`objectType: custom_objects` with
//! `customObjectKey`), named by `external_id`. `name` is the record's name (required when a
//! record is created); every other column must be one of the object's fields, matched by key as
//! user fields are (exact, snake_case, any case). Fields are never created: an object's schema
//! is the account admin's.
//!
//! - upsert: one `PATCH .../records?external_id=` (Zendesk creates or updates);
//! - insert: looked up by `filter[external_ids]`, created when missing (an existing record is
//!   skipped as "exists");
//! - update: looked up, then `PATCH .../records/{id}` (a missing one is skipped);
//! - delete (with `allowDeletes`): `DELETE .../records?external_id=`; already gone is done.

use super::{Row, deletes_allowed};
use crate::client::{Client, encode};
use crate::config::Config;
use crate::fields::existing_key;
use crate::outcome::Error;
use crate::record::{Record, RecordAction};
use crate::sync_config::SyncMode;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// How long an object's field keys are trusted.
const FIELDS_TTL_SECONDS: u32 = 3600;

pub fn sync(
    client: &mut Client,
    config: &Config,
    record: &Record,
) -> Result<Option<String>, Error> {
    let sync = &config.sync;
    let key = sync.custom_object_key.as_deref().ok_or_else(|| {
        Error::InvalidConfig("`objectType` custom_objects needs `customObjectKey`".into())
    })?;
    let records = format!("/api/v2/custom_objects/{}/records", encode(key));
    let mut row = Row::mapped(client, record, &sync.field_mapping);
    let Some(external_id) = row.take_text("external_id")? else {
        return Err(Error::InvalidEvent(
            "a custom object row needs `external_id`, its identifierKey".into(),
        ));
    };
    let by_external_id = format!("{records}?external_id={}", encode(&external_id));
    let gone = || {
        Some(format!(
            "gone: no {key} record has external_id {external_id:?}"
        ))
    };
    if record.action == RecordAction::Delete {
        deletes_allowed(config)?;
        let reply = client.send("DELETE", &by_external_id, None)?;
        return match reply.status {
            200..=299 => Ok(None),
            404 => Ok(gone()),
            _ => Err(reply.into_error()),
        };
    }
    let name = row.take_text("name")?;
    let fields = resolve_fields(client, key, row.into_rest())?;
    let mut body = record_body(name, fields);
    match sync.sync_mode {
        SyncMode::Upsert => {
            let body = json!({ "custom_object_record": body });
            client
                .call("PATCH", &by_external_id, Some(&body))
                .map(|_| None)
        }
        SyncMode::Insert => {
            let exists = |id: &str| {
                Some(format!(
                    "exists: {key} record {id} has external_id {external_id:?} (syncMode insert \
                     never overwrites)"
                ))
            };
            if let Some(id) = find(client, &records, &external_id)? {
                return Ok(exists(&id));
            }
            body.insert("external_id".into(), external_id.clone().into());
            let body = json!({ "custom_object_record": body });
            let reply = client.send("POST", &records, Some(&body))?;
            if reply.is_success() {
                return Ok(None);
            }
            // Created meanwhile, or by an earlier attempt whose answer was lost.
            if reply.is_duplicate()
                && let Some(id) = find(client, &records, &external_id)?
            {
                return Ok(exists(&id));
            }
            Err(reply.into_error())
        }
        SyncMode::Update => {
            let not_found = || {
                Some(format!(
                    "not found: no {key} record has external_id {external_id:?} (syncMode update \
                     never creates)"
                ))
            };
            let Some(id) = find(client, &records, &external_id)? else {
                return Ok(not_found());
            };
            let body = json!({ "custom_object_record": body });
            let reply = client.send("PATCH", &format!("{records}/{}", encode(&id)), Some(&body))?;
            match reply.status {
                200..=299 => Ok(None),
                404 => Ok(not_found()),
                _ => Err(reply.into_error()),
            }
        }
    }
}

/// A row the custom object jobs endpoint can run, by external id.
pub enum BulkRecord {
    /// `create_or_update_by_external_id`: the name and the columns (not yet matched to the
    /// object's fields).
    Upsert {
        external_id: String,
        name: Option<String>,
        columns: Map<String, Value>,
    },
    /// `delete_by_external_id` (deletes allowed).
    Delete { external_id: String },
}

/// The row as a job item, when the config's mode has one (upsert, or an allowed delete).
pub fn bulk_record(
    config: &Config,
    record: &Record,
    mut row: Row,
) -> Result<Option<BulkRecord>, Error> {
    let sync = &config.sync;
    let deleting = record.action == RecordAction::Delete;
    if (deleting && !sync.allow_deletes) || (!deleting && sync.sync_mode != SyncMode::Upsert) {
        return Ok(None);
    }
    let Some(external_id) = row.take_text("external_id")? else {
        return Ok(None);
    };
    if deleting {
        return Ok(Some(BulkRecord::Delete { external_id }));
    }
    Ok(Some(BulkRecord::Upsert {
        external_id,
        name: row.take_text("name")?,
        columns: row.into_rest(),
    }))
}

/// A record's body: its name, if given, and its field values.
pub fn record_body(name: Option<String>, fields: Map<String, Value>) -> Map<String, Value> {
    let mut body = Map::new();
    body.extend(name.map(|name| ("name".to_string(), Value::String(name))));
    body.insert("custom_object_fields".into(), Value::Object(fields));
    body
}

/// The id of the record with this external id (Zendesk matches it case-sensitively).
fn find(client: &mut Client, records: &str, external_id: &str) -> Result<Option<String>, Error> {
    let path = format!("{records}?filter[external_ids]={}", encode(external_id));
    let found = client.list_all(&path, "custom_object_records")?;
    Ok(found
        .iter()
        .find(|r| r.get("external_id").and_then(Value::as_str) == Some(external_id))
        .and_then(|r| r.get("id").and_then(Value::as_str))
        .map(str::to_string))
}

/// The row's columns under the object's field keys; a column that names no field fails the
/// row, naming it and the fields there are.
pub fn resolve_fields(
    client: &mut Client,
    key: &str,
    columns: Map<String, Value>,
) -> Result<Map<String, Value>, Error> {
    if columns.is_empty() {
        return Ok(Map::new());
    }
    let mut known = field_keys(client, key, false)?;
    if columns.keys().any(|c| existing_key(&known, c).is_none()) {
        // Maybe a field added since the keys were cached.
        known = field_keys(client, key, true)?;
    }
    let mut fields = Map::new();
    let mut unknown = Vec::new();
    for (column, value) in columns {
        match existing_key(&known, &column) {
            Some(field) => {
                fields.insert(field.clone(), value);
            }
            None => unknown.push(column),
        }
    }
    if !unknown.is_empty() {
        return Err(Error::InvalidEvent(format!(
            "the {key} object has no field {}: its fields are {} (map the columns in \
             `fieldMapping`)",
            unknown.join(", "),
            known.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(fields)
}

/// The object's field keys: cached, or listed (`fresh`: always listed).
fn field_keys(client: &mut Client, key: &str, fresh: bool) -> Result<BTreeSet<String>, Error> {
    let cache_key = format!("fields:custom_object:{key}");
    if !fresh
        && let Some(keys) = client
            .cache_get(&cache_key)
            .and_then(|text| serde_json::from_str::<BTreeSet<String>>(&text).ok())
    {
        return Ok(keys);
    }
    let path = format!("/api/v2/custom_objects/{}/fields", encode(key));
    let reply = client.send("GET", &path, None)?;
    if reply.status == 404 {
        return Err(Error::InvalidConfig(format!(
            "`customObjectKey` {key:?} names no custom object of this account"
        )));
    }
    let answer = if reply.is_success() {
        reply.json()?
    } else {
        return Err(reply.into_error());
    };
    let keys: BTreeSet<String> = answer["custom_object_fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.get("key").and_then(Value::as_str))
        .filter(|k| !k.starts_with("standard::"))
        .map(str::to_string)
        .collect();
    if let Ok(text) = serde_json::to_string(&keys) {
        client.cache_set(&cache_key, &text, FIELDS_TTL_SECONDS);
    }
    Ok(keys)
}
