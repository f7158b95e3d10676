//! The batch's delete rows (with `allowDeletes`): users and organizations named by external id
//! are looked up 100 a call (`show_many`; remembered ids skip it), and every record found is
//! deleted by `destroy_many?ids=` (100 a job: users soft-deleted, as one at a time), the jobs
//! polled together. A record that is not there, or gone by the time its job ran
//! (`RecordNotFound`), is done with the reason "gone", as a delete one at a time says.

use super::Batch;
use super::jobs::{Item, Jobs, Step};
use super::lookup::ids_by_external_id;
use super::plan::FoldedDelete;
use crate::client::Client;
use crate::organizations;
use crate::outcome::Error;
use crate::records::{Identifier, gone};
use crate::sync_config::ObjectType;
use crate::users::{self, Person};

pub(crate) fn destroy(
    client: &mut Client,
    jobs: &mut Jobs,
    batch: &mut Batch,
    deletes: &[FoldedDelete],
) -> Result<(), Error> {
    for object in [
        ObjectType::Users,
        ObjectType::Organizations,
        ObjectType::Tickets,
    ] {
        let rows: Vec<&FoldedDelete> = deletes.iter().filter(|d| d.object == object).collect();
        if !rows.is_empty() {
            destroy_rows(client, jobs, batch, object, &rows)?;
        }
    }
    Ok(())
}

fn destroy_rows(
    client: &mut Client,
    jobs: &mut Jobs,
    batch: &mut Batch,
    object: ObjectType,
    rows: &[&FoldedDelete],
) -> Result<(), Error> {
    let (collection, noun) = match object {
        ObjectType::Users => ("users", "user"),
        ObjectType::Organizations => ("organizations", "organization"),
        _ => ("tickets", "ticket"),
    };
    // Each row's id: given, remembered, or looked up (a failed lookup fails its rows).
    let mut ids: Vec<Option<u64>> = (rows.iter())
        .map(|r| known_id(client, object, &r.identifier))
        .collect();
    let lookup: Vec<usize> = (0..rows.len()).filter(|&i| ids[i].is_none()).collect();
    let external_ids: Vec<&str> = (lookup.iter())
        .map(|&i| match &rows[i].identifier {
            Identifier::ExternalId(e) => e.as_str(),
            _ => "",
        })
        .collect();
    let events: Vec<usize> = lookup.iter().map(|&i| rows[i].event).collect();
    let found = batch.run_for(client, &events, |c| {
        ids_by_external_id(c, collection, &external_ids)
    })?;
    for (&i, id) in lookup.iter().zip(found.into_iter().flatten()) {
        ids[i] = id;
    }

    let mut present = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        match ids[i] {
            _ if batch.is_failed(row.event) => {}
            Some(id) => present.push((i, id)),
            None => batch.skip(row.event, gone(noun, &row.identifier)),
        }
    }
    let events_of =
        |items: &[usize]| -> Vec<usize> { items.iter().map(|&i| rows[i].event).collect() };
    let mut step = Step::new(jobs, batch, client, &events_of);
    for chunk in present.chunks(100) {
        let list: Vec<String> = chunk.iter().map(|(_, id)| id.to_string()).collect();
        let path = format!("/api/v2/{collection}/destroy_many?ids={}", list.join(","));
        let items = chunk.iter().map(|&(i, _)| i).collect();
        step.submit(client, "DELETE", &path, None, items)?;
    }
    let name = |i: usize| format!("{noun} {}", rows[i].identifier);
    let Some(results) = step.results(client, name)? else {
        return Ok(());
    };
    for (i, item) in results {
        let row = rows[i];
        match item {
            Ok(Item::Saved(_)) => {
                forget(client, row);
                batch.succeed(&[row.event]);
            }
            Ok(Item::Failed { error, .. }) if error == "RecordNotFound" => {
                forget(client, row);
                batch.skip(row.event, gone(noun, &row.identifier));
            }
            Ok(failed) => {
                let error = failed.error(&name(i)).expect("a failed item has an error");
                batch.fail_or_abort(&[row.event], error)?;
            }
            Err(error) => batch.fail_or_abort(&[row.event], error)?,
        }
    }
    Ok(())
}

fn known_id(client: &Client, object: ObjectType, identifier: &Identifier) -> Option<u64> {
    match (identifier, object) {
        (Identifier::Id(id), _) => Some(*id),
        (Identifier::ExternalId(e), ObjectType::Users) => users::cached(client, &users::ext_key(e)),
        (Identifier::ExternalId(e), ObjectType::Organizations) => {
            organizations::cached_external_id(client, e)
        }
        _ => None,
    }
}

/// A deleted record's remembered ids are stale.
fn forget(client: &Client, row: &FoldedDelete) {
    if let Identifier::ExternalId(external_id) = &row.identifier {
        match row.object {
            ObjectType::Users => users::forget(client, &Person::with_external_id(external_id)),
            ObjectType::Organizations => organizations::forget_external_id(client, external_id),
            _ => {}
        }
    }
}
