//! What the batch's bulk endpoints can take of a record: user and organization upserts, ticket
//! rows by external id, deletes; and the key that keeps one record's rows in order in a batch.
//! `None` from each means the row runs one by one, as `transform` would run it.

use super::{Identifier, Row, organizations, tickets, users};
use crate::client::Client;
use crate::config::Config;
use crate::outcome::Error;
use crate::record::{Record, RecordAction};
use crate::sync_config::{IdentifierKey, ObjectType, SyncMode};

/// A user record under `syncMode` upsert, as a bulk item: the `user` object and its custom
/// field values, for `create_or_update_many` (which matches by external_id, then email, as
/// one `create_or_update` does). `None` for other object types and modes (insert and update
/// look the record up first) and rows whose tags need a call of their own: they run one by one.
#[allow(clippy::type_complexity)]
pub fn bulk_user_upsert(
    client: &Client,
    config: &Config,
    record: &Record,
) -> Result<
    Option<(
        serde_json::Map<String, serde_json::Value>,
        serde_json::Map<String, serde_json::Value>,
    )>,
    Error,
> {
    let Some(row) = bulk_row(client, config, record, ObjectType::Users)? else {
        return Ok(None);
    };
    Ok(users::UserRow::new(client, config, row)?.into_bulk_item())
}

/// An organization record under `syncMode` upsert, as a bulk item for
/// `organizations/create_many` and `update_many` (by external id, as the group flow's). `None`
/// for other object types and modes, deletes, rows without an external id, and rows whose tags
/// need a call of their own: they run one by one.
pub fn bulk_organization_upsert(
    client: &Client,
    config: &Config,
    record: &Record,
) -> Result<Option<crate::organizations::Organization>, Error> {
    let Some(row) = bulk_row(client, config, record, ObjectType::Organizations)? else {
        return Ok(None);
    };
    let org = organizations::OrganizationRow::new(client, config, row)?.into_organization();
    Ok(org.filter(|org| org.external_id.is_some()))
}

/// A delete row that the bulk `destroy_many` endpoints can run: (object, identifier) when
/// deletes are allowed and it names a user or organization by external id or id, or a ticket
/// by id. `None` for everything else (a permanent erase, deletes off, other objects): those
/// run one by one.
pub fn bulk_delete(
    client: &Client,
    config: &Config,
    record: &Record,
) -> Result<Option<(ObjectType, Identifier)>, Error> {
    let sync = &config.sync;
    let Some(object) = sync.object_type else {
        return Ok(None);
    };
    if record.action != RecordAction::Delete || record.permanent || !sync.allow_deletes {
        return Ok(None);
    }
    let identifier = match object {
        ObjectType::Users | ObjectType::Organizations | ObjectType::Tickets => {
            Row::mapped(client, record, &sync.field_mapping).identifier(&sync.identifier_key)?
        }
        _ => return Ok(None),
    };
    let foldable = matches!(
        (&identifier, object),
        (Identifier::Id(_), _)
            | (
                Identifier::ExternalId(_),
                ObjectType::Users | ObjectType::Organizations
            )
    );
    Ok(foldable.then_some((object, identifier)))
}

/// A ticket row the bulk endpoints can write (`tickets/create_many` and `update_many`): its
/// external id and the row, when it is not a delete and is named by external id.
pub fn bulk_ticket(
    client: &Client,
    config: &Config,
    record: &Record,
) -> Result<Option<(String, tickets::TicketRow)>, Error> {
    let sync = &config.sync;
    if sync.object_type != Some(ObjectType::Tickets)
        || sync.identifier_key != IdentifierKey::ExternalId
        || record.action == RecordAction::Delete
    {
        return Ok(None);
    }
    let row = Row::mapped(client, record, &sync.field_mapping);
    row.require(ObjectType::Tickets)?;
    let Identifier::ExternalId(external_id) = row.identifier(&sync.identifier_key)? else {
        return Ok(None);
    };
    Ok(Some((external_id, tickets::TicketRow::new(row)?)))
}

/// What a record names, for keeping one record's rows in order within a batch: the object type
/// and the identifier (`None` when it has none).
pub fn order_key(client: &Client, config: &Config, record: &Record) -> Option<String> {
    let sync = &config.sync;
    let object = sync.object_type?;
    let row = Row::mapped(client, record, &sync.field_mapping);
    let identifier = row.identifier(&sync.identifier_key).ok()?;
    Some(format!("{}:{}", object.name(), identifier).to_lowercase())
}

/// The record's row, checked, when it is an upsert of `object` (what bulk endpoints write).
fn bulk_row(
    client: &Client,
    config: &Config,
    record: &Record,
    object: ObjectType,
) -> Result<Option<Row>, Error> {
    let sync = &config.sync;
    // Bulk upserts match by external_id and email: a custom field identifier runs alone.
    if sync.object_type != Some(object)
        || sync.sync_mode != SyncMode::Upsert
        || record.action == RecordAction::Delete
        || matches!(sync.identifier_key, IdentifierKey::CustomField(_))
    {
        return Ok(None);
    }
    let row = Row::mapped(client, record, &sync.field_mapping);
    row.require(object)?;
    row.identifier(&sync.identifier_key)?;
    Ok(Some(row))
}
