//! The JSON shapes Zendesk returns for each record.

use serde_json::{Map, Value, json};

use crate::account::Account;
use crate::model::{FieldDef, Identity, Membership, Organization, Ticket, User};

/// Zendesk lists every defined custom field on a record, `null` where unset.
fn custom_field_values(definitions: &[FieldDef], stored: &Map<String, Value>) -> Value {
    let mut values = Map::new();
    for field in definitions {
        let value = stored.get(&field.key).cloned().unwrap_or(Value::Null);
        values.insert(field.key.clone(), value);
    }
    Value::Object(values)
}

pub(crate) fn user(account: &Account, user: &User) -> Value {
    json!({
        "id": user.id,
        "url": format!("{}/api/v2/users/{}.json", account.base_url, user.id),
        "name": user.name,
        "email": user.email,
        "external_id": user.external_id,
        "phone": user.phone,
        "time_zone": user.time_zone,
        "verified": user.verified,
        "role": user.role,
        "user_fields": custom_field_values(&account.data.user_fields, &user.user_fields),
        "tags": user.tags,
        "organization_id": user.organization_id,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    })
}

pub(crate) fn identity(account: &Account, identity: &Identity) -> Value {
    json!({
        "id": identity.id,
        "url": format!(
            "{}/api/v2/users/{}/identities/{}.json",
            account.base_url, identity.user_id, identity.id
        ),
        "user_id": identity.user_id,
        "type": identity.r#type,
        "value": identity.value,
        "primary": identity.primary,
        "verified": identity.verified,
        "deliverable_state": "deliverable",
        "undeliverable_count": 0,
        "created_at": identity.created_at,
        "updated_at": identity.updated_at,
    })
}

pub(crate) fn organization(account: &Account, org: &Organization) -> Value {
    json!({
        "id": org.id,
        "url": org.url,
        "name": org.name,
        "external_id": org.external_id,
        "domain_names": org.domain_names,
        "tags": org.tags,
        "details": org.details,
        "notes": org.notes,
        "deleted": org.deleted,
        "organization_fields": custom_field_values(&account.data.organization_fields, &org.organization_fields),
        "created_at": org.created_at,
        "updated_at": org.updated_at,
    })
}

pub(crate) fn membership(account: &Account, membership: &Membership) -> Value {
    let organization_name = account
        .data
        .organization(membership.organization_id)
        .map(|o| o.name.clone());
    json!({
        "id": membership.id,
        "url": format!("{}/api/v2/organization_memberships/{}.json", account.base_url, membership.id),
        "user_id": membership.user_id,
        "organization_id": membership.organization_id,
        // Zendesk sends null rather than false for non-default memberships.
        "default": membership.default.then_some(true),
        "organization_name": organization_name,
        "view_tickets": true,
        "created_at": membership.created_at,
        "updated_at": membership.updated_at,
    })
}

pub(crate) fn field(account: &Account, field: &FieldDef, collection: &str) -> Value {
    let mut rendered = json!({
        "id": field.id,
        "url": format!("{}/api/v2/{collection}/{}.json", account.base_url, field.id),
        "title": field.title,
        "type": field.r#type,
        "active": field.active,
        "position": field.position,
        "created_at": field.created_at,
        "updated_at": field.updated_at,
    });
    let options: Vec<Value> = field
        .options
        .iter()
        .map(|o| json!({"name": o.name, "value": o.value}))
        .collect();
    if collection == "ticket_fields" {
        rendered["required"] = field.required.into();
        rendered["removable"] = field.removable.into();
        if !field.removable && !options.is_empty() {
            rendered["system_field_options"] = options.into();
        } else if !options.is_empty() {
            rendered["custom_field_options"] = options.into();
        }
    } else {
        rendered["key"] = field.key.clone().into();
        rendered["system"] = false.into();
        if !options.is_empty() {
            rendered["custom_field_options"] = options.into();
        }
    }
    if field.r#type == "checkbox" {
        rendered["tag"] = field.tag.clone().into();
    }
    rendered
}

pub(crate) fn ticket(account: &Account, ticket: &Ticket) -> Value {
    json!({
        "id": ticket.id,
        "url": format!("{}/api/v2/tickets/{}.json", account.base_url, ticket.id),
        "subject": ticket.subject,
        "description": ticket.description,
        "status": ticket.status,
        "priority": ticket.priority,
        "type": ticket.r#type,
        "tags": ticket.tags,
        "external_id": ticket.external_id,
        "requester_id": ticket.requester_id,
        "custom_fields": ticket.custom_fields,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    })
}
