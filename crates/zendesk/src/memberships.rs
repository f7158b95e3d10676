//! User <-> organization associations through the Organization Memberships API (never by writing
//! `organization_id` on the user, which would drop the user's other memberships).

use crate::client::Client;
use crate::json_values::numeric_id;
use crate::outcome::Error;
use serde_json::{Value, json};

/// How long a membership this plugin made or saw is trusted. Short: an agent may remove it.
const MEMBERSHIP_TTL_SECONDS: u32 = 3_600;

/// Adds the user to the organization. "Already a member" (422 DuplicateValue) is success: the call
/// is idempotent without a read-before-write. Any other 422 (e.g. an unknown organization) fails.
/// A membership known from the last hour costs no call. The key holds both ids, so a user or
/// organization that was recreated (new id) is added again.
pub fn add(client: &mut Client, user_id: u64, organization_id: u64) -> Result<(), Error> {
    if is_known(client, user_id, organization_id) {
        client.debug("membership known: nothing to do", &[]);
        return Ok(());
    }
    let body = json!({"organization_membership": {"user_id": user_id, "organization_id": organization_id}});
    let reply = client.send("POST", "/api/v2/organization_memberships", Some(&body))?;
    match reply.status {
        200..=299 => {}
        422 if reply.is_duplicate() => {
            let (user, org) = (user_id.to_string(), organization_id.to_string());
            client.debug(
                "membership already exists (422): nothing to do",
                &[("user_id", &user), ("organization_id", &org)],
            );
        }
        _ => return Err(reply.into_error()),
    }
    remember(client, user_id, organization_id);
    Ok(())
}

/// Whether the membership is known to exist (made or seen within the last hour).
pub fn is_known(client: &Client, user_id: u64, organization_id: u64) -> bool {
    client.cache_get(&key(user_id, organization_id)).is_some()
}

pub fn remember(client: &Client, user_id: u64, organization_id: u64) {
    client.cache_set(&key(user_id, organization_id), "1", MEMBERSHIP_TTL_SECONDS);
}

fn key(user_id: u64, organization_id: u64) -> String {
    format!("member:{user_id}:{organization_id}")
}

/// Removes the user from the organization: looks through all of the user's memberships (every
/// page) and deletes the matching one. Not a member, or already deleted (404), is success.
pub fn remove(client: &mut Client, user_id: u64, organization_id: u64) -> Result<(), Error> {
    client.cache_remove(&key(user_id, organization_id));
    let path = format!("/api/v2/users/{user_id}/organization_memberships?page[size]=100");
    let memberships = client.list_all(&path, "organization_memberships")?;
    let membership_id = memberships
        .iter()
        .find(|m| m.get("organization_id").and_then(numeric_id) == Some(organization_id))
        .and_then(|m| m.get("id"))
        .and_then(Value::as_u64);
    let Some(membership_id) = membership_id else {
        let (user, org) = (user_id.to_string(), organization_id.to_string());
        client.debug(
            "user is not a member of the organization: nothing to remove",
            &[("user_id", &user), ("organization_id", &org)],
        );
        return Ok(());
    };
    let reply = client.send(
        "DELETE",
        &format!("/api/v2/organization_memberships/{membership_id}"),
        None,
    )?;
    match reply.status {
        200..=299 | 404 => Ok(()),
        _ => Err(reply.into_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeHost, config};

    #[test]
    fn add_tolerates_existing_membership_only() {
        let host = FakeHost::new();
        host.on(
            "POST",
            "/api/v2/organization_memberships",
            422,
            json!({"error": "RecordInvalid", "details": {"user_id": [{"error": "DuplicateValue",
                "description": "User is already a member of this organization"}]}}),
        );
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        add(&mut client, 1, 2).unwrap();
        assert_eq!(
            host.body(0),
            json!({"organization_membership": {"user_id": 1, "organization_id": 2}})
        );
        assert_eq!(client.into_operations()[0].status, 422);

        let host = FakeHost::new();
        host.on(
            "POST",
            "/api/v2/organization_memberships",
            422,
            json!({"error": "RecordInvalid", "details": {"organization": [{"error": "BlankValue",
                "description": "Organization cannot be blank"}]}}),
        );
        let mut client = Client::new(&host, &config);
        let error = add(&mut client, 1, 2).unwrap_err();
        assert!(
            matches!(&error, Error::Rejected { status: 422, message } if message.contains("Organization cannot be blank")),
            "{error:?}"
        );

        let host = FakeHost::new();
        host.on("POST", "/api/v2/organization_memberships", 500, json!({}));
        let mut client = Client::new(&host, &config);
        assert!(matches!(
            add(&mut client, 1, 2),
            Err(Error::Retryable { .. })
        ));
    }

    #[test]
    fn remove_finds_the_membership_on_a_later_page() {
        let host = FakeHost::new();
        let first = "/api/v2/users/7/organization_memberships?page[size]=100";
        let page1: Vec<Value> = (0..100)
            .map(|i| json!({"id": 100 + i, "organization_id": 500 + i}))
            .collect();
        host.on(
            "GET",
            first,
            200,
            json!({"organization_memberships": page1,
            "meta": {"has_more": true, "after_cursor": "p2"}}),
        );
        host.on(
            "GET",
            &format!("{first}&page[after]=p2"),
            200,
            json!({"organization_memberships":
            [{"id": 999, "organization_id": 6789}], "meta": {"has_more": false}}),
        );
        host.on(
            "DELETE",
            "/api/v2/organization_memberships/999",
            204,
            Value::Null,
        );
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        remove(&mut client, 7, 6789).unwrap();
        assert_eq!(
            host.calls().last().unwrap(),
            "DELETE /api/v2/organization_memberships/999"
        );
    }

    #[test]
    fn remove_when_not_a_member_or_already_gone() {
        let host = FakeHost::new();
        let list = "/api/v2/users/7/organization_memberships?page[size]=100";
        host.on(
            "GET",
            list,
            200,
            json!({"organization_memberships": [{"id": 1, "organization_id": "5"}]}),
        );
        host.on(
            "DELETE",
            "/api/v2/organization_memberships/1",
            404,
            json!({"error": "RecordNotFound"}),
        );
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        remove(&mut client, 7, 6).unwrap();
        assert_eq!(host.calls(), vec![format!("GET {list}")]);
        remove(&mut client, 7, 5).unwrap();
        assert_eq!(host.calls().len(), 3);
    }
}
