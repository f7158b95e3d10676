//! The batch's memberships: the ones not known yet, in `organization_memberships/create_many`
//! jobs of 100. "Already a member" is success, as for one event.

use serde_json::json;

use super::Batch;
use super::jobs::{Item, JobEnd, Jobs};
use super::organizations::fail_all;
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
    let (known, new): (Vec<&WantedMembership>, Vec<&WantedMembership>) = wanted
        .iter()
        .partition(|w| memberships::is_known(client, w.user_id, w.organization_id));
    for membership in known {
        batch.succeed(&membership.events);
    }
    let mark = client.operations().len();
    let mut submitted = Vec::new();
    for chunk in new.chunks(100) {
        let items: Vec<_> = chunk
            .iter()
            .map(|w| json!({"user_id": w.user_id, "organization_id": w.organization_id}))
            .collect();
        let body = json!({ "organization_memberships": items });
        match jobs.submit(
            client,
            "POST",
            "/api/v2/organization_memberships/create_many",
            &body,
        ) {
            Ok(job) => submitted.push((job, chunk.to_vec())),
            Err(error) => fail_all(batch, &events_of(chunk), error)?,
        }
    }
    let job_ids: Vec<String> = submitted.iter().map(|(id, _)| id.clone()).collect();
    let ends = match jobs.wait_all(client, &job_ids) {
        Ok(ends) => ends,
        Err(error) => {
            let all: Vec<&WantedMembership> =
                submitted.iter().flat_map(|(_, c)| c.clone()).collect();
            fail_all(batch, &events_of(&all), error)?;
            Default::default()
        }
    };
    let all: Vec<&WantedMembership> = submitted.iter().flat_map(|(_, c)| c.clone()).collect();
    batch.attribute(client, mark, &events_of(&all));
    for (job, chunk) in &submitted {
        let end = ends.get(job).cloned().unwrap_or(JobEnd::Unfinished);
        for (position, membership) in chunk.iter().enumerate() {
            let what = format!(
                "membership of user {} in organization {}",
                membership.user_id, membership.organization_id
            );
            match end.item(position, &what) {
                Ok(item) if matches!(item, Item::Saved(_)) || item.is_duplicate() => {
                    memberships::remember(client, membership.user_id, membership.organization_id);
                    batch.succeed(&membership.events);
                }
                Ok(item) => {
                    let error = item.error(&what).expect("a failed item has an error");
                    batch.fail(&membership.events, &error);
                }
                Err(error) => batch.fail(&membership.events, &error),
            }
        }
    }
    Ok(())
}

fn events_of(memberships: &[&WantedMembership]) -> Vec<usize> {
    memberships.iter().flat_map(|m| m.events.clone()).collect()
}
