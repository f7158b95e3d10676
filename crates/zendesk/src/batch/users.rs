//! The batch's users: definitions of their custom fields, then `users/create_or_update_many` in
//! jobs of 100, polled together. When the account has bulk user import off (403), the tenant
//! remembers it and falls back: `users/update_many` for users whose id is known or found by
//! external id (`show_many`, 100 a call), single `create_or_update` calls for the others.

use serde_json::{Map, Value, json};

use super::jobs::{Jobs, Submitted};
use super::lookup::{external_id_of, ids_by_external_id};
use super::plan::FoldedUser;
use super::{Batch, bulk_is_off, remember_bulk_off};
use crate::client::Client;
use crate::fields::{FieldScope, ensure_defined};
use crate::host::Level;
use crate::outcome::Error;
use crate::users;

/// The id of each folded user (`None` when it failed; its events have the error).
pub(crate) fn upsert(
    client: &mut Client,
    jobs: &mut Jobs,
    batch: &mut Batch,
    folded: &[FoldedUser],
) -> Result<Vec<Option<u64>>, Error> {
    let mut ids: Vec<Option<u64>> = vec![None; folded.len()];
    let events_of = |indexes: &[usize]| -> Vec<usize> {
        indexes
            .iter()
            .flat_map(|&i| folded[i].events.clone())
            .collect()
    };
    let all: Vec<usize> = (0..folded.len()).collect();
    let Some(items) = batch.run_for(client, &events_of(&all), |c| with_fields(c, folded))? else {
        return Ok(ids);
    };

    let mark = client.operations().len();
    let mut submitted = Submitted::default();
    if !bulk_is_off(client) {
        for chunk in all.chunks(100) {
            let body = json!({"users": chunk.iter().map(|&i| &items[i]).collect::<Vec<_>>()});
            match jobs.submit(
                client,
                "POST",
                "/api/v2/users/create_or_update_many",
                Some(&body),
            ) {
                Ok(job) => submitted.push(job, chunk.to_vec()),
                Err(Error::Rejected { status: 403, .. }) => {
                    if remember_bulk_off(client) {
                        client.log(
                            Level::Warn,
                            "bulk user import is off for this Zendesk account (403): falling back \
                             to users/update_many for known users and single upserts for new ones",
                            &[],
                        );
                    }
                    break;
                }
                Err(error) => batch.fail_or_abort(&events_of(chunk), error)?,
            }
        }
    }
    let mut singles = Vec::new();
    if bulk_is_off(client) {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for &i in &all {
            match known_id(client, &items[i]) {
                Some(id) => known.push((i, id)),
                None => unknown.push(i),
            }
        }
        // Existing users by external id, found 100 a call: updated in bulk too.
        let (by_external_id, no_external_id): (Vec<usize>, Vec<usize>) = unknown
            .into_iter()
            .partition(|&i| items[i].get("external_id").is_some());
        singles.extend(no_external_id);
        let external_ids: Vec<&str> = (by_external_id.iter())
            .map(|&i| external_id_of(&items[i]))
            .collect();
        let found = batch.run_for(client, &events_of(&by_external_id), |c| {
            ids_by_external_id(c, "users", &external_ids)
        })?;
        for (&i, id) in by_external_id.iter().zip(found.unwrap_or_default()) {
            match id {
                Some(id) => known.push((i, id)),
                None => singles.push(i),
            }
        }
        singles.sort_unstable();
        for chunk in known.chunks(100) {
            let with_ids: Vec<Value> = chunk
                .iter()
                .map(|&(i, id)| {
                    let mut item = items[i].clone();
                    item["id"] = id.into();
                    item
                })
                .collect();
            let indexes: Vec<usize> = chunk.iter().map(|&(i, _)| i).collect();
            let body = json!({ "users": with_ids });
            match jobs.submit(client, "PUT", "/api/v2/users/update_many", Some(&body)) {
                Ok(job) => submitted.push(job, indexes),
                Err(error) => batch.fail_or_abort(&events_of(&indexes), error)?,
            }
        }
    }
    let polled = jobs.results(client, &submitted, |i| folded[i].name());
    batch.attribute(client, mark, &events_of(&submitted.items()));
    match polled {
        Ok(results) => {
            for (i, item) in results {
                let id = item.and_then(|item| item.into_id(&folded[i].name()));
                settle(client, batch, &folded[i], &items[i], &mut ids[i], id)?;
            }
        }
        Err(error) => batch.fail_or_abort(&events_of(&submitted.items()), error)?,
    }
    for i in singles {
        let upsert = |c: &mut Client| {
            let user = users::create_or_update(c, as_map(&items[i]))?;
            user.get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| crate::client::unexpected(200, "no `user.id`"))
        };
        if let Some(id) = batch.run_for(client, &folded[i].events, upsert)? {
            settle(client, batch, &folded[i], &items[i], &mut ids[i], Ok(id))?;
        }
    }
    Ok(ids)
}

/// Remembers a saved user's id under what the item named it by, or fails its events.
fn settle(
    client: &Client,
    batch: &mut Batch,
    user: &FoldedUser,
    item: &Value,
    id_slot: &mut Option<u64>,
    result: Result<u64, Error>,
) -> Result<(), Error> {
    match result {
        Ok(id) => {
            let text = |key: &str| item.get(key).and_then(Value::as_str);
            users::remember(client, id, text("external_id"), text("email"));
            *id_slot = Some(id);
            batch.succeed(&user.events);
            Ok(())
        }
        Err(error) => batch.fail_or_abort(&user.events, error),
    }
}

/// The users' `user` objects with their custom fields defined and written as `user_fields`.
fn with_fields(client: &mut Client, folded: &[FoldedUser]) -> Result<Vec<Value>, Error> {
    let mut all = Map::new();
    for user in folded {
        all.extend(user.custom.clone());
    }
    ensure_defined(client, FieldScope::User, &all)?;
    folded
        .iter()
        .map(|user| {
            let mut attrs = user.attrs.clone();
            let fields = ensure_defined(client, FieldScope::User, &user.custom)?;
            if !fields.is_empty() {
                attrs.insert("user_fields".into(), Value::Object(fields));
            }
            Ok(Value::Object(attrs))
        })
        .collect()
}

/// The remembered id of the user an item names (by external id, else email).
fn known_id(client: &Client, item: &Value) -> Option<u64> {
    let by = |key: &str, cache_key: fn(&str) -> String| {
        item.get(key)
            .and_then(Value::as_str)
            .and_then(|value| users::cached(client, &cache_key(value)))
    };
    by("external_id", users::ext_key).or_else(|| by("email", users::email_key))
}

fn as_map(item: &Value) -> Map<String, Value> {
    item.as_object().cloned().unwrap_or_default()
}
