//! The tags endpoints of users and organizations, as Zendesk's reference has them:
//! `GET /{users|organizations}/{id}/tags` lists, `POST` sets (replaces the whole list: 201),
//! `PUT` adds (200) and `DELETE` removes the listed tags (200 with what is left). The body is
//! `{"tags": [...]}` (a space- or comma-separated string is accepted too). An unknown id is 404.

use serde_json::{Value, json};

use crate::account::Call;
use crate::attrs::{self, Patch};
use crate::http::{Handled, Response, missing_parameter, record_not_found};

#[derive(Clone, Copy)]
pub(crate) enum Owner {
    User(u64),
    Organization(u64),
}

#[derive(Clone, Copy)]
pub(crate) enum Change {
    List,
    Set,
    Add,
    Remove,
}

pub(crate) fn tags(call: Call, owner: Owner, change: Change) -> Handled {
    let incoming = match change {
        Change::List => Vec::new(),
        _ => requested(&call.body)?,
    };
    let data = &mut call.account.data;
    let stored = match owner {
        Owner::User(id) => data
            .users
            .iter_mut()
            .find(|u| u.id == id)
            .map(|u| &mut u.tags),
        Owner::Organization(id) => data
            .organizations
            .iter_mut()
            .find(|o| o.id == id)
            .map(|o| &mut o.tags),
    }
    .ok_or_else(record_not_found)?;
    let status = match change {
        Change::List => 200,
        Change::Set => {
            *stored = Vec::new();
            add(stored, incoming);
            201
        }
        Change::Add => {
            add(stored, incoming);
            200
        }
        Change::Remove => {
            stored.retain(|tag| !incoming.contains(tag));
            200
        }
    };
    let body = json!({ "tags": stored.clone() });
    match owner {
        Owner::User(id) if !matches!(change, Change::List) => call.account.touch_user(id),
        _ => {}
    }
    Ok(Response::json(status, &body))
}

/// Zendesk stores tags lowercased, once each.
pub(crate) fn add(stored: &mut Vec<String>, incoming: Vec<String>) {
    for tag in incoming {
        let tag = tag.to_lowercase();
        if !stored.contains(&tag) {
            stored.push(tag);
        }
    }
}

fn requested(body: &Option<Value>) -> Result<Vec<String>, Response> {
    let attrs = body
        .as_ref()
        .and_then(Value::as_object)
        .ok_or_else(|| missing_parameter("tags"))?;
    match attrs::string_list(attrs, "tags")? {
        Patch::Set(tags) => Ok(tags.into_iter().map(|t| t.to_lowercase()).collect()),
        _ => Err(missing_parameter("tags")),
    }
}
