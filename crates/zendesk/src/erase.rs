//! Forgetting a person for a GDPR/CCPA request: their Events API profiles (deleting a profile
//! is the only way to delete its events), then the user, soft-deleted and then deleted for
//! good (`deleted_users`). Each step is idempotent, a 404 meaning done, so a retry after a
//! partial failure completes the erasure; every request is in the outcome's operations.
//! Zendesk keeps what is not the person's profile: tickets they requested stay, anonymised
//! by Zendesk once the user is deleted for good.

use crate::client::Client;
use crate::outcome::Error;
use crate::users::{self, Person};

/// Erases the user `person` names; `Some(reason)` when there is nobody to erase.
pub fn erase_user(client: &mut Client, person: &Person) -> Result<Option<String>, Error> {
    // The cache keeps the id of a user an earlier attempt soft-deleted, so it is found again.
    let Some(found) = users::find(client, person, true)? else {
        return Ok(Some(format!(
            "gone: no Zendesk user has {} (erased already)",
            users::describe(person)
        )));
    };
    let id = found.id;
    let profiles = client.send("GET", &format!("/api/v2/users/{id}/profiles"), None)?;
    match profiles.status {
        200..=299 => {
            let listed = profiles.json()?;
            let ids: Vec<String> = listed["profiles"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["id"].as_str().map(str::to_string))
                .collect();
            for profile in ids {
                done_or_gone(client, &format!("/api/v2/user_profiles/{profile}"))?;
            }
        }
        404 => {}
        _ => return Err(profiles.into_error()),
    }
    done_or_gone(client, &format!("/api/v2/users/{id}"))?;
    done_or_gone(client, &format!("/api/v2/deleted_users/{id}"))?;
    users::forget(client, person);
    Ok(None)
}

/// `DELETE path`: done on success, and when it is gone already (404).
fn done_or_gone(client: &mut Client, path: &str) -> Result<(), Error> {
    let reply = client.send("DELETE", path, None)?;
    match reply.status {
        200..=299 | 404 => Ok(()),
        _ => Err(reply.into_error()),
    }
}
