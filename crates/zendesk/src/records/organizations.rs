//! Records synced to Zendesk organizations: standard attributes, the rest as organization
//! fields. Upserts share the group flow's `create_or_update` (and its adoption by name).

use super::tags::Tags;
use super::{Created, Identifier, Row, Target, Updated, custom_field};
use crate::client::Client;
use crate::config::Config;
use crate::fields::{FieldScope, custom_field_values, ensure_defined};
use crate::organizations::{self, Organization};
use crate::outcome::Error;
use serde_json::{Map, Value, json};

pub struct OrganizationRow {
    org: Organization,
    tags: Option<Tags>,
}

impl OrganizationRow {
    pub fn new(client: &Client, config: &Config, mut row: Row) -> Result<OrganizationRow, Error> {
        let name = row.take_text("name")?;
        let external_id = row.take_text("external_id")?;
        let mut attributes = Map::new();
        if let Some(list) = row.take_list("domain_names")? {
            attributes.insert("domain_names".into(), json!(list));
        }
        let tags = Tags::take(&mut row, config.sync.tags_mode)?;
        for key in ["details", "notes", "url"] {
            if let Some(value) = row.take_text(key)? {
                attributes.insert(key.into(), value.into());
            }
        }
        row.take_id("id")?;
        let custom_fields = custom_field_values(client, &row.into_rest(), &[]);
        Ok(OrganizationRow {
            org: Organization {
                external_id,
                name,
                attributes,
                custom_fields,
            },
            tags,
        })
    }

    /// The organization, for a bulk item (its custom fields are defined with the batch's);
    /// `None` when its tags need a call of their own (`tagsMode` add or remove).
    pub fn into_organization(self) -> Option<Organization> {
        if self.tags.as_ref().is_some_and(Tags::needs_call) {
            return None;
        }
        let mut org = self.org;
        let tags = self.tags.and_then(|t| t.in_body());
        org.attributes.extend(tags.map(|t| ("tags".into(), t)));
        Some(org)
    }

    /// The organization with its custom fields defined and resolved to their keys, and the
    /// tags `creating` or updating writes in the body.
    fn resolved(&self, client: &mut Client, creating: bool) -> Result<Organization, Error> {
        let mut org = self.org.clone();
        let tags = self.tags.as_ref().and_then(|tags| match creating {
            true => tags.on_create(),
            false => tags.in_body(),
        });
        org.attributes.extend(tags.map(|t| ("tags".into(), t)));
        let fields = ensure_defined(client, FieldScope::Organization, &org.custom_fields)?;
        if !fields.is_empty() {
            org.attributes
                .insert("organization_fields".into(), Value::Object(fields));
        }
        Ok(org)
    }

    /// The tags call after a write of organization `id` (`current`: the answer's tags).
    fn apply_tags(
        &self,
        client: &mut Client,
        id: u64,
        current: Option<&Value>,
    ) -> Result<(), Error> {
        match &self.tags {
            Some(tags) => tags.apply(client, "organizations", id, current),
            None => Ok(()),
        }
    }
}

impl Target for OrganizationRow {
    fn noun(&self) -> &'static str {
        "organization"
    }

    fn path(&self, id: u64) -> String {
        format!("/api/v2/organizations/{id}")
    }

    fn find(&mut self, client: &mut Client, identifier: &Identifier) -> Result<Option<u64>, Error> {
        match identifier {
            Identifier::Id(id) => Ok(Some(*id)),
            Identifier::ExternalId(external_id) => {
                organizations::find_by_external_id(client, external_id)
            }
            Identifier::CustomField { key, value } => {
                custom_field::find(client, FieldScope::Organization, key, value)
            }
            Identifier::Email(_) => Err(Error::InvalidConfig(
                "`identifierKey` `email` identifies users only".into(),
            )),
        }
    }

    fn create(&mut self, client: &mut Client) -> Result<Created, Error> {
        let org = self.resolved(client, true)?;
        let reply = client.send("POST", "/api/v2/organizations", Some(&org.body(true)))?;
        if reply.is_success() {
            let id = crate::client::id_in(&reply.json()?, "organization")?;
            if let Some(external_id) = &self.org.external_id {
                organizations::remember_external_id(client, external_id, id);
            }
            return Ok(Created::Done);
        }
        if reply.is_duplicate() {
            return Ok(Created::Taken(reply.into_error()));
        }
        Err(reply.into_error())
    }

    fn update(&mut self, client: &mut Client, id: u64) -> Result<Updated, Error> {
        let org = self.resolved(client, false)?;
        let path = format!("/api/v2/organizations/{id}");
        let reply = client.send("PUT", &path, Some(&org.body(true)))?;
        match reply.status {
            200..=299 => {
                let answer = reply.json()?;
                self.apply_tags(client, id, answer["organization"].get("tags"))?;
                Ok(Updated::Done)
            }
            404 => {
                if let Some(external_id) = &self.org.external_id {
                    organizations::forget_external_id(client, external_id);
                }
                Ok(Updated::Gone)
            }
            _ => Err(reply.into_error()),
        }
    }

    fn upsert(&mut self, client: &mut Client, identifier: &Identifier) -> Result<(), Error> {
        if let Identifier::CustomField { .. } = identifier {
            // Found by the field: updated by id; else created (a taken name is refused).
            if let Some(id) = self.find(client, identifier)?
                && let Updated::Done = self.update(client, id)?
            {
                return Ok(());
            }
            return match self.create(client)? {
                Created::Done => Ok(()),
                Created::Taken(error) => Err(error),
            };
        }
        let org = self.resolved(client, false)?;
        let id = organizations::upsert(client, &org)?;
        // The upsert may answer from the unchanged window, without the current tags.
        self.apply_tags(client, id, None)
    }
}
