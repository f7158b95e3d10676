//! What the batch's bulk endpoints can take of a record ([`classify`]), decided once per row,
//! and the key that keeps one record's rows in order in a batch.

use serde_json::{Map, Value};

use super::custom_objects::BulkRecord;
use super::{Identifier, Row, organizations, tickets, users};
use crate::client::Client;
use crate::config::Config;
use crate::organizations::Organization;
use crate::outcome::Error;
use crate::record::{Record, RecordAction};
use crate::sync_config::{IdentifierKey, ObjectType, SyncMode};

/// Where a record goes in a batch.
pub enum Bulk {
    /// A user upsert for `create_or_update_many` (which matches by external_id, then email, as
    /// one `create_or_update` does): the `user` object and its custom field values.
    User(Map<String, Value>, Map<String, Value>),
    /// An organization upsert with an external id, for `create_many` / `update_many`.
    Organization(Organization),
    /// A ticket row by external id, for `tickets/create_many` / `update_many`.
    Ticket(String, tickets::TicketRow),
    /// A delete for `destroy_many`: a user or organization by external id or id, a ticket by id.
    Delete(ObjectType, Identifier),
    /// A custom object row for the object's jobs endpoint.
    CustomRecord(BulkRecord),
    /// One by one, as `transform` runs it: other modes (insert and update look the record up
    /// first), permanent erases, deletes that are off, custom-field identifiers (bulk upserts
    /// match by external id and email), rows whose tags need a call of their own...
    Alone,
}

/// The record's place in a batch and its order key (what it names: object type and identifier;
/// `None` when it names nothing). An invalid row is an error, as one by one.
pub fn classify(
    client: &Client,
    config: &Config,
    record: &Record,
) -> Result<(Bulk, Option<String>), Error> {
    let sync = &config.sync;
    let Some(object) = sync.object_type else {
        return Ok((Bulk::Alone, None));
    };
    let row = Row::mapped(client, record, &sync.field_mapping);
    let identifier = row.identifier(&sync.identifier_key);
    let key = (identifier.as_ref().ok())
        .map(|identifier| format!("{}:{}", object.name(), identifier).to_lowercase());
    let deleting = record.action == RecordAction::Delete;
    let bulk = match object {
        ObjectType::CustomObjects => super::custom_objects::bulk_record(config, record, row)?
            .map_or(Bulk::Alone, Bulk::CustomRecord),
        ObjectType::Users | ObjectType::Organizations | ObjectType::Tickets if deleting => {
            if !sync.allow_deletes || record.permanent {
                return Ok((Bulk::Alone, key));
            }
            match (identifier?, object) {
                (identifier @ Identifier::Id(_), _)
                | (
                    identifier @ Identifier::ExternalId(_),
                    ObjectType::Users | ObjectType::Organizations,
                ) => Bulk::Delete(object, identifier),
                _ => Bulk::Alone,
            }
        }
        ObjectType::Tickets if !deleting && sync.identifier_key == IdentifierKey::ExternalId => {
            row.require(object)?;
            match identifier? {
                Identifier::ExternalId(external_id) => {
                    Bulk::Ticket(external_id, tickets::TicketRow::new(row)?)
                }
                _ => Bulk::Alone,
            }
        }
        ObjectType::Users | ObjectType::Organizations
            if !deleting
                && sync.sync_mode == SyncMode::Upsert
                && !matches!(sync.identifier_key, IdentifierKey::CustomField(_)) =>
        {
            row.require(object)?;
            identifier?;
            match object {
                ObjectType::Users => users::UserRow::new(client, config, row)?
                    .into_bulk_item()
                    .map_or(Bulk::Alone, |(user, custom)| Bulk::User(user, custom)),
                _ => organizations::OrganizationRow::new(client, config, row)?
                    .into_organization()
                    .filter(|org| org.external_id.is_some())
                    .map_or(Bulk::Alone, Bulk::Organization),
            }
        }
        _ => Bulk::Alone,
    };
    Ok((bulk, key))
}
