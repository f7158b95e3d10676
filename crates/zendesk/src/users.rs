//! Finding Zendesk users exactly (cache, `external_id` parameter, exact email match) and creating
//! them through `create_or_update`.

use crate::client::{Client, encode, id_in, unexpected};
use crate::config::Config;
use crate::outcome::Error;
use serde_json::{Map, Value, json};

/// How long a user id learnt from Zendesk is trusted.
const USER_TTL_SECONDS: u32 = 86_400;

/// What an event tells about the person it concerns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Person {
    /// The CDP's `userId`, Zendesk's `external_id`.
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// A Zendesk user id and whether it came from the cache (and so may be stale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub id: u64,
    pub from_cache: bool,
}

/// What to do when no user matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenMissing {
    /// Create the user with whatever name is known (group: the association must not be lost).
    Create,
    /// Create only with a name and an email; otherwise ask for a retry (track: the identify may
    /// still be on its way).
    CreateIfNamed,
}

/// `POST /api/v2/users/create_or_update`: returns the `user` object Zendesk answered with and
/// remembers its id.
pub fn create_or_update(client: &mut Client, user: Map<String, Value>) -> Result<Value, Error> {
    let sent_external_id = user
        .get("external_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let sent_email = user
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut answer = client.call(
        "POST",
        "/api/v2/users/create_or_update",
        Some(&json!({ "user": user })),
    )?;
    let id = id_in(&answer, "user")?;
    let user = answer.get_mut("user").map_or(Value::Null, Value::take);
    // Zendesk matched (or created) this user by what we sent, so both keys lead to it; so do
    // the user's own keys where they differ from what was sent.
    remember(
        client,
        id,
        sent_external_id.as_deref(),
        sent_email.as_deref(),
    );
    remember(
        client,
        id,
        user.get("external_id")
            .and_then(Value::as_str)
            .filter(|answered| Some(*answered) != sent_external_id.as_deref()),
        user.get("email")
            .and_then(Value::as_str)
            .filter(|answered| Some(*answered) != sent_email.as_deref()),
    );
    Ok(user)
}

/// Remembers the id of a user Zendesk answered with (e.g. after `POST /users`), under its
/// external id and email.
pub fn remember_answer(client: &Client, answer: &Value) {
    let user = answer.get("user").unwrap_or(&Value::Null);
    if let Some(id) = user.get("id").and_then(Value::as_u64) {
        remember(
            client,
            id,
            user.get("external_id").and_then(Value::as_str),
            user.get("email").and_then(Value::as_str),
        );
    }
}

/// The user's `verified` / `skip_verify_email` flags per the config. `verified: false` is never
/// sent: Zendesk would unverify an existing user's primary identity.
pub fn add_verification_flags(config: &Config, user: &mut Map<String, Value>) {
    if config.create_users_as_verified {
        user.insert("verified".into(), Value::Bool(true));
    }
    if config.skip_verify_email {
        user.insert("skip_verify_email".into(), Value::Bool(true));
    }
}

/// The user for an event: `context.zendesk_user_id`, else found exactly, else created per `policy`.
pub fn resolve(
    client: &mut Client,
    config: &Config,
    person: &Person,
    zendesk_user_id: Option<u64>,
    policy: WhenMissing,
) -> Result<Found, Error> {
    if let Some(id) = zendesk_user_id {
        return Ok(Found {
            id,
            from_cache: false,
        });
    }
    if let Some(found) = find(client, person, true)? {
        return Ok(found);
    }
    let name = match (policy, &person.name, &person.email) {
        (_, Some(name), Some(_)) => name.clone(),
        (WhenMissing::Create, _, _) => {
            let fallback = person
                .name
                .as_ref()
                .or(person.email.as_ref())
                .or(person.external_id.as_ref());
            fallback.cloned().ok_or_else(|| {
                Error::InvalidEvent("the event names no user (userId or email)".into())
            })?
        }
        (WhenMissing::CreateIfNamed, _, _) => return Err(not_found_yet(client, person)),
    };
    let mut user = Map::new();
    if let Some(external_id) = &person.external_id {
        user.insert("external_id".into(), external_id.clone().into());
    }
    if let Some(email) = &person.email {
        user.insert("email".into(), email.clone().into());
    }
    user.insert("name".into(), name.into());
    add_verification_flags(config, &mut user);
    client.debug("no Zendesk user yet: creating it", &[]);
    let created = create_or_update(client, user)?;
    let id = created
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| unexpected(200, "no `user.id`"))?;
    Ok(Found {
        id,
        from_cache: false,
    })
}

/// How long a user that cannot be found is waited for, from the first miss: Zendesk's search
/// index lags its writes, and the user's identify may still be on its way. Past this the event
/// names a user that does not exist, and waiting longer (the host's whole retry budget) only
/// holds its key back.
pub const MISSING_USER_WINDOW_SECONDS: u64 = 150;
/// Retries within the window.
const MISSING_USER_RETRY_SECONDS: u64 = 60;

/// The error for a user that does not exist: retryable within [`MISSING_USER_WINDOW_SECONDS`]
/// of the first miss (remembered in the tenant cache), then `rejected` (404), naming the user.
pub fn not_found_yet(client: &Client, person: &Person) -> Error {
    missing_users(client, &describe(person), "")
}

impl Person {
    pub fn with_external_id(external_id: &str) -> Person {
        Person {
            external_id: Some(external_id.to_string()),
            ..Person::default()
        }
    }

    pub fn with_email(email: &str) -> Person {
        Person {
            email: Some(email.to_string()),
            ..Person::default()
        }
    }
}

/// `external_id "u-1" / email "a@b.c"`: how a message names a user.
pub fn describe(person: &Person) -> String {
    let mut who = Vec::new();
    if let Some(external_id) = &person.external_id {
        who.push(format!("external_id {external_id:?}"));
    }
    if let Some(email) = &person.email {
        who.push(format!("email {email:?}"));
    }
    who.join(" / ")
}

/// [`not_found_yet`] for `who` (one user or several), its final message prefixed with
/// `context` (what was done nonetheless).
pub fn missing_users(client: &Client, who: &str, context: &str) -> Error {
    let key = format!("missing:{who}");
    let now = client.host().now_unix_seconds();
    let first = match client.cache_get(&key).and_then(|at| at.parse::<u64>().ok()) {
        Some(first) => first,
        None => {
            client.cache_set(
                &key,
                &now.to_string(),
                2 * MISSING_USER_WINDOW_SECONDS as u32,
            );
            now
        }
    };
    let waited = now.saturating_sub(first);
    if waited >= MISSING_USER_WINDOW_SECONDS {
        return Error::Rejected {
            status: 404,
            message: format!(
                "{context}no Zendesk user with {who} after {waited} s of retries: send its \
                 identify first, or an email to create it from"
            ),
        };
    }
    let left = MISSING_USER_WINDOW_SECONDS - waited;
    Error::Retryable {
        message: format!(
            "{context}no Zendesk user with {who} yet (an identify may still be on its way)"
        ),
        retry_after_seconds: Some(left.min(MISSING_USER_RETRY_SECONDS) as u32),
    }
}

/// Finds the user exactly: by external id (cache, then the exact `external_id` parameter), then
/// by email (cache, then — when `by_email` — a search filtered for an exact address match).
pub fn find(client: &mut Client, person: &Person, by_email: bool) -> Result<Option<Found>, Error> {
    if let Some(external_id) = &person.external_id {
        if let Some(id) = cached(client, &ext_key(external_id)) {
            client.debug("user id cache hit (external_id)", &[]);
            return Ok(Some(Found {
                id,
                from_cache: true,
            }));
        }
        let path = format!("/api/v2/users/search?external_id={}", encode(external_id));
        let users = client.list_all(&path, "users")?;
        if let Some(id) = users
            .first()
            .and_then(|u| u.get("id"))
            .and_then(Value::as_u64)
        {
            remember(client, id, Some(external_id), None);
            return Ok(Some(Found {
                id,
                from_cache: false,
            }));
        }
    }
    let Some(email) = &person.email else {
        return Ok(None);
    };
    if let Some(id) = cached(client, &email_key(email)) {
        client.debug("user id cache hit (email)", &[]);
        return Ok(Some(Found {
            id,
            from_cache: true,
        }));
    }
    if !by_email {
        return Ok(None);
    }
    let path = format!(
        "/api/v2/users/search?query={}",
        encode(&format!("email:\"{email}\""))
    );
    // The search is fuzzy ("bob@x.com" also finds "jimbob@x.com"): keep exact matches only.
    let candidates = client.list_all(&path, "users")?;
    let mut matches: Vec<u64> = candidates
        .iter()
        .filter(|u| {
            u.get("email")
                .and_then(Value::as_str)
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
        .filter_map(|u| u.get("id").and_then(Value::as_u64))
        .collect();
    if matches.is_empty() && candidates.len() <= MAX_IDENTITY_SCANS {
        // `email` in a search result is the primary address only; the address may be one of a
        // candidate's secondary identities. One call per candidate, so only for a few: a common
        // address has many lookalikes, and create_or_update matches secondary emails anyway.
        for id in candidates
            .iter()
            .filter_map(|u| u.get("id").and_then(Value::as_u64))
        {
            if has_email_identity(client, id, email)? {
                matches.push(id);
            }
        }
    }
    match matches.as_slice() {
        [] => Ok(None),
        [id] => {
            // The event ties its userId to this email: remember both, or every later event with
            // the same userId would search by external id again.
            remember(client, *id, person.external_id.as_deref(), Some(email));
            Ok(Some(Found {
                id: *id,
                from_cache: false,
            }))
        }
        _ => Err(Error::Rejected {
            status: 409,
            message: format!(
                "several Zendesk users have email {email:?}: cannot tell which one is meant"
            ),
        }),
    }
}

/// How many fuzzy search hits are checked for a secondary email identity.
const MAX_IDENTITY_SCANS: usize = 3;

/// Whether user `id` has an email identity (primary or not) equal to `email`.
fn has_email_identity(client: &mut Client, id: u64, email: &str) -> Result<bool, Error> {
    let path = format!("/api/v2/users/{id}/identities?page[size]=100");
    Ok(client
        .list_all(&path, "identities")?
        .iter()
        .any(|identity| {
            identity.get("type").and_then(Value::as_str) == Some("email")
                && identity
                    .get("value")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.eq_ignore_ascii_case(email))
        }))
}

/// Forgets the cached ids of a person (e.g. after Zendesk answered 404 for one).
pub fn forget(client: &Client, person: &Person) {
    if let Some(external_id) = &person.external_id {
        client.cache_remove(&ext_key(external_id));
    }
    if let Some(email) = &person.email {
        client.cache_remove(&email_key(email));
    }
}

pub fn remember(client: &Client, id: u64, external_id: Option<&str>, email: Option<&str>) {
    let id = id.to_string();
    if let Some(external_id) = external_id.filter(|e| !e.is_empty()) {
        client.cache_set(&ext_key(external_id), &id, USER_TTL_SECONDS);
    }
    if let Some(email) = email.filter(|e| !e.is_empty()) {
        client.cache_set(&email_key(email), &id, USER_TTL_SECONDS);
    }
}

pub fn cached(client: &Client, key: &str) -> Option<u64> {
    client.cache_get(key).and_then(|v| v.parse().ok())
}

pub fn ext_key(external_id: &str) -> String {
    format!("user:ext:{}", external_id.to_lowercase())
}

pub fn email_key(email: &str) -> String {
    format!("user:email:{}", email.to_lowercase())
}

#[cfg(test)]
#[path = "users_tests.rs"]
mod tests;
