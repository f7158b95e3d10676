//! Making an email the user's primary one with `make_primary`: the old primary address stays as a
//! secondary identity (never overwritten, never unverified).

use crate::client::{Client, id_in};
use crate::config::Config;
use crate::outcome::Error;
use serde_json::{Value, json};

/// Makes `target` the primary email of user `user_id`, whose current primary is `current`.
pub fn ensure(
    client: &mut Client,
    config: &Config,
    user_id: u64,
    current: Option<&str>,
    target: &str,
) -> Result<(), Error> {
    if current.is_some_and(|c| c.eq_ignore_ascii_case(target)) {
        client.debug("email is already primary", &[]);
        return Ok(());
    }
    let path = format!("/api/v2/users/{user_id}/identities?page[size]=100");
    let identities = client.list_all(&path, "identities")?;
    let existing = identities.iter().find(|identity| {
        identity.get("type").and_then(Value::as_str) == Some("email")
            && identity
                .get("value")
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(target))
    });
    let identity_id = match existing {
        Some(identity) if identity.get("primary") == Some(&Value::Bool(true)) => {
            client.debug("email identity is already primary", &[]);
            return Ok(());
        }
        Some(identity) => identity
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| crate::client::unexpected(200, "an identity without `id`"))?,
        None => {
            let mut identity = json!({"type": "email", "value": target});
            if config.skip_verify_email {
                identity["skip_verify_email"] = Value::Bool(true);
            }
            let created = client.call(
                "POST",
                &format!("/api/v2/users/{user_id}/identities"),
                Some(&json!({ "identity": identity })),
            )?;
            id_in(&created, "identity")?
        }
    };
    client.call(
        "PUT",
        &format!("/api/v2/users/{user_id}/identities/{identity_id}/make_primary"),
        Some(&json!({})),
    )?;
    Ok(())
}
