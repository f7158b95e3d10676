//! Audiences: membership is a checkbox user field named by `audienceKey` (created once, tagged
//! with `audienceFieldTag`), set from an `audiencelist` event's `add` and `remove` lists as
//! `audienceSyncMode` says. The plugin keeps no snapshot of an audience: Mirror applies exactly
//! the changes the platform computed.
//!
//! Segment Engage sends audiences as identify traits instead (`{"<audience_key>": true}`); those
//! land on the same kind of field through identify's custom fields.

use crate::audience_list::{AudienceList, Member};
use crate::client::Client;
use crate::config::Config;
use crate::fields::ensure_checkbox;
use crate::host::Level;
use crate::outcome::Error;
use crate::sync_config::AudienceSyncMode;
use crate::users::{self, Person};
use serde_json::json;

/// Applies the list; `Some(reason)` when nothing was changed.
pub fn apply(
    client: &mut Client,
    config: &Config,
    list: &AudienceList,
) -> Result<Option<String>, Error> {
    let sync = &config.sync;
    let audience = sync.audience_key.as_deref().ok_or_else(|| {
        Error::InvalidConfig(
            "set `audienceKey`: the checkbox user field that holds the audience's membership"
                .into(),
        )
    })?;
    let mode = sync.audience_sync_mode;
    let changes = changes(mode, list);
    let ignored = list.add.len() + list.remove.len() - changes.len();
    if ignored > 0 {
        client.log(
            Level::Info,
            "audience entries the sync mode does not apply: left alone",
            &[("count", &ignored.to_string()), ("mode", mode_name(mode))],
        );
    }
    if changes.is_empty() {
        return Ok(Some(format!(
            "nothing to change: audienceSyncMode {} applies none of the {} listed entries",
            mode_name(mode),
            ignored
        )));
    }
    let key = ensure_checkbox(client, audience, sync.audience_field_tag.as_deref())?;
    // Users to put in the audience who do not exist (yet). One to take out who does not exist
    // is out already.
    let mut missing = Vec::new();
    for (member, member_of) in &changes {
        let created = mode == AudienceSyncMode::Upsert && *member_of;
        if created {
            upsert(client, config, &key, member)?;
        } else if !set(client, &key, member, *member_of)? && *member_of {
            let who = users::describe(&person_of(member));
            missing.push(match (who.is_empty(), member.id) {
                (true, Some(id)) => format!("id {id}"),
                _ => who,
            });
        }
    }
    if missing.is_empty() {
        return Ok(None);
    }
    // Never "delivered" with members left out: their identify may still be on its way (the
    // list and the identify have different order keys), so the list is retried within the
    // window a track's user gets (the others are set again, idempotently), then refused
    // naming who is missing.
    client.log(
        Level::Warn,
        "listed users not found in Zendesk yet: not created (only audienceSyncMode upsert creates)",
        &[("count", &missing.len().to_string())],
    );
    let done = changes.len() - missing.len();
    Err(users::missing_users(
        client,
        &missing.join(", "),
        &format!(
            "audience `{audience}`: {done} of the {} listed changes applied; ",
            changes.len()
        ),
    ))
}

fn person_of(member: &Member) -> Person {
    Person {
        external_id: member.external_id.clone(),
        email: member.email.clone(),
        name: None,
    }
}

/// (member, whether they belong to the audience) for each entry the mode applies.
fn changes(mode: AudienceSyncMode, list: &AudienceList) -> Vec<(&Member, bool)> {
    let adds = list.add.iter();
    match mode {
        AudienceSyncMode::Add | AudienceSyncMode::Upsert => adds.map(|m| (m, true)).collect(),
        AudienceSyncMode::Remove => adds.map(|m| (m, false)).collect(),
        AudienceSyncMode::Mirror => adds
            .map(|m| (m, true))
            .chain(list.remove.iter().map(|m| (m, false)))
            .collect(),
    }
}

fn mode_name(mode: AudienceSyncMode) -> &'static str {
    match mode {
        AudienceSyncMode::Add => "add",
        AudienceSyncMode::Remove => "remove",
        AudienceSyncMode::Mirror => "mirror",
        AudienceSyncMode::Upsert => "upsert",
    }
}

/// Sets the field on an existing user; `false` when there is no such user.
fn set(client: &mut Client, key: &str, member: &Member, member_of: bool) -> Result<bool, Error> {
    let body = json!({"user": {"user_fields": {key: member_of}}});
    let person = person_of(member);
    for _ in 0..2 {
        let id = match member.id {
            Some(id) => id,
            None => match users::find(client, &person, true)? {
                Some(found) => found.id,
                None => return Ok(false),
            },
        };
        let reply = client.send("PUT", &format!("/api/v2/users/{id}"), Some(&body))?;
        match reply.status {
            200..=299 => return Ok(true),
            // A stale cached id: forget it and look once more.
            404 if member.id.is_none() => users::forget(client, &person),
            404 => return Ok(false),
            _ => return Err(reply.into_error()),
        }
    }
    Ok(false)
}

/// Creates or updates the user with the field set (Upsert mode).
fn upsert(client: &mut Client, config: &Config, key: &str, member: &Member) -> Result<(), Error> {
    if let Some(id) = member.id {
        // A Zendesk id names an existing user: nothing to create.
        let body = json!({"user": {"user_fields": {key: true}}});
        client.call("PUT", &format!("/api/v2/users/{id}"), Some(&body))?;
        return Ok(());
    }
    let mut user = serde_json::Map::new();
    let name = member
        .name
        .as_ref()
        .or(member.email.as_ref())
        .or(member.external_id.as_ref())
        .cloned()
        .unwrap_or_default();
    user.insert("name".into(), name.into());
    if let Some(email) = &member.email {
        user.insert("email".into(), email.clone().into());
    }
    if let Some(external_id) = &member.external_id {
        user.insert("external_id".into(), external_id.clone().into());
    }
    user.insert("user_fields".into(), json!({key: true}));
    users::add_verification_flags(config, &mut user);
    users::create_or_update(client, user).map(|_| ())
}

#[cfg(test)]
#[path = "audiences_tests.rs"]
mod tests;
