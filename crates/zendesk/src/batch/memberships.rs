//! The batch's memberships: the ones not known yet, in `organization_memberships/create_many`
//! jobs of 100. "Already a member" is success, as for one event.

use serde_json::json;

use super::Batch;
use super::jobs::{Item, Jobs, Step};
use super::plan::WantedMembership;
use crate::client::Client;
use crate::memberships;
use crate::outcome::Error;

pub(crate) fn add(
    client: &mut Client,
    jobs: &mut Jobs,
    batch: &mut Batch,
    wanted: &[WantedMembership],
) -> Result<(), Error> {
    let events_of = |indexes: &[usize]| -> Vec<usize> {
        indexes
            .iter()
            .flat_map(|&i| wanted[i].events.clone())
            .collect()
    };
    let mut new = Vec::new();
    for (i, membership) in wanted.iter().enumerate() {
        match memberships::is_known(client, membership.user_id, membership.organization_id) {
            true => batch.succeed(&membership.events),
            false => new.push(i),
        }
    }
    let mut step = Step::new(jobs, batch, client, &events_of);
    for chunk in new.chunks(100) {
        let items: Vec<_> = chunk
            .iter()
            .map(|&i| json!({"user_id": wanted[i].user_id, "organization_id": wanted[i].organization_id}))
            .collect();
        let body = json!({ "organization_memberships": items });
        let path = "/api/v2/organization_memberships/create_many";
        step.submit(client, "POST", path, Some(&body), chunk.to_vec())?;
    }
    let name = |i: usize| {
        format!(
            "membership of user {} in organization {}",
            wanted[i].user_id, wanted[i].organization_id
        )
    };
    let Some(results) = step.results(client, name)? else {
        return Ok(());
    };
    for (i, item) in results {
        let membership = &wanted[i];
        match item {
            Ok(item) if matches!(item, Item::Saved(_)) || item.is_duplicate() => {
                memberships::remember(client, membership.user_id, membership.organization_id);
                batch.succeed(&membership.events);
            }
            Ok(item) => {
                let error = item.error(&name(i)).expect("a failed item has an error");
                batch.fail(&membership.events, &error);
            }
            Err(error) => batch.fail(&membership.events, &error),
        }
    }
    Ok(())
}
