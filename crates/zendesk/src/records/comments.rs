//! Ticket comments as a synced object (Census's "Ticket Comment: Add"): a row names a ticket
//! (`ticket_id`, or `ticket_external_id`) and carries the comment's `body`, with `public`
//! (default true) and an `author_email` or `author_external_id`.
//!
//! Zendesk has no idempotency key for comments, so a row is never sent twice this way: the
//! tenant cache holds a marker per row (its identifiers, else its ticket, author and body).
//! `pending` is written before the comment is sent and `added` once Zendesk took it. A row
//! found `added` is skipped without a call. A row found `pending` (an earlier attempt may
//! have added it and lost the answer) first reads the ticket's comments and adds it only if it
//! is not there. So a first attempt costs one call, and only a retry after an unclear failure
//! pays the read. The markers last as long as the cache keeps them (a day).

use serde_json::{Value, json};

use super::Row;
use crate::client::{Client, encode};
use crate::config::Config;
use crate::outcome::Error;
use crate::record::{Record, RecordAction};
use crate::users::{self, Person};

/// How long a row's marker is kept, in seconds.
const MARKER_TTL_SECONDS: u32 = 86_400;

pub fn sync(
    client: &mut Client,
    config: &Config,
    record: &Record,
) -> Result<Option<String>, Error> {
    if record.action == RecordAction::Delete {
        return Err(Error::UnsupportedEvent(
            "a ticket comment cannot be deleted (Zendesk can only redact it)".into(),
        ));
    }
    let mut row = Row::mapped(client, record, &config.sync.field_mapping);
    let ticket_id = row.take_id("ticket_id")?;
    let ticket_external_id = row.take_text("ticket_external_id")?;
    let Some(body) = row.take_text("body")? else {
        return Err(Error::InvalidEvent(
            "a ticket comment row needs a `body`".into(),
        ));
    };
    let public = row.take_bool("public")?.unwrap_or(true);
    let author = Person {
        external_id: row.take_text("author_external_id")?,
        email: row.take_text("author_email")?,
        name: None,
    };
    let ticket_ref = match (ticket_id, &ticket_external_id) {
        (Some(id), _) => format!("#{id}"),
        (None, Some(external_id)) => format!("external_id {external_id:?}"),
        (None, None) => {
            return Err(Error::InvalidEvent(
                "a ticket comment row needs `ticket_id` or `ticket_external_id`".into(),
            ));
        }
    };
    let identity = match record.identifiers.is_empty() {
        false => Value::Object(record.identifiers.clone()).to_string(),
        true => json!([ticket_ref, users::describe(&author), body]).to_string(),
    };
    let marker = crate::dedupe::content_key("comment", &Value::String(identity));
    let seen = client.cache_get(&marker);
    if seen.as_deref() == Some("added") {
        return Ok(Some(format!(
            "added already: this comment is on ticket {ticket_ref}"
        )));
    }

    let Some(ticket) = find_ticket(client, ticket_id, ticket_external_id.as_deref())? else {
        return Err(Error::Rejected {
            status: 404,
            message: format!("no Zendesk ticket {ticket_ref}"),
        });
    };
    let author_id = match author.external_id.is_some() || author.email.is_some() {
        false => None,
        true => match users::find(client, &author, true)? {
            Some(found) => Some(found.id),
            None => return Err(users::not_found_yet(client, &author)),
        },
    };
    if seen.as_deref() == Some("pending") && on_ticket(client, ticket, &body, author_id)? {
        client.cache_set(&marker, "added", MARKER_TTL_SECONDS);
        return Ok(Some(format!(
            "added already: an earlier attempt put this comment on ticket {ticket_ref}"
        )));
    }
    client.cache_set(&marker, "pending", MARKER_TTL_SECONDS);
    let mut comment = json!({"body": body, "public": public});
    if let Some(author_id) = author_id {
        comment["author_id"] = author_id.into();
    }
    let reply = client.send(
        "PUT",
        &format!("/api/v2/tickets/{ticket}"),
        Some(&json!({"ticket": {"comment": comment}})),
    )?;
    if !reply.is_success() {
        return Err(reply.into_error());
    }
    client.cache_set(&marker, "added", MARKER_TTL_SECONDS);
    Ok(None)
}

fn find_ticket(
    client: &mut Client,
    id: Option<u64>,
    external_id: Option<&str>,
) -> Result<Option<u64>, Error> {
    if let Some(id) = id {
        return Ok(Some(id));
    }
    let Some(external_id) = external_id else {
        return Ok(None);
    };
    let path = format!("/api/v2/tickets?external_id={}", encode(external_id));
    let found = client.call("GET", &path, None)?;
    Ok(found.pointer("/tickets/0/id").and_then(Value::as_u64))
}

/// Whether the ticket has a comment with this body (and author).
fn on_ticket(
    client: &mut Client,
    ticket: u64,
    body: &str,
    author_id: Option<u64>,
) -> Result<bool, Error> {
    let comments = client.list_all(&format!("/api/v2/tickets/{ticket}/comments"), "comments")?;
    Ok(comments.iter().any(|comment| {
        comment["body"].as_str().map(str::trim) == Some(body.trim())
            && author_id.is_none_or(|author| comment["author_id"].as_u64() == Some(author))
    }))
}
