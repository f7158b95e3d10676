//! The batch's organizations: definitions of their custom fields, then one lookup of the unknown
//! external ids (`show_many`), then `update_many` for the existing and `create_many` for the new
//! ones, polled together. A payload written within the unchanged window costs nothing; an
//! organization whose create fails on a taken name is upserted on its own (which adopts it).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::Batch;
use super::jobs::{Jobs, Step};
use super::lookup::ids_by_external_id;
use super::plan::FoldedOrg;
use crate::client::Client;
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
    let events_of = |indexes: &[usize]| -> Vec<usize> {
        indexes
            .iter()
            .flat_map(|&i| folded[i].events.clone())
            .collect()
    };
    let all: Vec<usize> = (0..folded.len()).collect();
    let Some(orgs) = batch.run_for(client, &events_of(&all), |c| with_fields(c, folded))? else {
        return Ok(ids);
    };

    // Written within the window, known (nothing or something to write), or to be looked up.
    let mut lookup = Vec::new();
    let mut updates = Vec::new();
    for (i, org) in orgs.iter().enumerate() {
        let written = (client.unchanged_window_seconds() > 0)
            .then(|| client.cache_get(&organizations::unchanged_key(org)))
            .flatten()
            .and_then(|id| id.parse().ok());
        let external_id = org.external_id.as_deref().unwrap_or_default();
        let known = organizations::cached_external_id(client, external_id);
        match (written, known) {
            (Some(id), _) => ids[i] = Some(id),
            // Nothing to write beyond the id itself: as for one group, no call.
            (None, Some(id)) if org.name.is_none() && org.attributes.is_empty() => {
                ids[i] = Some(id)
            }
            (None, Some(id)) => updates.push((i, id)),
            (None, None) => lookup.push(i),
        }
        if ids[i].is_some() {
            batch.succeed(&folded[i].events);
        }
    }
    let mut creates = Vec::new();
    let external_ids: Vec<&str> = (lookup.iter())
        .map(|&i| orgs[i].external_id.as_deref().unwrap_or_default())
        .collect();
    let found = batch.run_for(client, &events_of(&lookup), |c| {
        ids_by_external_id(c, "organizations", &external_ids)
    })?;
    for (i, id) in lookup.iter().zip(found.unwrap_or_default()) {
        match id {
            Some(id) => updates.push((*i, id)),
            None => creates.push(*i),
        }
    }

    // Both kinds of job, polled together.
    let mut step = Step::new(jobs, batch, client, &events_of);
    for chunk in updates.chunks(100) {
        let items: Vec<Value> = chunk.iter().map(|&(i, id)| with_id(&orgs[i], id)).collect();
        let indexes: Vec<usize> = chunk.iter().map(|&(i, _)| i).collect();
        let body = json!({ "organizations": items });
        let path = "/api/v2/organizations/update_many";
        step.submit(client, "PUT", path, Some(&body), indexes)?;
    }
    for chunk in creates.chunks(100) {
        let items: Vec<Value> = chunk
            .iter()
            .map(|&i| orgs[i].body(true)["organization"].clone())
            .collect();
        let body = json!({ "organizations": items });
        let path = "/api/v2/organizations/create_many";
        step.submit(client, "POST", path, Some(&body), chunk.to_vec())?;
    }
    let name = |i: usize| {
        format!(
            "organization {}",
            orgs[i].external_id.as_deref().unwrap_or("?")
        )
    };
    let Some(results) = step.results(client, name)? else {
        return Ok(ids);
    };
    let created: HashSet<usize> = creates.into_iter().collect();
    for (i, item) in results {
        let id = match item {
            // Its name is taken (or it was made concurrently): the single upsert adopts it.
            Ok(item) if created.contains(&i) && item.is_duplicate() => {
                batch.run_for(client, &folded[i].events, |c| {
                    organizations::upsert(c, &orgs[i])
                })?
            }
            Ok(item) => match item.into_id(&name(i)) {
                Ok(id) => Some(id),
                Err(error) => batch
                    .fail_or_abort(&folded[i].events, error)
                    .map(|()| None)?,
            },
            Err(error) => batch
                .fail_or_abort(&folded[i].events, error)
                .map(|()| None)?,
        };
        if let Some(id) = id {
            if let Some(external_id) = &orgs[i].external_id {
                organizations::remember_external_id(client, external_id, id);
            }
            organizations::remember_written(client, &orgs[i], id);
            ids[i] = Some(id);
            batch.succeed(&folded[i].events);
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

fn with_id(org: &Organization, id: u64) -> Value {
    let mut item = org.body(true)["organization"].clone();
    item["id"] = id.into();
    item
}
