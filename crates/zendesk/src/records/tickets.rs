//! Records synced to Zendesk tickets: subject, description (the first comment), status,
//! priority, type, tags, requester; the other columns are custom ticket fields, named by title
//! or id and written as `custom_fields: [{id, value}]`.

use super::{Created, Identifier, Row, Target, Updated};
use crate::client::{Client, encode};
use crate::outcome::Error;
use crate::ticket_fields;
use serde_json::{Map, Value, json};

/// How long a ticket's id is remembered under its external id (the cache's longest).
const TICKET_ID_TTL_SECONDS: u32 = 86_400;

pub struct TicketRow {
    /// Attributes written on create and update.
    ticket: Map<String, Value>,
    /// The first comment: written on create only (Zendesk's description cannot change).
    description: String,
    /// `requester` (by email, found or created by Zendesk) or `requester_id`: on create only.
    requester: Option<(&'static str, Value)>,
    custom: Map<String, Value>,
}

impl TicketRow {
    pub fn new(mut row: Row) -> Result<TicketRow, Error> {
        let mut ticket = Map::new();
        for key in ["subject", "status", "priority", "type", "external_id"] {
            if let Some(value) = row.take_text(key)? {
                ticket.insert(key.into(), value.into());
            }
        }
        if let Some(tags) = row.take_list("tags")? {
            ticket.insert("tags".into(), json!(tags));
        }
        let description = row.take_text("description")?.unwrap_or_default();
        let requester_id = row.take_id("requester_id")?;
        let requester_email = row.take_text("requester_email")?;
        let requester_name = row.take_text("requester_name")?;
        let requester = match (requester_id, requester_email) {
            (Some(id), _) => Some(("requester_id", id.into())),
            (None, Some(email)) => {
                let mut requester = json!({"email": email});
                if let Some(name) = requester_name {
                    requester["name"] = name.into();
                }
                Some(("requester", requester))
            }
            // Zendesk makes the authenticated agent the requester.
            (None, None) => None,
        };
        row.take_id("id")?;
        Ok(TicketRow {
            ticket,
            description,
            requester,
            custom: row.into_rest(),
        })
    }

    fn with_custom_fields(&self, client: &mut Client) -> Result<Map<String, Value>, Error> {
        let mut ticket = self.ticket.clone();
        let custom_fields = ticket_fields::custom_fields(client, &self.custom)?;
        if !custom_fields.is_empty() {
            ticket.insert("custom_fields".into(), Value::Array(custom_fields));
        }
        Ok(ticket)
    }

    /// The `ticket` object that creates it: its attributes, the first comment, the requester.
    pub fn creating(&self, client: &mut Client) -> Result<Value, Error> {
        let mut ticket = self.with_custom_fields(client)?;
        ticket.insert("comment".into(), json!({"body": self.description}));
        if let Some((key, requester)) = &self.requester {
            ticket.insert((*key).into(), requester.clone());
        }
        Ok(Value::Object(ticket))
    }

    /// The `ticket` object that updates it (the description and requester are left alone).
    pub fn updating(&self, client: &mut Client) -> Result<Value, Error> {
        self.with_custom_fields(client).map(Value::Object)
    }

    pub fn external_id(&self) -> Option<&str> {
        self.ticket.get("external_id").and_then(Value::as_str)
    }
}

/// The id of a ticket with this external id: remembered, else the first `GET
/// /tickets?external_id=` lists (Zendesk does not keep external ids unique).
pub fn find_by_external_id(client: &mut Client, external_id: &str) -> Result<Option<u64>, Error> {
    if let Some(id) = client
        .cache_get(&id_key(external_id))
        .and_then(|id| id.parse().ok())
    {
        return Ok(Some(id));
    }
    let path = format!("/api/v2/tickets?external_id={}", encode(external_id));
    let answer = client.call("GET", &path, None)?;
    let found = answer.pointer("/tickets/0/id").and_then(Value::as_u64);
    if let Some(id) = found {
        remember(client, external_id, id);
    }
    Ok(found)
}

/// Remembers the ticket this tenant wrote under its external id.
pub fn remember(client: &Client, external_id: &str, id: u64) {
    client.cache_set(&id_key(external_id), &id.to_string(), TICKET_ID_TTL_SECONDS);
}

fn forget(client: &Client, external_id: &str) {
    client.cache_remove(&id_key(external_id));
}

fn id_key(external_id: &str) -> String {
    format!("ticket:ext:{external_id}")
}

impl Target for TicketRow {
    fn noun(&self) -> &'static str {
        "ticket"
    }

    fn path(&self, id: u64) -> String {
        format!("/api/v2/tickets/{id}")
    }

    fn find(&mut self, client: &mut Client, identifier: &Identifier) -> Result<Option<u64>, Error> {
        match identifier {
            Identifier::Id(id) => Ok(Some(*id)),
            Identifier::ExternalId(external_id) => find_by_external_id(client, external_id),
            Identifier::Email(_) | Identifier::CustomField { .. } => Err(Error::InvalidConfig(
                "tickets are identified by `external_id` or `id`".into(),
            )),
        }
    }

    fn create(&mut self, client: &mut Client) -> Result<Created, Error> {
        let ticket = self.creating(client)?;
        let answer = client.call(
            "POST",
            "/api/v2/tickets",
            Some(&json!({ "ticket": ticket })),
        )?;
        if let (Some(external_id), Ok(id)) =
            (self.external_id(), crate::client::id_in(&answer, "ticket"))
        {
            remember(client, external_id, id);
        }
        Ok(Created::Done)
    }

    fn update(&mut self, client: &mut Client, id: u64) -> Result<Updated, Error> {
        let ticket = self.updating(client)?;
        let path = format!("/api/v2/tickets/{id}");
        let reply = client.send("PUT", &path, Some(&json!({ "ticket": ticket })))?;
        match reply.status {
            200..=299 => Ok(Updated::Done),
            404 => {
                if let Some(external_id) = self.external_id() {
                    forget(client, external_id);
                }
                Ok(Updated::Gone)
            }
            _ => Err(reply.into_error()),
        }
    }

    /// Zendesk has no ticket upsert: find by external id, then update or create.
    fn upsert(&mut self, client: &mut Client, identifier: &Identifier) -> Result<(), Error> {
        match self.find(client, identifier)? {
            Some(id) => match self.update(client, id)? {
                Updated::Done => Ok(()),
                Updated::Gone => self.create(client).map(|_| ()),
            },
            None => self.create(client).map(|_| ()),
        }
    }
}
