//! Records synced to Zendesk users: standard attributes, the rest as user fields.

use super::tags::Tags;
use super::{Created, Identifier, Row, Target, Updated, custom_field};
use crate::client::Client;
use crate::config::Config;
use crate::fields::{FieldScope, custom_field_values, ensure_defined};
use crate::outcome::Error;
use crate::users::{self, Person};
use serde_json::{Map, Value, json};

pub struct UserRow<'c> {
    config: &'c Config,
    /// Standard attributes (name, email, external_id, phone, time_zone, organization_id).
    user: Map<String, Value>,
    /// Custom field values by column name, resolved to field keys before a write.
    custom: Map<String, Value>,
    tags: Option<Tags>,
}

impl<'c> UserRow<'c> {
    pub fn new(client: &Client, config: &'c Config, mut row: Row) -> Result<UserRow<'c>, Error> {
        let mut user = Map::new();
        for key in ["name", "email", "external_id", "phone", "time_zone"] {
            if let Some(value) = row.take_text(key)? {
                user.insert(key.into(), value.into());
            }
        }
        if let Some(organization_id) = row.take_id("organization_id")? {
            user.insert("organization_id".into(), organization_id.into());
        }
        // The Zendesk id identifies; it is never written.
        row.take_id("id")?;
        let tags = Tags::take(&mut row, config.sync.tags_mode)?;
        let custom = custom_field_values(client, &row.into_rest(), &[]);
        Ok(UserRow {
            config,
            user,
            custom,
            tags,
        })
    }

    /// The `user` object (as a creation sends it) and the custom field values, for a bulk
    /// `create_or_update_many` item: what [`Target::upsert`] sends, in one item of many.
    /// `None` when its tags need a call of their own (`tagsMode` add or remove).
    pub fn into_bulk_item(self) -> Option<(Map<String, Value>, Map<String, Value>)> {
        if self.tags.as_ref().is_some_and(Tags::needs_call) {
            return None;
        }
        let mut user = self.user;
        user.extend(
            self.tags
                .and_then(|t| t.in_body())
                .map(|t| ("tags".into(), t)),
        );
        users::add_verification_flags(self.config, &mut user);
        Some((user, self.custom))
    }

    /// The `user` object to send, with its custom fields defined first, for `write`.
    fn body(&self, client: &mut Client, write: Write) -> Result<Map<String, Value>, Error> {
        let mut user = self.user.clone();
        let fields = ensure_defined(client, FieldScope::User, &self.custom)?;
        if !fields.is_empty() {
            user.insert("user_fields".into(), Value::Object(fields));
        }
        let tags = self.tags.as_ref().and_then(|tags| match write {
            Write::Create => tags.on_create(),
            Write::Update | Write::Upsert => tags.in_body(),
        });
        user.extend(tags.map(|tags| ("tags".into(), tags)));
        if write != Write::Update {
            users::add_verification_flags(self.config, &mut user);
        }
        Ok(user)
    }

    /// The tags call after a write of user `id` that answered with `user`.
    fn apply_tags(&self, client: &mut Client, id: u64, user: &Value) -> Result<(), Error> {
        match &self.tags {
            Some(tags) => tags.apply(client, "users", id, user.get("tags")),
            None => Ok(()),
        }
    }
}

/// What a body is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    Create,
    Update,
    Upsert,
}

fn person(identifier: &Identifier) -> Person {
    match identifier {
        Identifier::ExternalId(external_id) => Person {
            external_id: Some(external_id.clone()),
            ..Person::default()
        },
        Identifier::Email(email) => Person {
            email: Some(email.clone()),
            ..Person::default()
        },
        Identifier::Id(_) | Identifier::CustomField { .. } => Person::default(),
    }
}

impl Target for UserRow<'_> {
    fn noun(&self) -> &'static str {
        "user"
    }

    fn path(&self, id: u64) -> String {
        format!("/api/v2/users/{id}")
    }

    fn find(&mut self, client: &mut Client, identifier: &Identifier) -> Result<Option<u64>, Error> {
        match identifier {
            Identifier::Id(id) => return Ok(Some(*id)),
            Identifier::CustomField { key, value } => {
                return custom_field::find(client, FieldScope::User, key, value);
            }
            _ => {}
        }
        Ok(users::find(client, &person(identifier), true)?.map(|found| found.id))
    }

    fn create(&mut self, client: &mut Client) -> Result<Created, Error> {
        let user = self.body(client, Write::Create)?;
        let reply = client.send("POST", "/api/v2/users", Some(&json!({ "user": user })))?;
        if reply.is_success() {
            users::remember_answer(client, &reply.json()?);
            return Ok(Created::Done);
        }
        if reply.is_duplicate() {
            return Ok(Created::Taken(reply.into_error()));
        }
        Err(reply.into_error())
    }

    fn update(&mut self, client: &mut Client, id: u64) -> Result<Updated, Error> {
        let user = self.body(client, Write::Update)?;
        let path = format!("/api/v2/users/{id}");
        let reply = client.send("PUT", &path, Some(&json!({ "user": user })))?;
        match reply.status {
            200..=299 => {
                let answer = reply.json()?;
                self.apply_tags(client, id, &answer["user"])?;
                Ok(Updated::Done)
            }
            404 => {
                let person = Person {
                    external_id: self
                        .user
                        .get("external_id")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    email: self
                        .user
                        .get("email")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    name: None,
                };
                users::forget(client, &person);
                Ok(Updated::Gone)
            }
            _ => Err(reply.into_error()),
        }
    }

    /// One `create_or_update`: Zendesk matches by external_id, then by email. Identified by a
    /// custom field, the user found by it is updated by id first.
    fn upsert(&mut self, client: &mut Client, identifier: &Identifier) -> Result<(), Error> {
        if let Identifier::CustomField { .. } = identifier
            && let Some(id) = self.find(client, identifier)?
            && let Updated::Done = self.update(client, id)?
        {
            return Ok(());
        }
        let user = self.body(client, Write::Upsert)?;
        let user = json!({ "user": users::create_or_update(client, user)? });
        let id = crate::client::id_in(&user, "user")?;
        self.apply_tags(client, id, &user["user"])
    }
}
