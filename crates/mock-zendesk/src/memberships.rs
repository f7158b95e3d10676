//! Organization memberships: create (422 when already a member), list three ways with both
//! pagination styles, delete two ways, and "unassign organization".

use serde_json::{Value, json};

use crate::account::{Account, Call, IdKind};
use crate::attrs::{self, Patch};
use crate::http::{Handled, Response, record_invalid, record_not_found};
use crate::model::Membership;
use crate::pagination::{PageRequest, page_body};
use crate::render;
use crate::time::now_iso8601;

/// Adds a membership (no validation); the user's first membership becomes its default.
fn insert(account: &mut Account, user_id: u64, organization_id: u64) -> u64 {
    let id = account.next_id(IdKind::Membership);
    let now = now_iso8601();
    account.data.memberships.push(Membership {
        id,
        user_id,
        organization_id,
        default: false,
        created_at: now.clone(),
        updated_at: now,
    });
    account.sync_default_organization(user_id);
    id
}

/// Validated membership creation shared by the API and the seeding helper.
pub(crate) fn add(
    account: &mut Account,
    user_id: u64,
    organization_id: u64,
) -> Result<u64, Response> {
    if account.data.user(user_id).is_none() {
        return Err(record_invalid("user", "User cannot be blank", "BlankValue"));
    }
    if account.data.organization(organization_id).is_none() {
        return Err(record_invalid(
            "organization",
            "Organization cannot be blank",
            "BlankValue",
        ));
    }
    if account.data.membership(user_id, organization_id).is_some() {
        return Err(record_invalid(
            "user_id",
            "User is already a member of this organization",
            "DuplicateValue",
        ));
    }
    Ok(insert(account, user_id, organization_id))
}

/// What writing `user.organization_id` does in Zendesk: that organization becomes the default and
/// ALL OTHER memberships are removed. Modelled so tests can prove the plugin never sends it.
pub(crate) fn make_sole_organization(account: &mut Account, user_id: u64, organization_id: u64) {
    account
        .data
        .memberships
        .retain(|m| m.user_id != user_id || m.organization_id == organization_id);
    if account.data.membership(user_id, organization_id).is_none() {
        insert(account, user_id, organization_id);
    }
    for membership in account
        .data
        .memberships
        .iter_mut()
        .filter(|m| m.user_id == user_id)
    {
        membership.default = true;
    }
    account.sync_default_organization(user_id);
}

fn remove(account: &mut Account, membership_id: u64) -> Result<(), Response> {
    let position = account
        .data
        .memberships
        .iter()
        .position(|m| m.id == membership_id)
        .ok_or_else(record_not_found)?;
    let removed = account.data.memberships.remove(position);
    account.sync_default_organization(removed.user_id);
    Ok(())
}

/// `POST /organization_memberships` (and `POST /users/{id}/organization_memberships`, where the
/// path supplies the user).
pub(crate) fn create(call: Call, path_user_id: Option<u64>) -> Handled {
    let attrs = attrs::wrapped_object(&call.body, "organization_membership")?;
    let user_id = match (path_user_id, attrs::id(attrs, "user_id")?) {
        (Some(id), _) | (None, Patch::Set(id)) => id,
        _ => return Err(record_invalid("user", "User cannot be blank", "BlankValue")),
    };
    let Patch::Set(organization_id) = attrs::id(attrs, "organization_id")? else {
        return Err(record_invalid(
            "organization",
            "Organization cannot be blank",
            "BlankValue",
        ));
    };
    let id = add(call.account, user_id, organization_id)?;
    membership_response(call.account, 201, id)
}

fn membership_response(account: &Account, status: u16, id: u64) -> Handled {
    let membership = account
        .data
        .memberships
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(record_not_found)?;
    Ok(Response::json(
        status,
        &json!({"organization_membership": render::membership(account, membership)}),
    ))
}

pub(crate) fn show(call: Call, id: u64) -> Handled {
    membership_response(call.account, 200, id)
}

/// Which memberships a list endpoint shows.
pub(crate) enum Scope {
    All,
    User(u64),
    Organization(u64),
}

/// The three list endpoints; a user's list is default first, then by organization name.
pub(crate) fn list(call: Call, scope: Scope) -> Handled {
    let account = &*call.account;
    let request = PageRequest::from_query(&call.query, true)?;
    let (memberships, path): (Vec<&Membership>, String) = match scope {
        Scope::All => (
            account.data.memberships.iter().collect(),
            "organization_memberships".to_string(),
        ),
        Scope::User(user_id) => {
            account.data.user(user_id).ok_or_else(record_not_found)?;
            (
                account.data.memberships_of(user_id),
                format!("users/{user_id}/organization_memberships"),
            )
        }
        Scope::Organization(org_id) => {
            account
                .data
                .organization(org_id)
                .ok_or_else(record_not_found)?;
            (
                account
                    .data
                    .memberships
                    .iter()
                    .filter(|m| m.organization_id == org_id)
                    .collect(),
                format!("organizations/{org_id}/organization_memberships"),
            )
        }
    };
    let items: Vec<Value> = memberships
        .into_iter()
        .map(|m| render::membership(account, m))
        .collect();
    let url = format!("{}/api/v2/{path}.json", account.base_url);
    Ok(Response::json(
        200,
        &page_body("organization_memberships", items, request, &url, &[]),
    ))
}

/// `DELETE /organization_memberships/{id}` and `DELETE /users/{uid}/organization_memberships/{id}`.
pub(crate) fn delete(call: Call, path_user_id: Option<u64>, id: u64) -> Handled {
    let belongs = call
        .account
        .data
        .memberships
        .iter()
        .any(|m| m.id == id && path_user_id.is_none_or(|uid| m.user_id == uid));
    if !belongs {
        return Err(record_not_found());
    }
    remove(call.account, id)?;
    Ok(Response::no_content())
}

/// `DELETE /users/{uid}/organizations/{oid}` (Unassign Organization).
pub(crate) fn unassign(call: Call, user_id: u64, organization_id: u64) -> Handled {
    let id = call
        .account
        .data
        .membership(user_id, organization_id)
        .map(|m| m.id)
        .ok_or_else(record_not_found)?;
    remove(call.account, id)?;
    Ok(Response::no_content())
}

/// `PUT /users/{uid}/organization_memberships/{id}/make_default` and
/// `PUT /users/{uid}/organizations/{oid}/make_default` -> 200 with the user's memberships.
pub(crate) fn make_default(call: Call, user_id: u64, target: DefaultTarget) -> Handled {
    let account = call.account;
    let id = account
        .data
        .memberships
        .iter()
        .find(|m| {
            m.user_id == user_id
                && match target {
                    DefaultTarget::Membership(id) => m.id == id,
                    DefaultTarget::Organization(org_id) => m.organization_id == org_id,
                }
        })
        .map(|m| m.id)
        .ok_or_else(record_not_found)?;
    let now = now_iso8601();
    for membership in account
        .data
        .memberships
        .iter_mut()
        .filter(|m| m.user_id == user_id)
    {
        let default = membership.id == id;
        if membership.default != default {
            membership.default = default;
            membership.updated_at = now.clone();
        }
    }
    account.sync_default_organization(user_id);
    let items: Vec<Value> = account
        .data
        .memberships_of(user_id)
        .into_iter()
        .map(|m| render::membership(account, m))
        .collect();
    Ok(Response::json(
        200,
        &json!({"organization_memberships": items}),
    ))
}

pub(crate) enum DefaultTarget {
    Membership(u64),
    Organization(u64),
}
