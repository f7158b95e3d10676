//! The records one mock Zendesk account holds. Plain data with public fields so tests can assert
//! on them; the behaviour lives in the per-resource modules.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct User {
    pub id: u64,
    pub name: String,
    /// The primary email identity's value (kept in sync with `identities`).
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub phone: Option<String>,
    pub time_zone: Option<String>,
    /// True when any of the user's identities is verified (kept in sync with `identities`).
    pub verified: bool,
    pub role: String,
    /// Only keys of defined user fields are ever stored.
    pub user_fields: Map<String, Value>,
    /// The tags of the user's checked checkbox fields that carry a `tag`.
    pub tags: Vec<String>,
    /// The default organization (kept in sync with `memberships`).
    pub organization_id: Option<u64>,
    /// True once a verification email went out for this user (an identity added while neither
    /// verified nor `skip_verify_email`).
    pub verification_email_sent: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Identity {
    pub id: u64,
    pub user_id: u64,
    pub r#type: String,
    pub value: String,
    pub primary: bool,
    pub verified: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Organization {
    pub id: u64,
    pub name: String,
    pub external_id: Option<String>,
    pub domain_names: Vec<String>,
    pub tags: Vec<String>,
    pub details: Option<String>,
    pub notes: Option<String>,
    /// As written by the client (Segment's group `url` trait).
    pub url: Option<String>,
    pub deleted: Option<bool>,
    /// Only keys of defined organization fields are ever stored.
    pub organization_fields: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Membership {
    pub id: u64,
    pub user_id: u64,
    pub organization_id: u64,
    pub default: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A user, organization or ticket field definition.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldDef {
    pub id: u64,
    /// User and organization fields only (ticket fields have none: empty).
    pub key: String,
    pub title: String,
    pub r#type: String,
    pub active: bool,
    pub position: u64,
    /// Checkbox fields: the tag Zendesk sets on a record whose box is checked.
    pub tag: Option<String>,
    /// Dropdown and multiselect choices (`custom_field_options`), or a system ticket field's
    /// `system_field_options`.
    pub options: Vec<FieldOption>,
    /// Ticket fields: required of agents.
    pub required: bool,
    /// False for Zendesk's system ticket fields (subject, description, status...).
    pub removable: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldOption {
    pub name: String,
    pub value: String,
}

/// A Sunshine profile: one per distinct (source, type) per user; Zendesk caps them at 20.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Profile {
    pub id: String,
    pub user_id: u64,
    pub source: String,
    pub r#type: String,
}

/// One accepted `POST /users/{id}/events` call, stored as received.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UserEvent {
    pub user_id: u64,
    pub profile_id: Option<String>,
    pub profile: Option<Value>,
    pub event: Value,
    pub received_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ticket {
    pub id: u64,
    pub subject: Option<String>,
    /// The first comment's body, like Zendesk's `description`.
    pub description: String,
    pub status: String,
    pub priority: Option<String>,
    pub r#type: Option<String>,
    pub tags: Vec<String>,
    pub external_id: Option<String>,
    pub requester_id: u64,
    pub custom_fields: Vec<CustomFieldValue>,
    pub comments: Vec<Comment>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomFieldValue {
    pub id: u64,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub public: bool,
    pub author_id: u64,
    pub created_at: String,
}

/// A custom object (the new API): its fields and its records.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomObject {
    pub key: String,
    pub title: String,
    /// The custom fields (the standard `name` and `external_id` are not listed here).
    pub fields: Vec<CustomObjectField>,
    pub records: Vec<CustomObjectRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomObjectField {
    pub id: u64,
    pub key: String,
    pub title: String,
    pub r#type: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomObjectRecord {
    /// Zendesk's record ids are strings (ULIDs).
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    /// Values by field key; only defined fields are ever stored.
    pub custom_object_fields: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}
