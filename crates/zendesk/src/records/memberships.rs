//! Organization memberships as a synced object (Hightouch syncs them keyed
//! `user_email:org_external_id`): a row names a user (`user_email` or `user_external_id`) and
//! an organization (`organization_external_id`). `insert` and `upsert` make the membership
//! (already a member is done); `action: delete` removes it when `allowDeletes` is on (not a
//! member is done). A membership has nothing to update, so `update` skips.

use super::Row;
use crate::client::Client;
use crate::config::Config;
use crate::outcome::Error;
use crate::record::{Record, RecordAction};
use crate::sync_config::SyncMode;
use crate::users::{self, Person};
use crate::{memberships, organizations};

pub fn sync(
    client: &mut Client,
    config: &Config,
    record: &Record,
) -> Result<Option<String>, Error> {
    let sync = &config.sync;
    let mut row = Row::mapped(client, record, &sync.field_mapping);
    let person = Person {
        external_id: row.take_text("user_external_id")?,
        email: row.take_text("user_email")?,
        name: None,
    };
    if person.external_id.is_none() && person.email.is_none() {
        return Err(Error::InvalidEvent(
            "a membership row needs `user_email` or `user_external_id` (map a column to one in \
             `fieldMapping`)"
                .into(),
        ));
    }
    let Some(organization) = row.take_text("organization_external_id")? else {
        return Err(Error::InvalidEvent(
            "a membership row needs `organization_external_id`".into(),
        ));
    };
    let deleting = record.action == RecordAction::Delete;
    if deleting {
        super::deletes_allowed(config)?;
    }
    if !deleting && sync.sync_mode == SyncMode::Update {
        return Ok(Some(
            "nothing to update: a membership has no attributes (syncMode update)".into(),
        ));
    }
    let who = users::describe(&person);
    let user = users::find(client, &person, true)?.map(|found| found.id);
    let org = organizations::find_by_external_id(client, &organization)?;
    match (deleting, user, org) {
        (true, Some(user), Some(org)) => memberships::remove(client, user, org).map(|()| None),
        (true, _, _) => Ok(Some(format!(
            "gone: no membership of user {who} in organization {organization:?} (no such user \
             or organization)"
        ))),
        (false, Some(user), Some(org)) => memberships::add(client, user, org).map(|()| None),
        // The user's identify may still be on its way: retried within the search-lag window.
        (false, None, _) => Err(users::not_found_yet(client, &person)),
        (false, Some(_), None) => Err(Error::Rejected {
            status: 404,
            message: format!("no Zendesk organization with external_id {organization:?}"),
        }),
    }
}
