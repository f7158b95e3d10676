//! Tickets: create (requester by id, or by email - found or created), update (comments append),
//! show, list / lookup by external_id, comments.

use serde_json::{Map, Value, json};

use crate::account::{Account, Call, IdKind};
use crate::attrs::{self, Patch};
use crate::http::{Handled, Response, record_invalid, record_not_found};
use crate::model::{Comment, CustomFieldValue, Ticket};
use crate::pagination::{PageRequest, page_body};
use crate::render;
use crate::time::now_iso8601;
use crate::users::{UserInput, create_validated};

const STATUSES: [&str; 6] = ["new", "open", "pending", "hold", "solved", "closed"];
const PRIORITIES: [&str; 4] = ["urgent", "high", "normal", "low"];
const TYPES: [&str; 4] = ["problem", "incident", "question", "task"];

/// The attributes create and update share.
struct TicketChanges {
    subject: Patch<String>,
    status: Patch<String>,
    priority: Patch<String>,
    r#type: Patch<String>,
    tags: Patch<Vec<String>>,
    external_id: Patch<String>,
    custom_fields: Option<Vec<CustomFieldValue>>,
    comment: Option<(String, bool, Option<u64>)>,
}

fn one_of(
    attrs: &Map<String, Value>,
    key: &str,
    allowed: &[&str],
) -> Result<Patch<String>, Response> {
    let value = attrs::text(attrs, key)?;
    match value.as_set() {
        Some(v) if !allowed.contains(&v.as_str()) => Err(record_invalid(
            key,
            &format!("{}: {v} is not valid", attrs::humanize(key)),
            "InvalidValue",
        )),
        _ => Ok(value),
    }
}

fn parse_changes(attrs: &Map<String, Value>) -> Result<TicketChanges, Response> {
    let custom_fields = match attrs.get("custom_fields") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|item| match item.get("id").and_then(attrs::value_as_id) {
                    Some(id) => Ok(CustomFieldValue {
                        id,
                        value: item.get("value").cloned().unwrap_or(Value::Null),
                    }),
                    None => Err(record_invalid(
                        "custom_fields",
                        "Custom fields: each entry needs a numeric id",
                        "InvalidValue",
                    )),
                })
                .collect::<Result<Vec<_>, Response>>()?,
        ),
        Some(_) => {
            return Err(record_invalid(
                "custom_fields",
                "Custom fields: must be a list of {id, value}",
                "InvalidValue",
            ));
        }
    };
    let comment = match attrs.get("comment") {
        None | Some(Value::Null) => None,
        Some(Value::Object(comment)) => {
            let Patch::Set(body) = attrs::text(comment, "body")? else {
                return Err(description_blank());
            };
            let public = attrs::boolean(comment, "public")?
                .as_set()
                .copied()
                .unwrap_or(true);
            let author = attrs::id(comment, "author_id")?.as_set().copied();
            Some((body, public, author))
        }
        Some(_) => return Err(description_blank()),
    };
    Ok(TicketChanges {
        subject: attrs::text(attrs, "subject")?,
        status: one_of(attrs, "status", &STATUSES)?,
        priority: one_of(attrs, "priority", &PRIORITIES)?,
        r#type: one_of(attrs, "type", &TYPES)?,
        tags: attrs::string_list(attrs, "tags")?,
        external_id: attrs::text(attrs, "external_id")?,
        custom_fields,
        comment,
    })
}

fn description_blank() -> Response {
    record_invalid("description", "Description: cannot be blank", "BlankValue")
}

fn requester_invalid(description: &str) -> Response {
    record_invalid("requester", description, "InvalidValue")
}

/// The requester: `requester_id` must exist; `requester:{email,name}` is matched by email
/// identity or created (name defaults to the email's local part).
fn resolve_requester(account: &mut Account, attrs: &Map<String, Value>) -> Result<u64, Response> {
    if let Patch::Set(id) = attrs::id(attrs, "requester_id")? {
        return match account.data.user(id) {
            Some(_) => Ok(id),
            None => Err(requester_invalid("Requester: is invalid")),
        };
    }
    let Some(requester) = attrs::object(attrs, "requester")? else {
        return Err(record_invalid(
            "requester",
            "Requester: cannot be blank",
            "BlankValue",
        ));
    };
    let Patch::Set(email) = attrs::text(requester, "email")? else {
        return Err(requester_invalid("Requester: email is required"));
    };
    if let Some(user) = account.data.user_by_email(&email) {
        return Ok(user.id);
    }
    let name = match attrs::text(requester, "name")? {
        Patch::Set(name) => name,
        _ => email.split('@').next().unwrap_or(&email).to_string(),
    };
    let new_user = serde_json::Map::from_iter([
        ("name".to_string(), Value::String(name)),
        ("email".to_string(), Value::String(email)),
    ]);
    // Requesters created by a ticket get Zendesk's ticket notification, not a verification email.
    let input = UserInput::from_attrs(&new_user, true)?;
    create_validated(account, input)
}

fn apply(ticket: &mut Ticket, changes: TicketChanges, comment_id: Option<u64>) {
    changes.subject.apply_to(&mut ticket.subject);
    if let Patch::Set(status) = changes.status {
        ticket.status = status;
    }
    changes.priority.apply_to(&mut ticket.priority);
    changes.r#type.apply_to(&mut ticket.r#type);
    if let Patch::Set(tags) = changes.tags {
        ticket.tags = tags;
    }
    changes.external_id.apply_to(&mut ticket.external_id);
    for incoming in changes.custom_fields.unwrap_or_default() {
        match ticket
            .custom_fields
            .iter_mut()
            .find(|f| f.id == incoming.id)
        {
            Some(existing) => existing.value = incoming.value,
            None => ticket.custom_fields.push(incoming),
        }
    }
    let now = now_iso8601();
    if let (Some((body, public, author)), Some(id)) = (changes.comment, comment_id) {
        if ticket.comments.is_empty() {
            ticket.description = body.clone();
        }
        ticket.comments.push(Comment {
            id,
            body,
            public,
            author_id: author.unwrap_or(ticket.requester_id),
            created_at: now.clone(),
        });
    }
    ticket.updated_at = now;
}

fn ticket_response(account: &Account, status: u16, id: u64) -> Handled {
    let ticket = account.data.ticket(id).ok_or_else(record_not_found)?;
    Ok(Response::json(
        status,
        &json!({"ticket": render::ticket(account, ticket)}),
    ))
}

/// `POST /tickets` -> 201.
pub(crate) fn create(call: Call) -> Handled {
    let attrs = attrs::wrapped_object(&call.body, "ticket")?;
    let changes = parse_changes(attrs)?;
    if changes.comment.is_none() {
        return Err(description_blank());
    }
    let account = call.account;
    let requester_id = resolve_requester(account, attrs)?;
    let id = account.next_id(IdKind::Ticket);
    let comment_id = account.next_id(IdKind::Comment);
    let now = now_iso8601();
    let mut ticket = Ticket {
        id,
        subject: None,
        description: String::new(),
        status: "new".to_string(),
        priority: None,
        r#type: None,
        tags: Vec::new(),
        external_id: None,
        requester_id,
        custom_fields: Vec::new(),
        comments: Vec::new(),
        created_at: now.clone(),
        updated_at: now,
    };
    apply(&mut ticket, changes, Some(comment_id));
    account.data.tickets.push(ticket);
    ticket_response(account, 201, id)
        .map(|r| r.with_header("Location", &format!("/api/v2/tickets/{id}.json")))
}

/// `PUT /tickets/{id}` -> 200; a `comment` is appended.
pub(crate) fn update(call: Call, id: u64) -> Handled {
    let account = call.account;
    account.data.ticket(id).ok_or_else(record_not_found)?;
    let attrs = attrs::wrapped_object(&call.body, "ticket")?;
    let changes = parse_changes(attrs)?;
    let new_requester = match attrs.contains_key("requester_id") || attrs.contains_key("requester")
    {
        true => Some(resolve_requester(account, attrs)?),
        false => None,
    };
    let comment_id = changes
        .comment
        .is_some()
        .then(|| account.next_id(IdKind::Comment));
    if let Some(ticket) = account.data.tickets.iter_mut().find(|t| t.id == id) {
        if let Some(requester_id) = new_requester {
            ticket.requester_id = requester_id;
        }
        apply(ticket, changes, comment_id);
    }
    ticket_response(account, 200, id)
}

pub(crate) fn show(call: Call, id: u64) -> Handled {
    ticket_response(call.account, 200, id)
}

/// `GET /tickets?external_id=` (external ids need not be unique) or all tickets, paginated.
pub(crate) fn list(call: Call) -> Handled {
    let account = &*call.account;
    let request = PageRequest::from_query(&call.query, true)?;
    let external_id = call.query.get("external_id");
    let tickets: Vec<Value> = account
        .data
        .tickets
        .iter()
        .filter(|t| external_id.is_none_or(|e| t.external_id.as_deref() == Some(e)))
        .map(|t| render::ticket(account, t))
        .collect();
    let url = format!("{}/api/v2/tickets.json", account.base_url);
    let keep: Vec<(&str, &str)> = external_id
        .map(|e| ("external_id", e))
        .into_iter()
        .collect();
    Ok(Response::json(
        200,
        &page_body("tickets", tickets, request, &url, &keep),
    ))
}

/// `GET /tickets/{id}/comments`.
pub(crate) fn comments(call: Call, id: u64) -> Handled {
    let ticket = call.account.data.ticket(id).ok_or_else(record_not_found)?;
    Ok(Response::json(
        200,
        &json!({"comments": ticket.comments, "count": ticket.comments.len()}),
    ))
}
