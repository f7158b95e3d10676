//! Schema introspection for a mapping UI: every field a record of one object type can write,
//! from the standard attributes and the Zendesk fields APIs (user_fields, organization_fields,
//! ticket_fields, all pages; no other call).

use crate::client::Client;
use crate::fields::{FieldScope, list_definitions};
use crate::outcome::Error;
use crate::sync_config::ObjectType;
use crate::ticket_fields;
use serde_json::Value;

/// One field, as the WIT `field-info` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// What `fieldMapping` targets: a field key or a standard attribute; `None` for custom
    /// ticket fields, which are named by `id` (or title).
    pub key: Option<String>,
    pub id: Option<u64>,
    pub title: String,
    pub field_type: String,
    /// (name, value) of each choice of a dropdown, multiselect or system list.
    pub options: Vec<(String, String)>,
    pub required: bool,
    pub active: bool,
    pub custom: bool,
}

/// Standard attributes: (key, title, type, required).
const USER_ATTRIBUTES: &[(&str, &str, &str, bool)] = &[
    ("name", "Name", "text", true),
    ("email", "Email", "text", true),
    ("external_id", "External ID", "text", false),
    ("phone", "Phone", "text", false),
    ("time_zone", "Time zone", "text", false),
    ("organization_id", "Organization ID", "integer", false),
];
const ORGANIZATION_ATTRIBUTES: &[(&str, &str, &str, bool)] = &[
    ("name", "Name", "text", true),
    ("external_id", "External ID", "text", false),
    ("domain_names", "Domain names", "list", false),
    ("tags", "Tags", "list", false),
    ("details", "Details", "textarea", false),
    ("notes", "Notes", "textarea", false),
    ("url", "URL", "text", false),
];
/// What a membership row names (no custom fields).
const MEMBERSHIP_ATTRIBUTES: &[(&str, &str, &str, bool)] = &[
    ("user_email", "User email", "text", false),
    ("user_external_id", "User external ID", "text", false),
    (
        "organization_external_id",
        "Organization external ID",
        "text",
        true,
    ),
];
/// A custom object record's standard attributes (its fields come from the object).
const CUSTOM_OBJECT_ATTRIBUTES: &[(&str, &str, &str, bool)] = &[
    ("external_id", "External ID", "text", true),
    ("name", "Name", "text", true),
];
/// What a ticket comment row carries.
const COMMENT_ATTRIBUTES: &[(&str, &str, &str, bool)] = &[
    ("ticket_id", "Ticket ID", "integer", false),
    ("ticket_external_id", "Ticket external ID", "text", false),
    ("body", "Body", "textarea", true),
    ("public", "Public", "checkbox", false),
    ("author_email", "Author email", "text", false),
    ("author_external_id", "Author external ID", "text", false),
];
/// Ticket attributes that are not ticket fields.
const TICKET_ATTRIBUTES: &[(&str, &str, &str, bool)] = &[
    ("external_id", "External ID", "text", false),
    ("tags", "Tags", "list", false),
    ("requester_email", "Requester email", "text", false),
    ("requester_name", "Requester name", "text", false),
    ("requester_id", "Requester ID", "integer", false),
];
/// System ticket fields a record writes: (Zendesk type, record key).
const TICKET_SYSTEM_FIELDS: &[(&str, &str)] = &[
    ("subject", "subject"),
    ("description", "description"),
    ("status", "status"),
    ("priority", "priority"),
    ("tickettype", "type"),
];

/// `custom_object`: the config's `customObjectKey`, for `ObjectType::CustomObjects`.
pub fn list_fields(
    client: &mut Client,
    object: ObjectType,
    custom_object: Option<&str>,
) -> Result<Vec<FieldInfo>, Error> {
    let (attributes, definitions) = match object {
        ObjectType::Users => (USER_ATTRIBUTES, list_definitions(client, FieldScope::User)?),
        ObjectType::Organizations => (
            ORGANIZATION_ATTRIBUTES,
            list_definitions(client, FieldScope::Organization)?,
        ),
        ObjectType::Tickets => (TICKET_ATTRIBUTES, ticket_fields::list_definitions(client)?),
        ObjectType::OrganizationMemberships => (MEMBERSHIP_ATTRIBUTES, Vec::new()),
        ObjectType::TicketComments => (COMMENT_ATTRIBUTES, Vec::new()),
        ObjectType::CustomObjects => {
            let key = custom_object.ok_or_else(|| {
                Error::InvalidConfig("custom object fields need `customObjectKey`".into())
            })?;
            let path = format!(
                "/api/v2/custom_objects/{}/fields",
                crate::client::encode(key)
            );
            (
                CUSTOM_OBJECT_ATTRIBUTES,
                client.list_all(&path, "custom_object_fields")?,
            )
        }
    };
    let mut fields: Vec<FieldInfo> = Vec::new();
    for definition in &definitions {
        let field_type = text(definition, "type");
        let system = definition.get("removable").and_then(Value::as_bool) == Some(false);
        let key = match object {
            ObjectType::Tickets if system => {
                match TICKET_SYSTEM_FIELDS.iter().find(|(t, _)| *t == field_type) {
                    Some((_, key)) => Some((*key).to_string()),
                    // A system field records do not write (group, assignee...).
                    None => continue,
                }
            }
            ObjectType::Tickets => None,
            _ => Some(text(definition, "key")),
        };
        let required = definition.get("required").and_then(Value::as_bool) == Some(true)
            || matches!(key.as_deref(), Some("subject" | "description")) && system;
        fields.push(FieldInfo {
            key,
            id: definition.get("id").and_then(Value::as_u64),
            title: text(definition, "title"),
            options: options(definition),
            required,
            active: definition.get("active").and_then(Value::as_bool) != Some(false),
            custom: !system,
            field_type,
        });
    }
    let standard = attributes
        .iter()
        .map(|(key, title, field_type, required)| FieldInfo {
            key: Some((*key).to_string()),
            id: None,
            title: (*title).to_string(),
            field_type: (*field_type).to_string(),
            options: Vec::new(),
            required: *required,
            active: true,
            custom: false,
        });
    // Standard attributes first, then the fields in Zendesk's order.
    Ok(standard.chain(fields).collect())
}

fn text(definition: &Value, key: &str) -> String {
    definition
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `custom_field_options` (dropdowns, multiselects) or `system_field_options` (status...).
fn options(definition: &Value) -> Vec<(String, String)> {
    ["custom_field_options", "system_field_options"]
        .iter()
        .filter_map(|key| definition.get(*key).and_then(Value::as_array))
        .flatten()
        .filter_map(|option| {
            Some((
                option.get("name")?.as_str()?.to_string(),
                option.get("value")?.as_str()?.to_string(),
            ))
        })
        .collect()
}
