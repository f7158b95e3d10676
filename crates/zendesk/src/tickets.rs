//! Tickets from track events: create (idempotent by external id) and update.

use crate::client::{Client, encode};
use crate::config::Config;
use crate::event::Event;
use crate::json_values::numeric_id;
use crate::outcome::Error;
use crate::traits;
use crate::users::{self, Person};
use serde_json::{Map, Value, json};

/// Creates a ticket; returns a skip reason when a ticket with the same external id exists.
pub fn create(
    client: &mut Client,
    config: &Config,
    event: &Event,
) -> Result<Option<String>, Error> {
    let properties = &event.properties;
    let subject = traits::text(properties, "subject")?;
    let body = comment_body(properties)?;
    let missing: Vec<&str> = [
        subject.is_none().then_some("properties.subject"),
        body.is_none()
            .then_some("properties.comment (or body / description)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let (Some(subject), Some(body)) = (subject, body) else {
        return Err(Error::InvalidEvent(format!(
            "`{}` needs {}",
            config.ticket_created_event,
            missing.join(" and ")
        )));
    };

    let mut ticket = changes(properties)?;
    ticket.insert("subject".into(), subject.into());
    ticket.insert(
        "comment".into(),
        json!({"body": body, "public": public(properties)?}),
    );
    let external_id = traits::text(properties, "external_id")?.or_else(|| event.message_id.clone());
    if let Some(external_id) = &external_id {
        ticket.insert("external_id".into(), external_id.clone().into());
    }
    let user_traits = event.user_traits();
    let person = Person {
        external_id: event.user_id.clone(),
        email: match traits::text(properties, "email")? {
            Some(email) => Some(email),
            None => traits::text(&user_traits, "email")?,
        },
        name: traits::person_name(&user_traits)?,
    };
    if person.external_id.is_none() && person.email.is_none() && event.zendesk_user_id.is_none() {
        return Err(Error::InvalidEvent(
            "a ticket needs a requester: userId, an email or context.zendesk_user_id".into(),
        ));
    }

    // A retried event must not open a second ticket.
    if let Some(external_id) = &external_id {
        let path = format!("/api/v2/tickets?external_id={}", encode(external_id));
        let existing = client.call("GET", &path, None)?;
        if let Some(id) = existing.pointer("/tickets/0/id").and_then(Value::as_u64) {
            return Ok(Some(format!(
                "ticket #{id} with external_id `{external_id}` already exists: not created again"
            )));
        }
    }

    let requester_id = match event.zendesk_user_id {
        Some(id) => Some(id),
        None => users::find(client, &person, false)?.map(|found| found.id),
    };
    match (requester_id, &person.email) {
        (Some(id), _) => {
            ticket.insert("requester_id".into(), id.into());
        }
        // Zendesk matches the requester by email, or creates it: no lookup needed.
        (None, Some(email)) => {
            let mut requester = json!({"email": email});
            if let Some(name) = &person.name {
                requester["name"] = name.clone().into();
            }
            ticket.insert("requester".into(), requester);
        }
        (None, None) => return Err(users::not_found_yet(client, &person)),
    }
    client.call(
        "POST",
        "/api/v2/tickets",
        Some(&json!({ "ticket": ticket })),
    )?;
    Ok(None)
}

/// Updates a ticket named by `ticket_id` (or `ticketId` / `id`).
pub fn update(client: &mut Client, event: &Event) -> Result<(), Error> {
    let properties = &event.properties;
    let name = event.name.as_deref().unwrap_or("Ticket Updated");
    let raw_id = ["ticket_id", "ticketId", "id"]
        .iter()
        .find_map(|key| properties.get(*key).filter(|v| !v.is_null()));
    let Some(raw_id) = raw_id else {
        return Err(Error::InvalidEvent(format!(
            "`{name}` needs properties.ticket_id (or ticketId / id)"
        )));
    };
    let ticket_id = numeric_id(raw_id).ok_or_else(|| {
        Error::InvalidEvent("the ticket id must be a number or a numeric string".into())
    })?;
    let mut ticket = changes(properties)?;
    if let Some(subject) = traits::text(properties, "subject")? {
        ticket.insert("subject".into(), subject.into());
    }
    if let Some(body) = comment_body(properties)? {
        ticket.insert(
            "comment".into(),
            json!({"body": body, "public": public(properties)?}),
        );
    }
    if ticket.is_empty() {
        return Err(Error::InvalidEvent(format!(
            "`{name}` changes nothing: set subject, status, priority, type, tags, custom_fields or comment"
        )));
    }
    client.call(
        "PUT",
        &format!("/api/v2/tickets/{ticket_id}"),
        Some(&json!({ "ticket": ticket })),
    )?;
    Ok(())
}

/// The optional attributes shared by create and update.
fn changes(properties: &Map<String, Value>) -> Result<Map<String, Value>, Error> {
    let mut ticket = Map::new();
    for key in ["priority", "status", "type"] {
        if let Some(value) = traits::text(properties, key)? {
            ticket.insert(key.into(), value.into());
        }
    }
    if let Some(tags) = traits::string_list(properties, "tags")? {
        ticket.insert("tags".into(), json!(tags));
    }
    if let Some(fields) = custom_fields(properties)? {
        ticket.insert("custom_fields".into(), Value::Array(fields));
    }
    Ok(ticket)
}

fn comment_body(properties: &Map<String, Value>) -> Result<Option<String>, Error> {
    traits::first_text(properties, &["comment", "body", "description"])
}

fn public(properties: &Map<String, Value>) -> Result<bool, Error> {
    Ok(traits::flag(properties, "public")?.unwrap_or(true))
}

/// `{"<field id>": value}` or `[{"id", "value"}]` -> `[{"id", "value"}]` with numeric ids.
fn custom_fields(properties: &Map<String, Value>) -> Result<Option<Vec<Value>>, Error> {
    let invalid = || {
        Error::InvalidEvent(
            "`custom_fields` must map numeric field ids to values: {\"123\": value} or [{\"id\": 123, \"value\": value}]".into(),
        )
    };
    match properties.get("custom_fields") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(fields)) => fields
            .iter()
            .map(|(id, value)| {
                let id = numeric_id(&Value::String(id.clone())).ok_or_else(invalid)?;
                Ok(json!({"id": id, "value": value}))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(Value::Array(fields)) => fields
            .iter()
            .map(|field| {
                let id = field.get("id").and_then(numeric_id).ok_or_else(invalid)?;
                let value = field.get("value").cloned().unwrap_or(Value::Null);
                Ok(json!({"id": id, "value": value}))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(invalid()),
    }
}

#[cfg(test)]
#[path = "tickets_tests.rs"]
mod tests;
