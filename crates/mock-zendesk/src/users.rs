//! Users: create_or_update (match by external_id, then any email identity), create, update, show,
//! exact lookups. Searching lives in `search.rs`, identities in `identities.rs`.

use serde_json::{Map, Value, json};

use crate::account::{Account, Call, IdKind};
use crate::attrs::{self, Patch};
use crate::http::{Handled, Response, record_invalid, record_not_found};
use crate::identities::add_identity;
use crate::memberships::make_sole_organization;
use crate::model::User;
use crate::pagination::{PageRequest, page_body, single_page_body};
use crate::render;
use crate::time::now_iso8601;

/// A user body, parsed and type-checked (state checks happen in `validate`).
pub(crate) struct UserInput {
    name: Patch<String>,
    email: Patch<String>,
    external_id: Patch<String>,
    phone: Patch<String>,
    time_zone: Patch<String>,
    verified: Patch<bool>,
    role: Patch<String>,
    organization_id: Patch<u64>,
    user_fields: Option<Map<String, Value>>,
    /// Replaces the user's tags (the tags endpoints add and remove).
    tags: Patch<Vec<String>>,
    skip_verify_email: bool,
}

impl UserInput {
    pub fn parse(body: &Option<Value>) -> Result<Self, Response> {
        let attrs = attrs::wrapped_object(body, "user")?;
        Self::from_attrs(attrs, attrs::skip_verify_email(body, attrs))
    }

    pub fn from_attrs(
        attrs: &Map<String, Value>,
        skip_verify_email: bool,
    ) -> Result<Self, Response> {
        let email = attrs::text(attrs, "email")?;
        if let Some(email) = email.as_set()
            && !looks_like_email(email)
        {
            return Err(record_invalid(
                "email",
                &format!("Email: {email} is not properly formatted"),
                "InvalidFormat",
            ));
        }
        Ok(UserInput {
            name: attrs::text(attrs, "name")?,
            email,
            external_id: attrs::text(attrs, "external_id")?,
            phone: attrs::text(attrs, "phone")?,
            time_zone: attrs::text(attrs, "time_zone")?,
            verified: attrs::boolean(attrs, "verified")?,
            role: attrs::text(attrs, "role")?,
            organization_id: attrs::id(attrs, "organization_id")?,
            user_fields: attrs::object(attrs, "user_fields")?.cloned(),
            tags: attrs::string_list(attrs, "tags")?,
            skip_verify_email,
        })
    }

    pub fn email(&self) -> Option<&String> {
        self.email.as_set()
    }

    /// Checks the input against the account; `target` is the user being updated (None: create).
    fn validate(&self, account: &Account, target: Option<u64>) -> Result<(), Response> {
        let creating = target.is_none();
        if matches!(self.name, Patch::Clear) || (creating && matches!(self.name, Patch::Absent)) {
            return Err(name_blank());
        }
        if let Some(email) = self.email.as_set()
            && let Some(owner) = account.data.user_by_email(email)
            && Some(owner.id) != target
        {
            return Err(record_invalid(
                "email",
                &format!("Email: {email} is already being used by another user"),
                "DuplicateValue",
            ));
        }
        if let Some(external_id) = self.external_id.as_set()
            && let Some(owner) = account.data.user_by_external_id(external_id)
            && Some(owner.id) != target
        {
            return Err(record_invalid(
                "external_id",
                &format!("External: {external_id} has already been taken"),
                "DuplicateValue",
            ));
        }
        if let Some(role) = self.role.as_set()
            && !["end-user", "agent", "admin"].contains(&role.as_str())
        {
            return Err(record_invalid("role", "Role: is invalid", "InvalidValue"));
        }
        if let Some(org_id) = self.organization_id.as_set()
            && account.data.organization(*org_id).is_none()
        {
            return Err(record_invalid(
                "organization_id",
                "Organization: is invalid",
                "InvalidValue",
            ));
        }
        Ok(())
    }
}

fn looks_like_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !value.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn name_blank() -> Response {
    record_invalid("name", "Name: cannot be blank", "BlankValue")
}

/// Creates the user; the input must have passed `validate(.., None)`.
fn create(account: &mut Account, input: UserInput) -> u64 {
    let id = account.next_id(IdKind::User);
    let now = now_iso8601();
    let defined = user_field_keys(account);
    let mut user_fields = Map::new();
    if let Some(incoming) = &input.user_fields {
        attrs::merge_custom_fields(&mut user_fields, incoming, &defined);
    }
    account.data.users.push(User {
        id,
        name: input.name.as_set().cloned().unwrap_or_default(),
        email: None,
        external_id: input.external_id.as_set().cloned(),
        phone: input.phone.as_set().cloned(),
        time_zone: input.time_zone.as_set().cloned(),
        verified: false,
        role: input
            .role
            .as_set()
            .cloned()
            .unwrap_or_else(|| "end-user".to_string()),
        user_fields,
        tags: Vec::new(),
        organization_id: None,
        verification_email_sent: false,
        created_at: now.clone(),
        updated_at: now,
    });
    if let Some(email) = input.email.as_set() {
        let verified = input.verified == Patch::Set(true);
        add_identity(
            account,
            id,
            "email",
            email,
            verified,
            input.skip_verify_email,
        );
    }
    if let Some(org_id) = input.organization_id.as_set() {
        make_sole_organization(account, id, *org_id);
    }
    set_tags(account, id, &input.tags);
    account.sync_identity_summary(id);
    sync_checkbox_tags(account, id);
    id
}

/// `tags` in a user body replaces the list.
fn set_tags(account: &mut Account, user_id: u64, tags: &Patch<Vec<String>>) {
    if let (Some(tags), Some(user)) = (
        tags.as_set(),
        account.data.users.iter_mut().find(|u| u.id == user_id),
    ) {
        user.tags.clear();
        crate::tags::add(&mut user.tags, tags.clone());
    }
}

/// Zendesk tags a user with the `tag` of each checked checkbox field, and untags when unchecked.
fn sync_checkbox_tags(account: &mut Account, user_id: u64) {
    let tagged: Vec<(String, String)> = account
        .data
        .user_fields
        .iter()
        .filter(|f| f.r#type == "checkbox")
        .filter_map(|f| Some((f.key.clone(), f.tag.clone()?)))
        .collect();
    if let Some(user) = account.data.users.iter_mut().find(|u| u.id == user_id) {
        for (key, tag) in tagged {
            let checked = user.user_fields.get(&key) == Some(&Value::Bool(true));
            let has = user.tags.contains(&tag);
            if checked && !has {
                user.tags.push(tag);
            } else if !checked && has {
                user.tags.retain(|t| *t != tag);
            }
        }
    }
}

/// Updates the user; the input must have passed `validate(.., Some(user_id))`.
fn update(account: &mut Account, user_id: u64, input: UserInput) {
    let defined = user_field_keys(account);
    if let Some(user) = account.data.users.iter_mut().find(|u| u.id == user_id) {
        if let Some(name) = input.name.as_set() {
            user.name = name.clone();
        }
        if let Some(role) = input.role.as_set() {
            user.role = role.clone();
        }
        // Zendesk rewrites the stored external_id to the case used in the request.
        input.external_id.clone().apply_to(&mut user.external_id);
        input.phone.clone().apply_to(&mut user.phone);
        input.time_zone.clone().apply_to(&mut user.time_zone);
        if let Some(incoming) = &input.user_fields {
            attrs::merge_custom_fields(&mut user.user_fields, incoming, &defined);
        }
    }
    set_tags(account, user_id, &input.tags);
    sync_checkbox_tags(account, user_id);
    // `email` never replaces the primary: an unknown address is added as a secondary identity,
    // carrying the request's `verified` flag; otherwise `verified` applies to the named
    // identity, or to the primary when no email is given.
    let verified = input.verified.as_set().copied();
    let target_identity = match input.email.as_set() {
        Some(email) => match account.data.identity_by_email(email) {
            Some(identity) => Some(identity.id),
            None => {
                add_identity(
                    account,
                    user_id,
                    "email",
                    email,
                    verified == Some(true),
                    input.skip_verify_email,
                );
                None
            }
        },
        None => account
            .data
            .identities
            .iter()
            .find(|i| i.user_id == user_id && i.primary && i.r#type == "email")
            .map(|i| i.id),
    };
    if let (Some(identity_id), Some(verified)) = (target_identity, verified)
        && let Some(identity) = account
            .data
            .identities
            .iter_mut()
            .find(|i| i.id == identity_id)
    {
        identity.verified = verified;
        identity.updated_at = now_iso8601();
    }
    if let Some(org_id) = input.organization_id.as_set() {
        make_sole_organization(account, user_id, *org_id);
    }
    account.sync_identity_summary(user_id);
    account.touch_user(user_id);
}

fn user_field_keys(account: &Account) -> Vec<String> {
    account
        .data
        .user_fields
        .iter()
        .map(|f| f.key.clone())
        .collect()
}

fn user_response(account: &Account, status: u16, user_id: u64) -> Response {
    match account.data.user(user_id) {
        Some(user) => Response::json(status, &json!({"user": render::user(account, user)})),
        None => record_not_found(),
    }
}

/// Creates a user from a validated-by-us input (used by tickets' `requester`).
pub(crate) fn create_validated(account: &mut Account, input: UserInput) -> Result<u64, Response> {
    input.validate(account, None)?;
    Ok(create(account, input))
}

/// `POST /users/create_or_update`: external_id (case-insensitive) first, then any email identity.
pub(crate) fn create_or_update(call: Call) -> Handled {
    let input = UserInput::parse(&call.body)?;
    let account = call.account;
    let by_external_id = input
        .external_id
        .as_set()
        .and_then(|e| account.data.user_by_external_id(e));
    let existing = by_external_id
        .or_else(|| input.email().and_then(|e| account.data.user_by_email(e)))
        .map(|u| u.id);
    input.validate(account, existing)?;
    match existing {
        Some(user_id) => {
            update(account, user_id, input);
            Ok(user_response(account, 200, user_id))
        }
        None => {
            let user_id = create(account, input);
            Ok(user_response(account, 201, user_id))
        }
    }
}

/// `POST /users`: create only (a duplicate email or external_id is a 422).
pub(crate) fn create_only(call: Call) -> Handled {
    let input = UserInput::parse(&call.body)?;
    input.validate(call.account, None)?;
    let user_id = create(call.account, input);
    Ok(user_response(call.account, 201, user_id))
}

/// `PUT /users/{id}`.
pub(crate) fn update_by_id(call: Call, user_id: u64) -> Handled {
    if call.account.data.user(user_id).is_none() {
        return Err(record_not_found());
    }
    let input = UserInput::parse(&call.body)?;
    input.validate(call.account, Some(user_id))?;
    update(call.account, user_id, input);
    Ok(user_response(call.account, 200, user_id))
}

pub(crate) fn show(call: Call, user_id: u64) -> Handled {
    Ok(user_response(call.account, 200, user_id))
}

/// `GET /users?external_id=` (exact) or the whole list, paginated.
pub(crate) fn list(call: Call) -> Handled {
    let account = &*call.account;
    if let Some(external_id) = call.query.get("external_id") {
        return Ok(exact_external_id(account, external_id));
    }
    let request = PageRequest::from_query(&call.query, true)?;
    let users = account
        .data
        .users
        .iter()
        .map(|u| render::user(account, u))
        .collect();
    let url = format!("{}/api/v2/users.json", account.base_url);
    Ok(Response::json(
        200,
        &page_body("users", users, request, &url, &[]),
    ))
}

/// The exact, case-insensitive external_id lookup shared by `/users` and `/users/search`.
pub(crate) fn exact_external_id(account: &Account, external_id: &str) -> Response {
    let users = account
        .data
        .user_by_external_id(external_id)
        .map(|u| render::user(account, u))
        .into_iter()
        .collect();
    Response::json(200, &single_page_body("users", users))
}

/// `GET /users/show_many?ids=1,2` or `?external_ids=a,b` (at most 100).
pub(crate) fn show_many(call: Call) -> Handled {
    let account = &*call.account;
    let asked = crate::http::ShowMany::parse(&call.query)?;
    let found = account
        .data
        .users
        .iter()
        .filter(|u| asked.matches(u.id, u.external_id.as_deref()))
        .map(|u| render::user(account, u))
        .collect();
    Ok(Response::json(200, &single_page_body("users", found)))
}
