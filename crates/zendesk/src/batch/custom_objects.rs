//! The batch's custom object rows: upserts through one `create_or_update_by_external_id` job
//! and deletes through one `delete_by_external_id` job per 100 rows (`custom_objects/{key}/jobs`),
//! polled together. The columns are matched to the object's fields first (one read, cached); a
//! row with a column the object lacks fails alone. A delete of a record that is not there is
//! done, with the reason "gone".

use serde_json::{Value, json};

use super::Batch;
use super::jobs::{Item, Jobs, Step};
use crate::client::{Client, encode};
use crate::outcome::Error;
use crate::records::custom_objects::{BulkRecord, record_body, resolve_fields};

/// A custom object row of the batch.
pub(crate) struct FoldedCustomRecord {
    pub record: BulkRecord,
    pub event: usize,
}

pub(crate) fn sync(
    client: &mut Client,
    jobs: &mut Jobs,
    batch: &mut Batch,
    key: &str,
    rows: &[FoldedCustomRecord],
) -> Result<(), Error> {
    let mut upserts: Vec<(usize, Value)> = Vec::new();
    let mut deletes: Vec<(usize, Value)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        match &row.record {
            BulkRecord::Upsert {
                external_id,
                name,
                columns,
            } => {
                let resolved = batch.run_for(client, &[row.event], |c| {
                    resolve_fields(c, key, columns.clone())
                })?;
                if let Some(fields) = resolved {
                    let mut item = record_body(name.clone(), fields);
                    item.insert("external_id".into(), external_id.clone().into());
                    upserts.push((i, Value::Object(item)));
                }
            }
            BulkRecord::Delete { external_id } => deletes.push((i, external_id.clone().into())),
        }
    }
    let path = format!("/api/v2/custom_objects/{}/jobs", encode(key));
    let events_of =
        |items: &[usize]| -> Vec<usize> { items.iter().map(|&i| rows[i].event).collect() };
    let mut step = Step::new(jobs, batch, client, &events_of);
    for (action, items) in [
        ("create_or_update_by_external_id", &upserts),
        ("delete_by_external_id", &deletes),
    ] {
        for chunk in items.chunks(100) {
            let values: Vec<&Value> = chunk.iter().map(|(_, item)| item).collect();
            let body = json!({"job": {"action": action, "items": values}});
            let indexes = chunk.iter().map(|(i, _)| *i).collect();
            step.submit(client, "POST", &path, Some(&body), indexes)?;
        }
    }
    let name = |i: usize| format!("{key} record {}", external_id(&rows[i].record));
    let Some(results) = step.results(client, name)? else {
        return Ok(());
    };
    for (i, item) in results {
        let event = rows[i].event;
        match (item, &rows[i].record) {
            (Ok(Item::Saved(_) | Item::Done), _) => batch.succeed(&[event]),
            (Ok(Item::Failed { error, .. }), BulkRecord::Delete { external_id })
                if error == "RecordNotFound" =>
            {
                let reason = format!("gone: no {key} record has external_id {external_id:?}");
                batch.skip(event, reason);
            }
            (Ok(failed), _) => {
                let error = failed.error(&name(i)).expect("a failed item has an error");
                batch.fail_or_abort(&[event], error)?;
            }
            (Err(error), _) => batch.fail_or_abort(&[event], error)?,
        }
    }
    Ok(())
}

fn external_id(record: &BulkRecord) -> &str {
    match record {
        BulkRecord::Upsert { external_id, .. } | BulkRecord::Delete { external_id } => external_id,
    }
}
