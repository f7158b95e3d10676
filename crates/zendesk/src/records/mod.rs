//! `record` events: one warehouse row written to a Zendesk user, organization or ticket, as the
//! config's `syncMode` says. Each object type implements [`Target`]; [`sync`] runs the mode.

mod bulk;
mod comments;
mod custom_field;
pub mod custom_objects;
mod memberships;
mod organizations;
mod row;
mod tags;
pub mod tickets;
mod users;

use crate::client::Client;
use crate::config::Config;
use crate::outcome::Error;
use crate::record::{Record, RecordAction};
use crate::sync_config::{ObjectType, SyncMode};
use crate::users::Person;
pub use bulk::{Bulk, classify};
pub use row::{Identifier, Row};

/// What a record's object type does for each mode.
trait Target {
    /// `user`, `organization`, `ticket`.
    fn noun(&self) -> &'static str;
    /// The Zendesk id of the record `identifier` names, if it exists.
    fn find(&mut self, client: &mut Client, identifier: &Identifier) -> Result<Option<u64>, Error>;
    fn create(&mut self, client: &mut Client) -> Result<Created, Error>;
    fn update(&mut self, client: &mut Client, id: u64) -> Result<Updated, Error>;
    /// Creates or updates, in as few calls as the object allows.
    fn upsert(&mut self, client: &mut Client, identifier: &Identifier) -> Result<(), Error>;
    /// The object's API path, e.g. `/api/v2/users/{id}` (`DELETE` deletes it).
    fn path(&self, id: u64) -> String;
}

enum Created {
    Done,
    /// Zendesk says the record already exists (422): the error, should it not be found.
    Taken(Error),
}

enum Updated {
    Done,
    /// 404: the id (maybe a cached one) names nothing.
    Gone,
}

/// Writes `record` per the config; `Some(reason)` when it was skipped ("exists", "not found").
pub fn sync(
    client: &mut Client,
    config: &Config,
    record: &Record,
) -> Result<Option<String>, Error> {
    let sync = &config.sync;
    let object = sync.object_type.ok_or_else(|| {
        Error::InvalidConfig(
            "set `objectType` (users, organizations or tickets) to sync `record` events".into(),
        )
    })?;
    match object {
        ObjectType::OrganizationMemberships => return memberships::sync(client, config, record),
        ObjectType::TicketComments => return comments::sync(client, config, record),
        ObjectType::CustomObjects => return custom_objects::sync(client, config, record),
        _ => {}
    }
    let row = Row::mapped(client, record, &sync.field_mapping);
    if record.action == RecordAction::Delete {
        deletes_allowed(config)?;
        let identifier = row.identifier(&sync.identifier_key)?;
        if record.permanent {
            return match (object, &identifier) {
                (ObjectType::Users, Identifier::ExternalId(external_id)) => {
                    crate::erase::erase_user(client, &Person::with_external_id(external_id))
                }
                (ObjectType::Users, Identifier::Email(email)) => {
                    crate::erase::erase_user(client, &Person::with_email(email))
                }
                _ => Err(Error::InvalidEvent(
                    "`permanent` erases a user, named by external_id or email: set objectType \
                     users"
                        .into(),
                )),
            };
        }
        let mut target = target(client, config, object, row)?;
        return delete(client, target.as_mut(), &identifier);
    }
    row.require(object)?;
    let identifier = row.identifier(&sync.identifier_key)?;
    let mut target = target(client, config, object, row)?;
    run(client, sync.sync_mode, target.as_mut(), &identifier)
}

/// The row as its object type's [`Target`].
fn target<'c>(
    client: &Client,
    config: &'c Config,
    object: ObjectType,
    row: Row,
) -> Result<Box<dyn Target + 'c>, Error> {
    Ok(match object {
        ObjectType::Users => Box::new(users::UserRow::new(client, config, row)?),
        ObjectType::Organizations => {
            Box::new(organizations::OrganizationRow::new(client, config, row)?)
        }
        ObjectType::Tickets => Box::new(tickets::TicketRow::new(row)?),
        // Written by their own modules' `sync`.
        ObjectType::OrganizationMemberships
        | ObjectType::TicketComments
        | ObjectType::CustomObjects => {
            return Err(Error::InvalidConfig(format!(
                "{} rows are not written as objects",
                object.name()
            )));
        }
    })
}

/// Refuses a delete row unless the config's `allowDeletes` is on.
fn deletes_allowed(config: &Config) -> Result<(), Error> {
    if config.sync.allow_deletes {
        return Ok(());
    }
    Err(Error::UnsupportedEvent(
        "record action `delete` needs the setting `allowDeletes`: off by default, since a bad \
         sync could empty an account"
            .into(),
    ))
}

/// Why an insert changed nothing: the record is there.
pub fn exists(noun: &str, id: u64, identifier: &Identifier) -> String {
    format!("exists: Zendesk {noun} #{id} has {identifier} (syncMode insert never overwrites)")
}

/// Why an update changed nothing: the record is not there.
pub fn not_found(noun: &str, identifier: &Identifier) -> String {
    format!("not found: no Zendesk {noun} has {identifier} (syncMode update never creates)")
}

/// Why a delete changed nothing: the record is not there.
pub fn gone(noun: &str, identifier: &Identifier) -> String {
    format!("gone: no Zendesk {noun} has {identifier} (deleted already)")
}

/// Deletes the object `identifier` names. One that is gone already (not found, or deleted
/// meanwhile: 404) is done, with the reason.
fn delete(
    client: &mut Client,
    target: &mut dyn Target,
    identifier: &Identifier,
) -> Result<Option<String>, Error> {
    let noun = target.noun();
    let gone = || Some(gone(noun, identifier));
    let Some(id) = target.find(client, identifier)? else {
        return Ok(gone());
    };
    let reply = client.send("DELETE", &target.path(id), None)?;
    match reply.status {
        200..=299 => Ok(None),
        404 => Ok(gone()),
        _ => Err(reply.into_error()),
    }
}

fn run(
    client: &mut Client,
    mode: SyncMode,
    target: &mut dyn Target,
    identifier: &Identifier,
) -> Result<Option<String>, Error> {
    let noun = target.noun();
    let exists = |id: u64| Some(exists(noun, id, identifier));
    let not_found = || Some(not_found(noun, identifier));
    match mode {
        SyncMode::Upsert => target.upsert(client, identifier).map(|()| None),
        SyncMode::Insert => {
            if let Some(id) = target.find(client, identifier)? {
                return Ok(exists(id));
            }
            match target.create(client)? {
                Created::Done => Ok(None),
                // Created meanwhile, or by an earlier attempt whose answer was lost.
                Created::Taken(error) => match target.find(client, identifier)? {
                    Some(id) => Ok(exists(id)),
                    None => Err(error),
                },
            }
        }
        SyncMode::Update => {
            let Some(id) = target.find(client, identifier)? else {
                return Ok(not_found());
            };
            if let Updated::Done = target.update(client, id)? {
                return Ok(None);
            }
            // A stale cached id: look once more.
            match target.find(client, identifier)? {
                Some(fresh) if fresh != id => match target.update(client, fresh)? {
                    Updated::Done => Ok(None),
                    Updated::Gone => Ok(not_found()),
                },
                _ => Ok(not_found()),
            }
        }
    }
}
