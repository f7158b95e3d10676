//! User identities: list (cursor or offset), show, add, update, make_primary, verify, delete.

use serde_json::{Value, json};

use crate::account::{Account, Call, IdKind};
use crate::attrs::{self, Patch};
use crate::http::{Handled, Response, record_invalid, record_not_found};
use crate::model::Identity;
use crate::pagination::{PageRequest, page_body};
use crate::render;
use crate::time::now_iso8601;

const IDENTITY_TYPES: [&str; 10] = [
    "email",
    "twitter",
    "facebook",
    "google",
    "phone_number",
    "agent_forwarding",
    "any_channel",
    "foreign",
    "sdk",
    "messaging",
];

/// Adds an identity; the first email identity of a user is its primary. A verification email
/// "goes out" for an unverified email identity unless `skip_verify_email`.
pub(crate) fn add_identity(
    account: &mut Account,
    user_id: u64,
    kind: &str,
    value: &str,
    verified: bool,
    skip_verify_email: bool,
) -> u64 {
    let id = account.next_id(IdKind::Identity);
    let primary = !account
        .data
        .identities
        .iter()
        .any(|i| i.user_id == user_id && i.r#type == kind);
    let now = now_iso8601();
    account.data.identities.push(Identity {
        id,
        user_id,
        r#type: kind.to_string(),
        value: value.to_string(),
        primary,
        verified,
        created_at: now.clone(),
        updated_at: now,
    });
    if kind == "email"
        && !verified
        && !skip_verify_email
        && let Some(user) = account.data.users.iter_mut().find(|u| u.id == user_id)
    {
        user.verification_email_sent = true;
    }
    account.sync_identity_summary(user_id);
    id
}

fn require_user(account: &Account, user_id: u64) -> Result<(), Response> {
    match account.data.user(user_id) {
        Some(_) => Ok(()),
        None => Err(record_not_found()),
    }
}

fn require_identity(account: &Account, user_id: u64, identity_id: u64) -> Result<(), Response> {
    require_user(account, user_id)?;
    match account
        .data
        .identities
        .iter()
        .any(|i| i.id == identity_id && i.user_id == user_id)
    {
        true => Ok(()),
        false => Err(record_not_found()),
    }
}

fn value_taken(account: &Account, kind: &str, value: &str, except: Option<u64>) -> bool {
    account
        .data
        .identities
        .iter()
        .any(|i| i.r#type == kind && i.value.eq_ignore_ascii_case(value) && Some(i.id) != except)
}

fn value_in_use(value: &str) -> Response {
    record_invalid(
        "value",
        &format!("Value: {value} is already being used by another user"),
        "DuplicateValue",
    )
}

fn identity_response(account: &Account, status: u16, identity_id: u64) -> Response {
    match account.data.identities.iter().find(|i| i.id == identity_id) {
        Some(identity) => Response::json(
            status,
            &json!({"identity": render::identity(account, identity)}),
        ),
        None => record_not_found(),
    }
}

/// `GET /users/{id}/identities`.
pub(crate) fn list(call: Call, user_id: u64) -> Handled {
    let account = &*call.account;
    require_user(account, user_id)?;
    let request = PageRequest::from_query(&call.query, true)?;
    let identities = account
        .data
        .identities_of(user_id)
        .into_iter()
        .map(|i| render::identity(account, i))
        .collect();
    let url = format!(
        "{}/api/v2/users/{user_id}/identities.json",
        account.base_url
    );
    Ok(Response::json(
        200,
        &page_body("identities", identities, request, &url, &[]),
    ))
}

pub(crate) fn show(call: Call, user_id: u64, identity_id: u64) -> Handled {
    require_identity(call.account, user_id, identity_id)?;
    Ok(identity_response(call.account, 200, identity_id))
}

/// `POST /users/{id}/identities` `{"identity":{"type","value"}}` -> 201.
pub(crate) fn create(call: Call, user_id: u64) -> Handled {
    require_user(call.account, user_id)?;
    let attrs = attrs::wrapped_object(&call.body, "identity")?;
    let kind = match attrs::text(attrs, "type")? {
        Patch::Set(kind) if IDENTITY_TYPES.contains(&kind.as_str()) => kind,
        Patch::Set(_) => return Err(record_invalid("type", "Type: is invalid", "InvalidValue")),
        _ => {
            return Err(record_invalid(
                "type",
                "Type: cannot be blank",
                "BlankValue",
            ));
        }
    };
    let Patch::Set(value) = attrs::text(attrs, "value")? else {
        return Err(record_invalid(
            "value",
            "Value: cannot be blank",
            "BlankValue",
        ));
    };
    if value_taken(call.account, &kind, &value, None) {
        return Err(value_in_use(&value));
    }
    let verified = attrs::boolean(attrs, "verified")? == Patch::Set(true);
    let skip = attrs::skip_verify_email(&call.body, attrs);
    let id = add_identity(call.account, user_id, &kind, &value, verified, skip);
    Ok(identity_response(call.account, 201, id))
}

/// `PUT /users/{id}/identities/{iid}`: verify/unverify or change the value (never `primary`).
pub(crate) fn update(call: Call, user_id: u64, identity_id: u64) -> Handled {
    require_identity(call.account, user_id, identity_id)?;
    let attrs = attrs::wrapped_object(&call.body, "identity")?;
    let verified = attrs::boolean(attrs, "verified")?;
    let value = attrs::text(attrs, "value")?;
    if let Some(new_value) = value.as_set() {
        let kind = call
            .account
            .data
            .identities
            .iter()
            .find(|i| i.id == identity_id)
            .map(|i| i.r#type.clone())
            .unwrap_or_default();
        if value_taken(call.account, &kind, new_value, Some(identity_id)) {
            return Err(value_in_use(new_value));
        }
    }
    if let Some(identity) = call
        .account
        .data
        .identities
        .iter_mut()
        .find(|i| i.id == identity_id)
    {
        if let Some(new_value) = value.as_set() {
            identity.value = new_value.clone();
        }
        if let Some(verified) = verified.as_set() {
            identity.verified = *verified;
        }
        identity.updated_at = now_iso8601();
    }
    call.account.sync_identity_summary(user_id);
    Ok(identity_response(call.account, 200, identity_id))
}

/// `PUT /users/{id}/identities/{iid}/verify`.
pub(crate) fn verify(call: Call, user_id: u64, identity_id: u64) -> Handled {
    require_identity(call.account, user_id, identity_id)?;
    if let Some(identity) = call
        .account
        .data
        .identities
        .iter_mut()
        .find(|i| i.id == identity_id)
    {
        identity.verified = true;
        identity.updated_at = now_iso8601();
    }
    call.account.sync_identity_summary(user_id);
    Ok(identity_response(call.account, 200, identity_id))
}

/// `PUT /users/{id}/identities/{iid}/make_primary`: the previous primary of that type becomes a
/// secondary; answers the whole collection.
pub(crate) fn make_primary(call: Call, user_id: u64, identity_id: u64) -> Handled {
    require_identity(call.account, user_id, identity_id)?;
    let account = call.account;
    let kind = account
        .data
        .identities
        .iter()
        .find(|i| i.id == identity_id)
        .map(|i| i.r#type.clone())
        .unwrap_or_default();
    let now = now_iso8601();
    for identity in account
        .data
        .identities
        .iter_mut()
        .filter(|i| i.user_id == user_id && i.r#type == kind)
    {
        let primary = identity.id == identity_id;
        if identity.primary != primary {
            identity.primary = primary;
            identity.updated_at = now.clone();
        }
    }
    account.sync_identity_summary(user_id);
    account.touch_user(user_id);
    let identities: Vec<Value> = account
        .data
        .identities_of(user_id)
        .into_iter()
        .map(|i| render::identity(account, i))
        .collect();
    Ok(Response::json(200, &json!({"identities": identities})))
}

/// `DELETE /users/{id}/identities/{iid}` -> 204. Deleting the primary promotes the oldest
/// remaining identity of the same type, so the user keeps a primary email.
pub(crate) fn delete(call: Call, user_id: u64, identity_id: u64) -> Handled {
    require_identity(call.account, user_id, identity_id)?;
    let account = call.account;
    let Some(position) = account
        .data
        .identities
        .iter()
        .position(|i| i.id == identity_id)
    else {
        return Err(record_not_found());
    };
    let removed = account.data.identities.remove(position);
    if removed.primary
        && let Some(next) = account
            .data
            .identities
            .iter_mut()
            .find(|i| i.user_id == user_id && i.r#type == removed.r#type)
    {
        next.primary = true;
    }
    account.sync_identity_summary(user_id);
    Ok(Response::no_content())
}
