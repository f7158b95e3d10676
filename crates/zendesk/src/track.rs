//! track: a Zendesk user event (`POST /api/v2/users/{id}/events`), or a ticket for the configured
//! ticket event names.

use crate::client::Client;
use crate::config::Config;
use crate::event::Event;
use crate::outcome::Error;
use crate::tickets;
use crate::traits;
use crate::users::{self, Person, WhenMissing};
use serde_json::{Value, json};

/// Returns why the event was skipped, if it was.
pub fn handle(
    client: &mut Client,
    config: &Config,
    event: &Event,
) -> Result<Option<String>, Error> {
    let name = event
        .name
        .clone()
        .ok_or_else(|| Error::InvalidEvent("track needs an `event` name".into()))?;
    // Ticket actions have their own triggers; the allow-list governs the Events API.
    if name == config.ticket_created_event {
        return tickets::create(client, config, event);
    }
    if name == config.ticket_updated_event {
        return tickets::update(client, event).map(|()| None);
    }
    if !config.events.is_empty() && !config.events.contains(&name) {
        client.debug("event not in the allow-list: skipped", &[("event", &name)]);
        return Ok(Some(format!(
            "event `{name}` is not in the events allow-list"
        )));
    }

    let person = person(event)?;
    if person.external_id.is_none() && person.email.is_none() && event.zendesk_user_id.is_none() {
        return Err(Error::InvalidEvent(
            "track needs a userId, an email (properties.email or context.traits.email) or context.zendesk_user_id".into(),
        ));
    }
    let body = event_body(config, event, &name, &person);

    let mut user = users::resolve(
        client,
        config,
        &person,
        event.zendesk_user_id,
        WhenMissing::CreateIfNamed,
    )?;
    loop {
        let path = format!("/api/v2/users/{}/events", user.id);
        let reply = client.send("POST", &path, Some(&body))?;
        match reply.status {
            200..=299 => return Ok(None),
            // The remembered id is gone (user deleted or merged): forget it and look again, once.
            404 if user.from_cache => {
                users::forget(client, &person);
                client.debug("cached user id is gone: resolving again", &[]);
                user = users::resolve(client, config, &person, None, WhenMissing::CreateIfNamed)?;
                if user.from_cache {
                    return Err(reply.into_error());
                }
            }
            _ => return Err(reply.into_error()),
        }
    }
}

/// Who the event is about: userId, the email (properties first), and a name to create the user.
fn person(event: &Event) -> Result<Person, Error> {
    let user_traits = event.user_traits();
    Ok(Person {
        external_id: event.user_id.clone(),
        email: match traits::text(&event.properties, "email")? {
            Some(email) => Some(email),
            None => traits::text(&user_traits, "email")?,
        },
        name: traits::person_name(&user_traits)?,
    })
}

fn event_body(config: &Config, event: &Event, name: &str, person: &Person) -> Value {
    let mut identifiers = Vec::new();
    if let Some(external_id) = &person.external_id {
        identifiers.push(json!({"type": "external_id", "value": external_id}));
    }
    if let Some(email) = &person.email {
        identifiers.push(json!({"type": "email", "value": email}));
    }
    let description = event
        .properties
        .get("description")
        .and_then(Value::as_str)
        .filter(|d| !d.trim().is_empty())
        .unwrap_or(name);
    let mut zendesk_event = json!({
        "source": config.source_name,
        "type": name,
        "description": description,
        "properties": event.properties,
    });
    if let Some(timestamp) = &event.timestamp {
        zendesk_event["created_at"] = timestamp.clone().into();
    }
    json!({
        // One profile per person: the type is constant (Zendesk allows 20 profiles per person).
        "profile": {"source": config.source_name, "type": "user", "identifiers": identifiers},
        "event": zendesk_event,
    })
}

#[cfg(test)]
#[path = "track_tests.rs"]
mod tests;
