//! The warehouse-sync settings: what `record` rows are and how they are written, and how
//! audiences land on a checkbox user field. Parsed with the rest of the config.

use crate::outcome::Error;
use crate::settings::{Settings, wrong_type};
use serde_json::Value;

/// The Zendesk object a model's rows are synced to (`objectType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    Users,
    Organizations,
    Tickets,
    /// A user's membership of an organization (record sync only; `list-fields` is for the
    /// first three).
    OrganizationMemberships,
    /// A comment added to a ticket (record sync only).
    TicketComments,
    /// The records of the custom object `customObjectKey` names (record sync only).
    CustomObjects,
}

impl ObjectType {
    pub fn parse(text: &str) -> Option<ObjectType> {
        match text {
            "users" => Some(ObjectType::Users),
            "organizations" => Some(ObjectType::Organizations),
            "tickets" => Some(ObjectType::Tickets),
            "organization_memberships" => Some(ObjectType::OrganizationMemberships),
            "ticket_comments" => Some(ObjectType::TicketComments),
            "custom_objects" => Some(ObjectType::CustomObjects),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ObjectType::Users => "users",
            ObjectType::Organizations => "organizations",
            ObjectType::Tickets => "tickets",
            ObjectType::OrganizationMemberships => "organization_memberships",
            ObjectType::TicketComments => "ticket_comments",
            ObjectType::CustomObjects => "custom_objects",
        }
    }
}

/// How a record is written (`syncMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Create or update.
    Upsert,
    /// Create only; an existing record is skipped ("exists").
    Insert,
    /// Update only; a missing record is skipped ("not found").
    Update,
}

/// What identifies a record in Zendesk (`identifierKey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentifierKey {
    ExternalId,
    /// Users only.
    Email,
    /// The Zendesk id: `syncMode: update` only (an upsert cannot create a record with that id).
    Id,
    /// The key of a custom user or organization field whose values are unique (Hightouch's
    /// "matching on a custom field"); the row's column of that name holds the value.
    CustomField(String),
}

impl IdentifierKey {
    pub fn name(&self) -> &str {
        match self {
            IdentifierKey::ExternalId => "external_id",
            IdentifierKey::Email => "email",
            IdentifierKey::Id => "id",
            IdentifierKey::CustomField(key) => key,
        }
    }

    fn parse(text: Option<String>) -> Result<IdentifierKey, Error> {
        Ok(match text.as_deref() {
            None | Some("external_id") => IdentifierKey::ExternalId,
            Some("email") => IdentifierKey::Email,
            Some("id") => IdentifierKey::Id,
            Some(key) if crate::fields::normalize_key(key).as_deref() == Some(key) => {
                IdentifierKey::CustomField(key.to_string())
            }
            Some(other) => {
                return Err(Error::InvalidConfig(format!(
                    "`identifierKey` {other:?} is none of external_id, email, id, or the key of \
                     a custom field (lowercase letters, digits and underscores)"
                )));
            }
        })
    }
}

/// What a record's `tags` column does to a user's or organization's tags (`tagsMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagsMode {
    /// Adds the row's tags and keeps the others (the default): tags that agents, triggers and
    /// checkbox fields set survive the sync.
    Add,
    /// Removes the row's tags, if present.
    Remove,
    /// Makes the row's tags the whole list (what Census does; it wipes every other tag).
    Replace,
}

/// How an audience's lists change its checkbox field (`audienceSyncMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudienceSyncMode {
    /// `add` entries: field true. `remove` entries are left alone.
    Add,
    /// `add` entries (the audience's members) : field false. `remove` entries are left alone.
    Remove,
    /// What the platform computed: `add` true, `remove` false (the default).
    Mirror,
    /// Add, and missing users are created.
    Upsert,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSettings {
    /// `None`: this config does not take `record` events.
    pub object_type: Option<ObjectType>,
    pub sync_mode: SyncMode,
    /// Source column -> Zendesk field, in the config's order (the first column with a value
    /// wins when several feed one field).
    pub field_mapping: Vec<(String, String)>,
    pub identifier_key: IdentifierKey,
    /// The audience's checkbox user field, as named (`None`: no `audiencelist` events).
    pub audience_key: Option<String>,
    pub audience_sync_mode: AudienceSyncMode,
    /// The tag Zendesk sets on members when the field is created.
    pub audience_field_tag: Option<String>,
    /// `record` rows with `action: delete` delete their Zendesk object (off: they are refused,
    /// since a bad sync could empty an account).
    pub allow_deletes: bool,
    pub tags_mode: TagsMode,
    /// The custom object whose records `objectType: custom_objects` rows are.
    pub custom_object_key: Option<String>,
}

impl SyncSettings {
    pub(crate) fn parse(settings: &Settings) -> Result<SyncSettings, Error> {
        let object_type = settings
            .choice(
                "objectType",
                &[
                    "users",
                    "organizations",
                    "tickets",
                    "organization_memberships",
                    "ticket_comments",
                    "custom_objects",
                ],
            )?
            .map(|name| ObjectType::parse(name).expect("a listed choice"));
        let sync_mode = match settings.choice("syncMode", &["upsert", "insert", "update"])? {
            None | Some("upsert") => SyncMode::Upsert,
            Some("insert") => SyncMode::Insert,
            Some(_) => SyncMode::Update,
        };
        let identifier_key = IdentifierKey::parse(settings.string("identifierKey")?)?;
        if matches!(identifier_key, IdentifierKey::CustomField(_))
            && !matches!(
                object_type,
                None | Some(ObjectType::Users | ObjectType::Organizations)
            )
        {
            return Err(Error::InvalidConfig(
                "a custom field `identifierKey` identifies users and organizations only".into(),
            ));
        }
        if identifier_key == IdentifierKey::Email
            && matches!(
                object_type,
                Some(ObjectType::Organizations | ObjectType::Tickets)
            )
        {
            return Err(Error::InvalidConfig(
                "`identifierKey` `email` identifies users only: use `external_id` or `id` for \
                 organizations and tickets"
                    .into(),
            ));
        }
        if identifier_key == IdentifierKey::Id && sync_mode != SyncMode::Update {
            return Err(Error::InvalidConfig(
                "`identifierKey` `id` needs `syncMode` `update`: Zendesk assigns ids, so an \
                 insert or upsert cannot create a record with a given id"
                    .into(),
            ));
        }
        let custom_object_key = settings.string("customObjectKey")?;
        if object_type == Some(ObjectType::CustomObjects) {
            if custom_object_key.is_none() {
                return Err(Error::InvalidConfig(
                    "`objectType` custom_objects needs `customObjectKey`, the key of the custom \
                     object whose records the rows are"
                        .into(),
                ));
            }
            if identifier_key != IdentifierKey::ExternalId {
                return Err(Error::InvalidConfig(
                    "custom object records are identified by `external_id` only".into(),
                ));
            }
        }
        let audience_key = settings.string("audienceKey")?;
        // An ASCII letter makes a usable field key (`normalize_key`), and is what the schema says.
        if let Some(key) = &audience_key
            && !key.contains(|c: char| c.is_ascii_alphabetic())
        {
            return Err(Error::InvalidConfig(format!(
                "`audienceKey` {key:?} cannot become a Zendesk field key: it needs a letter (a-z)"
            )));
        }
        let audience_sync_mode =
            match settings.choice("audienceSyncMode", &["add", "remove", "mirror", "upsert"])? {
                Some("add") => AudienceSyncMode::Add,
                Some("remove") => AudienceSyncMode::Remove,
                None | Some("mirror") => AudienceSyncMode::Mirror,
                Some(_) => AudienceSyncMode::Upsert,
            };
        let audience_field_tag = settings.string("audienceFieldTag")?;
        if audience_field_tag
            .as_ref()
            .is_some_and(|tag| tag.contains(char::is_whitespace))
        {
            return Err(wrong_type(
                "audienceFieldTag",
                "one Zendesk tag (no spaces)",
            ));
        }
        Ok(SyncSettings {
            object_type,
            sync_mode,
            field_mapping: field_mapping(settings)?,
            identifier_key,
            audience_key,
            audience_sync_mode,
            audience_field_tag,
            allow_deletes: settings.flag("allowDeletes")?,
            tags_mode: match settings.choice("tagsMode", &["add", "remove", "replace"])? {
                None | Some("add") => TagsMode::Add,
                Some("remove") => TagsMode::Remove,
                Some(_) => TagsMode::Replace,
            },
            custom_object_key,
        })
    }
}

/// `fieldMapping` as an object (`{"column": "field"}`) or as RudderStack's list of
/// `{"from": "column", "to": "field"}`. Several columns may feed one field: the first of them
/// (in the config's order) that has a value wins.
fn field_mapping(settings: &Settings) -> Result<Vec<(String, String)>, Error> {
    const EXPECTED: &str = "an object of source column -> Zendesk field, or a list of \
                            {\"from\": column, \"to\": field}, with non-blank strings";
    let wrong = || wrong_type("fieldMapping", EXPECTED);
    let pairs: Vec<(Option<String>, Option<String>)> = match settings.get("fieldMapping") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(from, to)| (filled(&Value::String(from.clone())), filled(to)))
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                (
                    item.get("from").and_then(filled),
                    item.get("to").and_then(filled),
                )
            })
            .collect(),
        Some(_) => return Err(wrong()),
    };
    let mut mapping: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let (Some(from), Some(to)) = pair else {
            return Err(wrong());
        };
        mapping.push((from, to));
    }
    Ok(mapping)
}

fn filled(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The sync settings of a config with `keys`.
    fn settings(keys: Value) -> SyncSettings {
        let Value::Object(map) = keys else {
            unreachable!("the tests give objects")
        };
        SyncSettings::parse(&Settings(&map)).expect("valid sync settings")
    }

    #[test]
    fn defaults_and_both_mapping_shapes() {
        let sync = settings(json!({}));
        assert_eq!(sync.object_type, None);
        assert_eq!(sync.sync_mode, SyncMode::Upsert);
        assert_eq!(sync.identifier_key, IdentifierKey::ExternalId);
        assert_eq!(sync.audience_sync_mode, AudienceSyncMode::Mirror);
        assert!(sync.field_mapping.is_empty());
        assert_eq!(sync.tags_mode, TagsMode::Add);

        let pairs = |mapping: Value| settings(json!({"fieldMapping": mapping})).field_mapping;
        let expected = vec![
            ("mail".to_string(), "email".to_string()),
            ("full_name".to_string(), "name".to_string()),
        ];
        assert_eq!(
            pairs(json!([{"from": "mail", "to": "email"}, {"from": " full_name ", "to": "name"}])),
            expected
        );
        // serde_json's map is ordered by key.
        assert_eq!(
            pairs(json!({"mail": "email", "full_name": "name"})),
            vec![expected[1].clone(), expected[0].clone()]
        );

        let sync = settings(json!({"objectType": "tickets", "syncMode": "update",
            "identifierKey": "id", "audienceKey": "VIP", "audienceSyncMode": "upsert",
            "audienceFieldTag": " vip "}));
        assert_eq!(sync.object_type, Some(ObjectType::Tickets));
        assert_eq!(sync.identifier_key, IdentifierKey::Id);
        assert_eq!(sync.audience_key.as_deref(), Some("VIP"));
        assert_eq!(sync.audience_sync_mode, AudienceSyncMode::Upsert);
        assert_eq!(sync.audience_field_tag.as_deref(), Some("vip"));
    }
}
