//! Organizations: create_or_update (matches id / external_id ONLY, never the name), create,
//! update, show, list, exact search by external_id or name.

use serde_json::{Map, Value, json};

use crate::account::{Account, Call, IdKind};
use crate::attrs::{self, Patch};
use crate::http::{Handled, Response, bad_request, record_invalid, record_not_found};
use crate::model::Organization;
use crate::pagination::{PageRequest, page_body, single_page_body};
use crate::render;
use crate::snapshot::same_org_name;
use crate::time::now_iso8601;

pub(crate) struct OrgInput {
    id: Patch<u64>,
    name: Patch<String>,
    external_id: Patch<String>,
    domain_names: Patch<Vec<String>>,
    tags: Patch<Vec<String>>,
    details: Patch<String>,
    notes: Patch<String>,
    url: Patch<String>,
    deleted: Patch<bool>,
    organization_fields: Option<Map<String, Value>>,
}

impl OrgInput {
    pub fn parse(body: &Option<Value>) -> Result<Self, Response> {
        Self::from_attrs(attrs::wrapped_object(body, "organization")?)
    }

    pub fn from_attrs(attrs: &Map<String, Value>) -> Result<Self, Response> {
        Ok(OrgInput {
            id: attrs::id(attrs, "id")?,
            name: attrs::text(attrs, "name")?,
            external_id: attrs::text(attrs, "external_id")?,
            domain_names: attrs::string_list(attrs, "domain_names")?,
            tags: attrs::string_list(attrs, "tags")?,
            details: attrs::text(attrs, "details")?,
            notes: attrs::text(attrs, "notes")?,
            url: attrs::text(attrs, "url")?,
            deleted: attrs::boolean(attrs, "deleted")?,
            organization_fields: attrs::object(attrs, "organization_fields")?.cloned(),
        })
    }

    /// `target` is the organization being updated (None: create).
    fn validate(&self, account: &Account, target: Option<u64>) -> Result<(), Response> {
        let creating = target.is_none();
        if matches!(self.name, Patch::Clear) || (creating && matches!(self.name, Patch::Absent)) {
            return Err(record_invalid(
                "name",
                "Name: cannot be blank",
                "BlankValue",
            ));
        }
        if let Some(name) = self.name.as_set()
            && account
                .data
                .organizations
                .iter()
                .any(|o| Some(o.id) != target && same_org_name(&o.name, name))
        {
            return Err(record_invalid(
                "name",
                "Name: has already been taken",
                "DuplicateValue",
            ));
        }
        if let Some(external_id) = self.external_id.as_set()
            && let Some(owner) = account.data.organization_by_external_id(external_id)
            && Some(owner.id) != target
        {
            return Err(record_invalid(
                "external_id",
                "External: has already been taken",
                "DuplicateValue",
            ));
        }
        Ok(())
    }
}

fn field_keys(account: &Account) -> Vec<String> {
    account
        .data
        .organization_fields
        .iter()
        .map(|f| f.key.clone())
        .collect()
}

fn apply(org: &mut Organization, input: OrgInput, defined_keys: &[String]) {
    if let Patch::Set(name) = input.name {
        org.name = name;
    }
    input.external_id.apply_to(&mut org.external_id);
    if let Patch::Set(domain_names) = input.domain_names {
        org.domain_names = domain_names;
    }
    if let Patch::Set(tags) = input.tags {
        org.tags = tags;
    }
    input.details.apply_to(&mut org.details);
    input.notes.apply_to(&mut org.notes);
    input.url.apply_to(&mut org.url);
    input.deleted.apply_to(&mut org.deleted);
    if let Some(incoming) = &input.organization_fields {
        attrs::merge_custom_fields(&mut org.organization_fields, incoming, defined_keys);
    }
    org.updated_at = now_iso8601();
}

/// Creates the organization; the input must have passed `validate(.., None)`.
fn create(account: &mut Account, input: OrgInput) -> u64 {
    let id = account.next_id(IdKind::Organization);
    let now = now_iso8601();
    let mut org = Organization {
        id,
        name: String::new(),
        external_id: None,
        domain_names: Vec::new(),
        tags: Vec::new(),
        details: None,
        notes: None,
        url: None,
        deleted: None,
        organization_fields: Map::new(),
        created_at: now.clone(),
        updated_at: now,
    };
    apply(&mut org, input, &field_keys(account));
    account.data.organizations.push(org);
    id
}

fn update(account: &mut Account, id: u64, input: OrgInput) {
    let keys = field_keys(account);
    if let Some(org) = account.data.organizations.iter_mut().find(|o| o.id == id) {
        apply(org, input, &keys);
    }
}

pub(crate) fn create_validated(account: &mut Account, input: OrgInput) -> Result<u64, Response> {
    input.validate(account, None)?;
    Ok(create(account, input))
}

fn org_response(account: &Account, status: u16, id: u64) -> Handled {
    let org = account.data.organization(id).ok_or_else(record_not_found)?;
    Ok(Response::json(
        status,
        &json!({"organization": render::organization(account, org)}),
    ))
}

/// `POST /organizations/create_or_update`: "Name is not available as a matching criteria".
pub(crate) fn create_or_update(call: Call) -> Handled {
    let input = OrgInput::parse(&call.body)?;
    let account = call.account;
    let by_id = input
        .id
        .as_set()
        .and_then(|id| account.data.organization(*id));
    let existing = by_id
        .or_else(|| {
            input
                .external_id
                .as_set()
                .and_then(|e| account.data.organization_by_external_id(e))
        })
        .map(|o| o.id);
    input.validate(account, existing)?;
    match existing {
        Some(id) => {
            update(account, id, input);
            org_response(account, 200, id)
        }
        None => {
            let id = create(account, input);
            org_response(account, 201, id)
        }
    }
}

/// `POST /organizations`.
pub(crate) fn create_only(call: Call) -> Handled {
    let input = OrgInput::parse(&call.body)?;
    let id = create_validated(call.account, input)?;
    org_response(call.account, 201, id)
}

/// `PUT /organizations/{id}`.
pub(crate) fn update_by_id(call: Call, id: u64) -> Handled {
    call.account
        .data
        .organization(id)
        .ok_or_else(record_not_found)?;
    let input = OrgInput::parse(&call.body)?;
    input.validate(call.account, Some(id))?;
    update(call.account, id, input);
    org_response(call.account, 200, id)
}

pub(crate) fn show(call: Call, id: u64) -> Handled {
    org_response(call.account, 200, id)
}

pub(crate) fn list(call: Call) -> Handled {
    let account = &*call.account;
    let request = PageRequest::from_query(&call.query, true)?;
    let orgs = account
        .data
        .organizations
        .iter()
        .map(|o| render::organization(account, o))
        .collect();
    let url = format!("{}/api/v2/organizations.json", account.base_url);
    Ok(Response::json(
        200,
        &page_body("organizations", orgs, request, &url, &[]),
    ))
}

/// `GET /organizations/search?external_id=` or `?name=` (exactly one; exact, case-insensitive).
pub(crate) fn search(call: Call) -> Handled {
    let account = &*call.account;
    let found = match (call.query.get("external_id"), call.query.get("name")) {
        (Some(external_id), None) => account.data.organization_by_external_id(external_id),
        (None, Some(name)) => account.data.organization_by_name(name),
        (Some(_), Some(_)) => {
            return Err(bad_request(
                "InvalidParameter",
                "Specify either external_id or name, not both",
            ));
        }
        (None, None) => {
            return Err(bad_request(
                "InvalidParameter",
                "external_id or name is required",
            ));
        }
    };
    let orgs = found
        .map(|o| render::organization(account, o))
        .into_iter()
        .collect();
    Ok(Response::json(
        200,
        &single_page_body("organizations", orgs),
    ))
}

/// `GET /organizations/show_many?ids=1,2` or `?external_ids=a,b` (at most 100; exact,
/// case-insensitive external ids).
pub(crate) fn show_many(call: Call) -> Handled {
    let account = &*call.account;
    let asked = crate::http::ShowMany::parse(&call.query)?;
    let found = account
        .data
        .organizations
        .iter()
        .filter(|o| asked.matches(o.id, o.external_id.as_deref()))
        .map(|o| render::organization(account, o))
        .collect();
    Ok(Response::json(
        200,
        &single_page_body("organizations", found),
    ))
}
