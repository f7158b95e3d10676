//! Deleting, as Zendesk does it: `DELETE /users/{id}` soft-deletes (the user leaves the
//! account's users, their identities and memberships go, and they wait in `deleted_users` with
//! `active: false`), `DELETE /deleted_users/{id}` deletes them for good, and organizations and
//! tickets are deleted at once (204). A user's Events API profiles are listed with
//! `GET /users/{id}/profiles` and deleted, with their events, by `DELETE /user_profiles/{id}`
//! (the only way to delete events). An id that names nothing is 404 `RecordNotFound`.

use serde_json::json;

use crate::account::Call;
use crate::http::{Handled, Response, record_not_found};
use crate::render;

pub(crate) fn user(call: Call, user_id: u64) -> Handled {
    let account = call.account;
    let user = account
        .data
        .user(user_id)
        .cloned()
        .ok_or_else(record_not_found)?;
    let mut rendered = render::user(account, &user);
    rendered["active"] = false.into();
    let data = &mut account.data;
    data.users.retain(|u| u.id != user_id);
    data.identities.retain(|i| i.user_id != user_id);
    data.memberships.retain(|m| m.user_id != user_id);
    data.deleted_users.push(user);
    Ok(Response::json(200, &json!({ "user": rendered })))
}

pub(crate) fn deleted_user(call: Call, user_id: u64) -> Handled {
    let data = &mut call.account.data;
    let at = data
        .deleted_users
        .iter()
        .position(|u| u.id == user_id)
        .ok_or_else(record_not_found)?;
    let user = data.deleted_users.remove(at);
    Ok(Response::json(
        200,
        &json!({"deleted_user": {"id": user.id, "name": user.name, "active": false}}),
    ))
}

pub(crate) fn organization(call: Call, organization_id: u64) -> Handled {
    let account = call.account;
    account
        .data
        .organization(organization_id)
        .ok_or_else(record_not_found)?;
    account
        .data
        .organizations
        .retain(|o| o.id != organization_id);
    let members: Vec<u64> = account
        .data
        .memberships
        .iter()
        .filter(|m| m.organization_id == organization_id)
        .map(|m| m.user_id)
        .collect();
    account
        .data
        .memberships
        .retain(|m| m.organization_id != organization_id);
    for user_id in members {
        account.sync_default_organization(user_id);
    }
    Ok(no_content())
}

pub(crate) fn ticket(call: Call, ticket_id: u64) -> Handled {
    let data = &mut call.account.data;
    data.ticket(ticket_id).ok_or_else(record_not_found)?;
    data.tickets.retain(|t| t.id != ticket_id);
    Ok(no_content())
}

pub(crate) fn profiles_of_user(call: Call, user_id: u64) -> Handled {
    let data = &call.account.data;
    if data.user(user_id).is_none() && !data.deleted_users.iter().any(|u| u.id == user_id) {
        return Err(record_not_found());
    }
    let profiles: Vec<_> = data
        .profiles
        .iter()
        .filter(|p| p.user_id == user_id)
        .map(|p| json!({"id": p.id, "user_id": p.user_id, "source": p.source, "type": p.r#type}))
        .collect();
    Ok(Response::json(200, &json!({ "profiles": profiles })))
}

pub(crate) fn profile(call: Call, profile_id: &str) -> Handled {
    let data = &mut call.account.data;
    if !data.profiles.iter().any(|p| p.id == profile_id) {
        return Err(record_not_found());
    }
    data.profiles.retain(|p| p.id != profile_id);
    data.events
        .retain(|e| e.profile_id.as_deref() != Some(profile_id));
    Ok(no_content())
}

fn no_content() -> Response {
    Response {
        status: 204,
        headers: Vec::new(),
        body: Vec::new(),
    }
}
