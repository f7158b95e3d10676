//! identify: create or update the user, its custom fields, its organization membership (add or
//! remove) and its primary email.

use crate::client::Client;
use crate::config::Config;
use crate::event::Event;
use crate::fields::{FieldScope, custom_field_values, ensure_defined};
use crate::json_values::numeric_id;
use crate::outcome::Error;
use crate::{memberships, primary_email, traits, users};
use serde_json::{Map, Value};

/// Traits with a standard meaning: never custom fields.
const RESERVED: &[&str] = &[
    "name",
    "firstName",
    "lastName",
    "first_name",
    "last_name",
    "email",
    "phone",
    "timezone",
    "time_zone",
    "userId",
    "user_id",
    "id",
    "organizationId",
    "organization_id",
    "company",
    "primaryEmail",
    "primary_email",
];

/// Everything an identify will do, decided (and validated) before the first call.
#[derive(Debug, PartialEq)]
pub(crate) struct Plan {
    pub user: Map<String, Value>,
    pub custom_fields: Map<String, Value>,
    pub join_organization: Option<u64>,
    pub leave_organization: Option<u64>,
    pub primary_email: Option<String>,
}

pub fn handle(client: &mut Client, config: &Config, event: &Event) -> Result<(), Error> {
    let mut plan = plan(client, config, event)?;
    let user_fields = ensure_defined(client, FieldScope::User, &plan.custom_fields)?;
    if !user_fields.is_empty() {
        plan.user
            .insert("user_fields".into(), Value::Object(user_fields));
    }
    let user = users::create_or_update(client, plan.user)?;
    let user_id = user
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| crate::client::unexpected(200, "no `user.id`"))?;
    if let Some(organization_id) = plan.leave_organization {
        memberships::remove(client, user_id, organization_id)?;
    }
    if let Some(organization_id) = plan.join_organization {
        memberships::add(client, user_id, organization_id)?;
    }
    if let Some(target) = &plan.primary_email {
        let current = user.get("email").and_then(Value::as_str);
        primary_email::ensure(client, config, user_id, current, target)?;
    }
    Ok(())
}

pub(crate) fn plan(client: &Client, config: &Config, event: &Event) -> Result<Plan, Error> {
    let traits = event.user_traits();
    let name = traits::person_name(&traits)?.ok_or_else(|| {
        Error::InvalidEvent("identify needs a `name` trait or `firstName`/`lastName`".into())
    })?;
    let email = traits::text(&traits, "email")?;
    let primary_email_trait = traits::first_text(&traits, &["primaryEmail", "primary_email"])?;
    if email.is_none() && primary_email_trait.is_none() && event.user_id.is_none() {
        return Err(Error::InvalidEvent(
            "identify needs `traits.email` or a `userId` to match the Zendesk user".into(),
        ));
    }
    let (join_organization, leave_organization) = organization_changes(client, config, &traits)?;

    let mut user = Map::new();
    user.insert("name".into(), name.into());
    // The address to match by; a lone primaryEmail is created as (or added, then made) primary.
    if let Some(email) = email.as_ref().or(primary_email_trait.as_ref()) {
        user.insert("email".into(), email.clone().into());
    }
    if let Some(phone) = traits::text(&traits, "phone")? {
        user.insert("phone".into(), phone.into());
    }
    if let Some(time_zone) = traits::first_text(&traits, &["timezone", "time_zone"])? {
        user.insert("time_zone".into(), time_zone.into());
    }
    // Only the message's userId: a trait called `id` or `userId` must not re-key the user.
    if let Some(user_id) = &event.user_id {
        user.insert("external_id".into(), user_id.clone().into());
    }
    // Set as `user_fields` once resolved to field keys (`ensure_defined`).
    let custom_fields = custom_field_values(client, &traits, RESERVED);
    users::add_verification_flags(config, &mut user);

    let primary_email =
        primary_email_trait.or_else(|| email.filter(|_| config.update_primary_email));
    Ok(Plan {
        user,
        custom_fields,
        join_organization,
        leave_organization,
        primary_email,
    })
}

/// (organization to join, organization to leave) from `organizationId` / `company.id` and
/// `company.remove`.
fn organization_changes(
    client: &Client,
    config: &Config,
    traits: &Map<String, Value>,
) -> Result<(Option<u64>, Option<u64>), Error> {
    let organization_trait =
        organization_id(traits, "organizationId")?.or(organization_id(traits, "organization_id")?);
    let company = traits.get("company").and_then(Value::as_object);
    let company_id = match company {
        Some(company) => {
            organization_id(company, "id").map_err(|_| invalid_org_id("company.id"))?
        }
        None => None,
    };
    let remove = match company {
        Some(company) => traits::flag(company, "remove")
            .map_err(|_| Error::InvalidEvent("`company.remove` must be true or false".into()))?
            .unwrap_or(false),
        None => false,
    };
    if !remove {
        return Ok((organization_trait.or(company_id), None));
    }
    if config.remove_users_from_organizations {
        return Ok((organization_trait, company_id));
    }
    client.debug(
        "company.remove is set but removeUsersFromOrganization is off: membership left as is",
        &[],
    );
    Ok((organization_trait, None))
}

fn organization_id(map: &Map<String, Value>, key: &str) -> Result<Option<u64>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(value) => numeric_id(value)
            .map(Some)
            .ok_or_else(|| invalid_org_id(key)),
    }
}

fn invalid_org_id(key: &str) -> Error {
    Error::InvalidEvent(format!(
        "`{key}` must be a Zendesk organization id (a number or a numeric string)"
    ))
}

#[cfg(test)]
#[path = "identify_tests.rs"]
mod tests;
