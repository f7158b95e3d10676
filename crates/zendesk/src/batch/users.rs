//! The batch's users: definitions of their custom fields, then `users/create_or_update_many` in
//! jobs of 100, polled together. When the account has bulk user import off (403), the tenant
//! remembers it and falls back: `users/update_many` for users whose id is known, single
//! `create_or_update` calls for the others.

use serde_json::{Map, Value, json};

use super::jobs::{Item, JobEnd, Jobs};
use super::organizations::fail_all;
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
    if folded.is_empty() {
        return Ok(ids);
    }
    let everyone: Vec<usize> = folded.iter().flat_map(|u| u.events.clone()).collect();
    let mark = client.operations().len();
    let items = match with_fields(client, folded) {
        Ok(items) => items,
        Err(error) => return fail_all(batch, &everyone, error).map(|()| ids),
    };
    batch.attribute(client, mark, &everyone);

    let all: Vec<usize> = (0..folded.len()).collect();
    let mut singles = Vec::new();
    let mut submitted: Vec<(String, Vec<usize>)> = Vec::new();
    let mark = client.operations().len();
    if !bulk_is_off(client) {
        for chunk in all.chunks(100) {
            let body = json!({"users": chunk.iter().map(|&i| &items[i]).collect::<Vec<_>>()});
            match jobs.submit(client, "POST", "/api/v2/users/create_or_update_many", &body) {
                Ok(job) => submitted.push((job, chunk.to_vec())),
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
                Err(error) => fail_users(batch, folded, chunk, error)?,
            }
        }
    }
    if bulk_is_off(client) {
        let mut known = Vec::new();
        for &i in &all {
            match known_id(client, &items[i]) {
                Some(id) => known.push((i, id)),
                None => singles.push(i),
            }
        }
        for chunk in known.chunks(100) {
            let body = json!({"users": chunk.iter().map(|&(i, id)| {
                let mut item = items[i].clone();
                item["id"] = id.into();
                item
            }).collect::<Vec<_>>()});
            let indexes: Vec<usize> = chunk.iter().map(|&(i, _)| i).collect();
            match jobs.submit(client, "PUT", "/api/v2/users/update_many", &body) {
                Ok(job) => submitted.push((job, indexes)),
                Err(error) => fail_users(batch, folded, &indexes, error)?,
            }
        }
    }
    let job_ids: Vec<String> = submitted.iter().map(|(id, _)| id.clone()).collect();
    let ends = match jobs.wait_all(client, &job_ids) {
        Ok(ends) => ends,
        Err(error) => {
            let all: Vec<usize> = submitted.iter().flat_map(|(_, i)| i.clone()).collect();
            fail_users(batch, folded, &all, error)?;
            Default::default()
        }
    };
    let in_jobs: Vec<usize> = submitted
        .iter()
        .flat_map(|(_, indexes)| indexes.iter().flat_map(|&i| folded[i].events.clone()))
        .collect();
    batch.attribute(client, mark, &in_jobs);

    for (job, indexes) in &submitted {
        let end = ends.get(job).cloned().unwrap_or(JobEnd::Unfinished);
        for (position, &i) in indexes.iter().enumerate() {
            let what = folded[i].name();
            let result = end.item(position, &what).and_then(|item| match item {
                Item::Saved(id) => Ok(*id),
                failed => Err(failed.error(&what).expect("a failed item has an error")),
            });
            settle(client, batch, folded, &items, &mut ids, i, result)?;
        }
    }
    for i in singles {
        let mark = client.operations().len();
        let result = users::create_or_update(client, as_map(&items[i])).and_then(|user| {
            user.get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| crate::client::unexpected(200, "no `user.id`"))
        });
        batch.attribute(client, mark, &folded[i].events);
        settle(client, batch, folded, &items, &mut ids, i, result)?;
    }
    Ok(ids)
}

fn settle(
    client: &Client,
    batch: &mut Batch,
    folded: &[FoldedUser],
    items: &[Value],
    ids: &mut [Option<u64>],
    i: usize,
    result: Result<u64, Error>,
) -> Result<(), Error> {
    match result {
        Ok(id) => {
            let text = |key: &str| items[i].get(key).and_then(Value::as_str);
            users::remember(client, id, text("external_id"), text("email"));
            ids[i] = Some(id);
            batch.succeed(&folded[i].events);
            Ok(())
        }
        Err(error) => fail_users(batch, folded, &[i], error),
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

fn fail_users(
    batch: &mut Batch,
    folded: &[FoldedUser],
    indexes: &[usize],
    error: Error,
) -> Result<(), Error> {
    let events: Vec<usize> = indexes
        .iter()
        .flat_map(|&i| folded[i].events.clone())
        .collect();
    fail_all(batch, &events, error)
}
