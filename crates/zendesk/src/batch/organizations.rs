//! The batch's organizations: definitions of their custom fields, then one lookup of the unknown
//! external ids (`show_many`), then `update_many` for the existing and `create_many` for the new
//! ones, polled together. A payload written within the unchanged window costs nothing; an
//! organization whose create fails on a taken name is upserted on its own (which adopts it).

use serde_json::{Map, Value, json};

use super::Batch;
use super::jobs::{Item, JobEnd, Jobs};
use super::plan::FoldedOrg;
use crate::client::{Client, encode};
use crate::fields::{FieldScope, ensure_defined};
use crate::organizations::{self, Organization};
use crate::outcome::Error;

/// The id of each folded organization (`None` when it failed; its events have the error).
pub(crate) fn upsert(
    client: &mut Client,
    jobs: &mut Jobs,
    batch: &mut Batch,
    folded: &[FoldedOrg],
) -> Result<Vec<Option<u64>>, Error> {
    let mut ids: Vec<Option<u64>> = vec![None; folded.len()];
    if folded.is_empty() {
        return Ok(ids);
    }
    let everyone: Vec<usize> = folded.iter().flat_map(|o| o.events.clone()).collect();
    let mark = client.operations().len();
    let orgs = match with_fields(client, folded) {
        Ok(orgs) => orgs,
        Err(error) => return fail_all(batch, &everyone, error).map(|()| ids),
    };
    batch.attribute(client, mark, &everyone);

    // Known and unchanged, known, or to be looked up.
    let mut lookup = Vec::new();
    let mut updates = Vec::new();
    for (i, org) in orgs.iter().enumerate() {
        let unchanged = client.unchanged_window_seconds() > 0;
        let written = unchanged
            .then(|| client.cache_get(&organizations::unchanged_key(org)))
            .flatten()
            .and_then(|id| id.parse().ok());
        let external_id = org.external_id.as_deref().unwrap_or_default();
        match written {
            Some(id) => {
                ids[i] = Some(id);
                batch.succeed(&folded[i].events);
            }
            None => match organizations::cached_external_id(client, external_id) {
                // Nothing to write beyond the id itself: as for one group, no call.
                Some(id) if org.name.is_none() && org.attributes.is_empty() => {
                    ids[i] = Some(id);
                    batch.succeed(&folded[i].events);
                }
                Some(id) => updates.push((i, id)),
                None => lookup.push(i),
            },
        }
    }
    let mark = client.operations().len();
    let looked_up: Vec<usize> = lookup
        .iter()
        .flat_map(|&i| folded[i].events.clone())
        .collect();
    let mut creates = Vec::new();
    match find_many(client, &orgs, &lookup) {
        Ok(found) => {
            for (i, id) in lookup.iter().zip(found) {
                match id {
                    Some(id) => updates.push((*i, id)),
                    None => creates.push(*i),
                }
            }
        }
        Err(error) => fail_all(batch, &looked_up, error)?,
    }
    batch.attribute(client, mark, &looked_up);

    // Submit both kinds of job, then poll them together.
    let mark = client.operations().len();
    let mut submitted: Vec<(String, Vec<usize>, bool)> = Vec::new();
    for chunk in updates.chunks(100) {
        let items: Vec<Value> = chunk.iter().map(|&(i, id)| with_id(&orgs[i], id)).collect();
        let body = json!({ "organizations": items });
        let indexes: Vec<usize> = chunk.iter().map(|&(i, _)| i).collect();
        match jobs.submit(client, "PUT", "/api/v2/organizations/update_many", &body) {
            Ok(job) => submitted.push((job, indexes, false)),
            Err(error) => fail_orgs(batch, folded, &indexes, error)?,
        }
    }
    for chunk in creates.chunks(100) {
        let items: Vec<Value> = chunk
            .iter()
            .map(|&i| orgs[i].body(true)["organization"].clone())
            .collect();
        let body = json!({ "organizations": items });
        match jobs.submit(client, "POST", "/api/v2/organizations/create_many", &body) {
            Ok(job) => submitted.push((job, chunk.to_vec(), true)),
            Err(error) => fail_orgs(batch, folded, chunk, error)?,
        }
    }
    let job_ids: Vec<String> = submitted.iter().map(|(id, _, _)| id.clone()).collect();
    let ends = match jobs.wait_all(client, &job_ids) {
        Ok(ends) => ends,
        Err(error) => {
            let all: Vec<usize> = submitted.iter().flat_map(|(_, i, _)| i.clone()).collect();
            fail_orgs(batch, folded, &all, error)?;
            Default::default()
        }
    };
    let in_jobs: Vec<usize> = submitted
        .iter()
        .flat_map(|(_, indexes, _)| indexes.iter().flat_map(|&i| folded[i].events.clone()))
        .collect();
    batch.attribute(client, mark, &in_jobs);

    for (job, indexes, created) in &submitted {
        let end = ends.get(job).cloned().unwrap_or(JobEnd::Unfinished);
        for (position, &i) in indexes.iter().enumerate() {
            let what = format!(
                "organization {}",
                orgs[i].external_id.as_deref().unwrap_or("?")
            );
            let item = end.item(position, &what).cloned();
            let id = match item {
                Ok(Item::Saved(id)) => Ok(id),
                // Its name is taken (or it was made concurrently): the single upsert adopts it.
                Ok(item) if *created && item.is_duplicate() => {
                    let mark = client.operations().len();
                    let id = organizations::upsert(client, &orgs[i]);
                    batch.attribute(client, mark, &folded[i].events);
                    id
                }
                Ok(item) => Err(item.error(&what).expect("a failed item has an error")),
                Err(error) => Err(error),
            };
            match id {
                Ok(id) => {
                    if let Some(external_id) = &orgs[i].external_id {
                        organizations::remember_external_id(client, external_id, id);
                    }
                    organizations::remember_written(client, &orgs[i], id);
                    ids[i] = Some(id);
                    batch.succeed(&folded[i].events);
                }
                Err(error) => fail_orgs(batch, folded, &[i], error)?,
            }
        }
    }
    Ok(ids)
}

/// The folded organizations with their custom fields defined and written as
/// `organization_fields` (one definitions read for all of them).
fn with_fields(client: &mut Client, folded: &[FoldedOrg]) -> Result<Vec<Organization>, Error> {
    let mut all = Map::new();
    for org in folded {
        all.extend(org.org.custom_fields.clone());
    }
    ensure_defined(client, FieldScope::Organization, &all)?;
    folded
        .iter()
        .map(|f| {
            let mut org = f.org.clone();
            let fields = ensure_defined(client, FieldScope::Organization, &org.custom_fields)?;
            if !fields.is_empty() {
                org.attributes
                    .insert("organization_fields".into(), Value::Object(fields));
            }
            Ok(org)
        })
        .collect()
}

/// `organizations/show_many?external_ids=`: the id of each of `wanted` (by position), if any.
fn find_many(
    client: &mut Client,
    orgs: &[Organization],
    wanted: &[usize],
) -> Result<Vec<Option<u64>>, Error> {
    let mut found = Vec::with_capacity(wanted.len());
    for chunk in wanted.chunks(100) {
        let external_ids: Vec<&str> = chunk
            .iter()
            .map(|&i| orgs[i].external_id.as_deref().unwrap_or_default())
            .collect();
        let list: Vec<String> = external_ids.iter().map(|e| encode(e)).collect();
        let path = format!(
            "/api/v2/organizations/show_many?external_ids={}",
            list.join(",")
        );
        let answer = client.call("GET", &path, None)?;
        let listed = answer["organizations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        found.extend(external_ids.iter().map(|wanted| {
            listed
                .iter()
                .find(|o| {
                    o["external_id"]
                        .as_str()
                        .is_some_and(|e| e.eq_ignore_ascii_case(wanted))
                })
                .and_then(|o| o["id"].as_u64())
        }));
    }
    Ok(found)
}

fn with_id(org: &Organization, id: u64) -> Value {
    let mut item = org.body(true)["organization"].clone();
    item["id"] = id.into();
    item
}

/// A 401 fails the whole batch; any other error fails these events.
pub(crate) fn fail_all(batch: &mut Batch, events: &[usize], error: Error) -> Result<(), Error> {
    if matches!(error, Error::Rejected { status: 401, .. }) {
        return Err(error);
    }
    batch.fail(events, &error);
    Ok(())
}

fn fail_orgs(
    batch: &mut Batch,
    folded: &[FoldedOrg],
    indexes: &[usize],
    error: Error,
) -> Result<(), Error> {
    let events: Vec<usize> = indexes
        .iter()
        .flat_map(|&i| folded[i].events.clone())
        .collect();
    fail_all(batch, &events, error)
}
