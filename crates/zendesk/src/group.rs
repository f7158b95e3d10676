//! group: upsert the organization and associate the user (found exactly, or created from what the
//! event carries, since a group may arrive before the user's identify).

use crate::client::Client;
use crate::config::Config;
use crate::event::Event;
use crate::fields::{FieldScope, ensure_defined};
use crate::organizations::{self, Organization};
use crate::outcome::Error;
use crate::users::{self, Person, WhenMissing};
use crate::{memberships, traits};
use serde_json::Value;

pub fn handle(client: &mut Client, config: &Config, event: &Event) -> Result<(), Error> {
    // Validate everything before the first call.
    let mut org = Organization::from_traits(client, event.group_id.as_deref(), &event.traits)?;
    if org.external_id.is_none() && org.name.is_none() {
        return Err(Error::InvalidEvent(
            "group needs a groupId or `traits.name` to find the organization".into(),
        ));
    }
    let person = match &event.user_id {
        Some(user_id) => {
            let user_traits = event.user_traits();
            Some(Person {
                external_id: Some(user_id.clone()),
                email: traits::text(&user_traits, "email")?,
                name: traits::person_name(&user_traits)?,
            })
        }
        None if config.send_group_calls_without_user_id => None,
        None => {
            return Err(Error::InvalidEvent(
                "group needs a userId (or enable sendGroupCallsWithoutUserId)".into(),
            ));
        }
    };

    let organization_fields = ensure_defined(client, FieldScope::Organization, &org.custom_fields)?;
    if !organization_fields.is_empty() {
        org.attributes.insert(
            "organization_fields".into(),
            Value::Object(organization_fields),
        );
    }
    let organization_id = organizations::upsert(client, &org)?;
    let Some(person) = person else {
        client.debug("group without userId: organization only", &[]);
        return Ok(());
    };
    let user = users::resolve(
        client,
        config,
        &person,
        event.zendesk_user_id,
        WhenMissing::Create,
    )?;
    memberships::add(client, user.id, organization_id)
}

#[cfg(test)]
mod tests {
    use crate::testing::{FakeHost, config_json};
    use crate::{Error, transform};
    use serde_json::{Value, json};

    const UPSERT: &str = "POST /api/v2/organizations/create_or_update";
    const MEMBERSHIP: &str = "POST /api/v2/organization_memberships";

    fn run(host: &FakeHost, config: Value, event: Value) -> Result<crate::Outcome, Error> {
        transform(host, &config_json(config), &event.to_string())
    }

    fn script_org(host: &FakeHost) {
        host.on(
            "POST",
            "/api/v2/organizations/create_or_update",
            200,
            json!({"organization": {"id": 500}}),
        );
        host.on(
            "POST",
            "/api/v2/organization_memberships",
            201,
            json!({"organization_membership": {"id": 1}}),
        );
    }

    #[test]
    fn cached_user_and_fields_take_two_calls() {
        let host = FakeHost::new();
        script_org(&host);
        host.put_cache("user:ext:u1", "42");
        host.put_cache("fields:organization", r#"["plan"]"#);
        let outcome = run(
            &host,
            json!({}),
            json!({"type": "group", "userId": "u1", "groupId": "g1",
            "traits": {"name": "Acme", "plan": "pro"}}),
        )
        .unwrap();
        assert_eq!(host.calls(), vec![UPSERT, MEMBERSHIP]);
        assert_eq!(outcome.operations.len(), 2);
        assert_eq!(
            host.body_of(MEMBERSHIP),
            json!({"organization_membership": {"user_id": 42, "organization_id": 500}})
        );
        assert_eq!(
            host.body_of(UPSERT),
            json!({"organization": {"name": "Acme", "external_id": "g1",
            "organization_fields": {"plan": "pro"}}})
        );
    }

    #[test]
    fn email_and_group_id_finds_user_by_exact_email() {
        let host = FakeHost::new();
        script_org(&host);
        host.finds_no_users("/api/v2/users/search?external_id=u1");
        host.on("GET", "/api/v2/users/search?query=email%3A%22bob%2Bx%40y.com%22", 200,
            json!({"users": [{"id": 3, "email": "jimbob+x@y.com"}, {"id": 4, "email": "bob+x@y.com"}]}));
        run(
            &host,
            json!({}),
            json!({"type": "group", "userId": "u1", "groupId": "g1",
            "traits": {"name": "Acme"}, "context": {"traits": {"email": "bob+x@y.com"}}}),
        )
        .unwrap();
        assert_eq!(
            host.body_of(MEMBERSHIP)["organization_membership"]["user_id"],
            4
        );
        assert_eq!(host.calls().len(), 4);
    }

    #[test]
    fn email_without_group_id_matches_org_by_name_and_existing_membership_is_fine() {
        let host = FakeHost::new();
        host.on(
            "GET",
            "/api/v2/organizations/search?name=Acme",
            200,
            json!({"organizations": [{"id": 7, "name": "ACME"}]}),
        );
        host.put_cache("user:email:ann@x.com", "11");
        host.finds_no_users("/api/v2/users/search?external_id=u1");
        host.on(
            "POST",
            "/api/v2/organization_memberships",
            422,
            json!({"error": "RecordInvalid", "details": {"user_id": [{"error": "DuplicateValue"}]}}),
        );
        let outcome = run(
            &host,
            json!({}),
            json!({"type": "group", "userId": "u1",
            "traits": {"name": "Acme"}, "context": {"traits": {"email": "ann@x.com"}}}),
        )
        .unwrap();
        assert_eq!(
            host.calls(),
            vec![
                "GET /api/v2/organizations/search?name=Acme",
                "GET /api/v2/users/search?external_id=u1",
                MEMBERSHIP
            ]
        );
        assert_eq!(outcome.operations.last().unwrap().status, 422);
        assert_eq!(
            host.body_of(MEMBERSHIP)["organization_membership"],
            json!({"user_id": 11, "organization_id": 7})
        );
    }

    #[test]
    fn no_email_no_group_id_creates_org_and_user() {
        let host = FakeHost::new();
        host.on(
            "GET",
            "/api/v2/organizations/search?name=NewCo",
            200,
            json!({"organizations": []}),
        );
        host.on(
            "POST",
            "/api/v2/organizations",
            201,
            json!({"organization": {"id": 9}}),
        );
        host.finds_no_users("/api/v2/users/search?external_id=u2");
        host.on(
            "POST",
            "/api/v2/users/create_or_update",
            201,
            json!({"user": {"id": 12}}),
        );
        host.on("POST", "/api/v2/organization_memberships", 201, json!({}));
        run(
            &host,
            json!({"skipVerifyEmail": true}),
            json!({"type": "group", "userId": "u2",
            "traits": {"name": "NewCo"}, "context": {"traits": {"firstName": "Zed"}}}),
        )
        .unwrap();
        assert_eq!(
            host.body_of("POST /api/v2/users/create_or_update"),
            json!({"user": {"external_id": "u2", "name": "Zed", "skip_verify_email": true}})
        );
        assert_eq!(
            host.body_of(MEMBERSHIP)["organization_membership"],
            json!({"user_id": 12, "organization_id": 9})
        );
    }

    #[test]
    fn group_id_without_email_creates_the_user_named_by_user_id() {
        let host = FakeHost::new();
        script_org(&host);
        host.finds_no_users("/api/v2/users/search?external_id=u3");
        host.on(
            "POST",
            "/api/v2/users/create_or_update",
            201,
            json!({"user": {"id": 13}}),
        );
        run(
            &host,
            json!({}),
            json!({"type": "group", "userId": "u3", "groupId": "g3", "traits": {"name": "G"}}),
        )
        .unwrap();
        assert_eq!(
            host.body_of("POST /api/v2/users/create_or_update"),
            json!({"user": {"external_id": "u3", "name": "u3"}})
        );
        assert_eq!(host.calls().len(), 4);
    }

    #[test]
    fn without_user_id() {
        let host = FakeHost::new();
        let event = json!({"type": "group", "groupId": "g1", "traits": {"name": "Acme"}});
        assert_eq!(
            run(&host, json!({}), event.clone()).unwrap_err(),
            Error::InvalidEvent(
                "group needs a userId (or enable sendGroupCallsWithoutUserId)".into()
            )
        );
        assert!(host.requests().is_empty());
        script_org(&host);
        let outcome = run(&host, json!({"sendGroupCallsWithoutUserId": true}), event).unwrap();
        assert_eq!(host.calls(), vec![UPSERT]);
        assert_eq!(outcome.operations.len(), 1);
    }

    #[test]
    fn no_group_id_and_no_name_is_invalid_before_any_call() {
        let host = FakeHost::new();
        let error = run(
            &host,
            json!({}),
            json!({"type": "group", "userId": "u", "traits": {"plan": "x"}}),
        )
        .unwrap_err();
        assert!(matches!(error, Error::InvalidEvent(m) if m.contains("traits.name")));
        assert!(host.requests().is_empty());
    }
}
