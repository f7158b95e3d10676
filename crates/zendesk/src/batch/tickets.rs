//! The batch's ticket rows (named by external id): each ticket's id is remembered or looked up
//! (`GET /tickets?external_id=`: Zendesk looks tickets up one at a time), then the existing ones
//! go to `tickets/update_many` and the new ones to `tickets/create_many`, 100 a job, polled
//! together. The sync modes keep their meaning (insert skips an existing ticket as `exists`,
//! update a missing one as `not found`). A ticket created here is remembered, so the next sync of
//! the same rows costs the bulk calls alone.

use serde_json::{Value, json};

use super::Batch;
use super::jobs::{Item, Jobs, Step};
use crate::client::Client;
use crate::outcome::Error;
use crate::records::tickets::{self, TicketRow};
use crate::records::{Identifier, exists, not_found};
use crate::sync_config::SyncMode;

/// A ticket row of the batch.
pub(crate) struct FoldedTicket {
    pub external_id: String,
    pub row: TicketRow,
    pub event: usize,
}

pub(crate) fn sync(
    client: &mut Client,
    jobs: &mut Jobs,
    batch: &mut Batch,
    mode: SyncMode,
    rows: &[FoldedTicket],
) -> Result<(), Error> {
    let mut updates: Vec<(usize, Value)> = Vec::new();
    let mut creates: Vec<(usize, Value)> = Vec::new();
    for (i, ticket) in rows.iter().enumerate() {
        let identifier = Identifier::ExternalId(ticket.external_id.clone());
        let item = batch.run_for(client, &[ticket.event], |c| {
            let found = tickets::find_by_external_id(c, &ticket.external_id)?;
            Ok(match (mode, found) {
                (SyncMode::Insert, Some(id)) => Err(exists("ticket", id, &identifier)),
                (SyncMode::Update, None) => Err(not_found("ticket", &identifier)),
                (_, Some(id)) => {
                    let mut item = ticket.row.updating(c)?;
                    item["id"] = id.into();
                    Ok((true, item))
                }
                (_, None) => Ok((false, ticket.row.creating(c)?)),
            })
        })?;
        match item {
            None => {}
            Some(Err(skipped)) => batch.skip(ticket.event, skipped),
            Some(Ok((true, item))) => updates.push((i, item)),
            Some(Ok((false, item))) => creates.push((i, item)),
        }
    }
    let events_of =
        |items: &[usize]| -> Vec<usize> { items.iter().map(|&i| rows[i].event).collect() };
    let mut step = Step::new(jobs, batch, client, &events_of);
    for (method, path, items) in [
        ("PUT", "/api/v2/tickets/update_many", &updates),
        ("POST", "/api/v2/tickets/create_many", &creates),
    ] {
        for chunk in items.chunks(100) {
            let tickets: Vec<&Value> = chunk.iter().map(|(_, item)| item).collect();
            let body = json!({ "tickets": tickets });
            let indexes = chunk.iter().map(|(i, _)| *i).collect();
            step.submit(client, method, path, Some(&body), indexes)?;
        }
    }
    let name = |i: usize| format!("ticket external_id {:?}", rows[i].external_id);
    let Some(results) = step.results(client, name)? else {
        return Ok(());
    };
    for (i, item) in results {
        let ticket = &rows[i];
        match item {
            Ok(Item::Saved(id)) => {
                tickets::remember(client, &ticket.external_id, id);
                batch.succeed(&[ticket.event]);
            }
            Ok(failed) => {
                let error = failed.error(&name(i)).unwrap_or_else(|| Error::Retryable {
                    message: format!("{}: its bulk job reported no id", name(i)),
                    retry_after_seconds: None,
                });
                batch.fail_or_abort(&[ticket.event], error)?;
            }
            Err(error) => batch.fail_or_abort(&[ticket.event], error)?,
        }
    }
    Ok(())
}
