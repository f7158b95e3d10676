use crate::testing::{FakeHost, config_json};
use crate::{Error, Outcome, transform};
use serde_json::{Value, json};

const UPSERT: &str = "POST /api/v2/users/create_or_update";
const FIELDS: &str = "/api/v2/user_fields?page[size]=100";
const MEMBERSHIP: &str = "POST /api/v2/organization_memberships";

fn run(host: &FakeHost, config: Value, event: Value) -> Result<Outcome, Error> {
    transform(host, &config_json(config), &event.to_string())
}

/// A host whose user fields are cached and whose create_or_update answers with `user`.
fn host_with_user(user: Value) -> FakeHost {
    let host = FakeHost::new();
    host.put_cache("fields:user", r#"["plan_name","seats"]"#);
    host.on(
        "POST",
        "/api/v2/users/create_or_update",
        200,
        json!({ "user": user }),
    );
    host
}

#[test]
fn maps_traits_onto_the_user_and_creates_missing_fields_first() {
    let host = FakeHost::new();
    host.on(
        "GET",
        FIELDS,
        200,
        json!({"user_fields": [{"key": "plan_name"}], "meta": {"has_more": false}}),
    );
    host.on(
        "POST",
        "/api/v2/user_fields",
        201,
        json!({"user_field": {"id": 1}}),
    );
    host.on(
        "POST",
        "/api/v2/users/create_or_update",
        201,
        json!({"user": {"id": 42, "email": "ann@x.com"}}),
    );
    let outcome = run(&host, json!({"createUsersAsVerified": true, "skipVerifyEmail": true}), json!({
        "type": "identify", "userId": "u1",
        "traits": {"firstName": "Ann", "lastName": "Lee", "email": "ann@x.com", "phone": "+15550100",
            "timezone": "Europe/Paris", "planName": "pro", "totalBilled": 12.5, "id": "not-the-key",
            "userId": "nor-this", "address": {"city": "X"}, "company": {"name": "Acme"}}}))
    .unwrap();
    assert_eq!(
        host.calls(),
        vec![
            format!("GET {FIELDS}"),
            "POST /api/v2/user_fields".into(),
            UPSERT.into()
        ]
    );
    assert_eq!(
        host.body(1),
        json!({"user_field": {"key": "total_billed", "title": "Total Billed", "type": "decimal"}})
    );
    assert_eq!(
        host.body_of(UPSERT),
        json!({"user": {
        "name": "Ann Lee", "email": "ann@x.com", "phone": "+15550100", "time_zone": "Europe/Paris",
        "external_id": "u1", "user_fields": {"plan_name": "pro", "total_billed": 12.5},
        "verified": true, "skip_verify_email": true}})
    );
    assert_eq!(
        outcome
            .operations
            .iter()
            .map(|o| o.status)
            .collect::<Vec<_>>(),
        vec![200, 201, 201]
    );
    assert_eq!(host.cached("user:ext:u1").as_deref(), Some("42"));
    assert_eq!(host.cached("user:email:ann@x.com").as_deref(), Some("42"));
}

#[test]
fn known_fields_take_one_call_and_verified_false_is_never_sent() {
    let host = host_with_user(json!({"id": 1, "email": "b@x.com"}));
    let outcome = run(&host, json!({"createUsersAsVerified": false}), json!({"type": "identify", "userId": "u2",
        "context": {"traits": {"name": "Old", "seats": 3}}, "traits": {"name": "Bo", "email": "b@x.com",
        "plan_name": "basic"}})).unwrap();
    assert_eq!(outcome.operations.len(), 1);
    assert_eq!(
        host.body_of(UPSERT),
        json!({"user": {"name": "Bo", "email": "b@x.com", "external_id": "u2",
        "user_fields": {"plan_name": "basic", "seats": 3}}})
    );
}

#[test]
fn validation_happens_before_any_call() {
    let host = FakeHost::new();
    let cases = [
        (
            json!({"type": "identify", "userId": "u", "traits": {"email": "a@x.com"}}),
            "identify needs a `name` trait or `firstName`/`lastName`",
        ),
        (
            json!({"type": "identify", "traits": {"name": "A"}}),
            "`traits.email` or a `userId`",
        ),
        (
            json!({"type": "identify", "userId": "u", "traits": {"name": "A", "organizationId": "acme"}}),
            "`organizationId` must be a Zendesk organization id",
        ),
        (
            json!({"type": "identify", "userId": "u", "traits": {"name": "A", "company": {"id": "x1"}}}),
            "`company.id` must be a Zendesk organization id",
        ),
        (
            json!({"type": "identify", "userId": "u", "traits": {"name": "A", "email": ["a"]}}),
            "`email`",
        ),
    ];
    for (event, expected) in cases {
        match run(&host, json!({}), event) {
            Err(Error::InvalidEvent(message)) => assert!(message.contains(expected), "{message}"),
            other => panic!("expected InvalidEvent, got {other:?}"),
        }
    }
    assert!(host.requests().is_empty());
}

#[test]
fn organization_id_joins_through_memberships_never_on_the_user() {
    for (traits, organization) in [
        (json!({"name": "A", "organizationId": 6789}), 6789),
        (json!({"name": "A", "company": {"id": "6789"}}), 6789),
        (
            json!({"name": "A", "company": {"id": 900001329943u64, "remove": false}}),
            900001329943u64,
        ),
    ] {
        let host = host_with_user(json!({"id": 5}));
        host.on(
            "POST",
            "/api/v2/organization_memberships",
            422,
            json!({"error": "RecordInvalid", "details": {"user_id": [{"error": "DuplicateValue"}]}}),
        );
        let outcome = run(
            &host,
            json!({}),
            json!({"type": "identify", "userId": "u", "traits": traits}),
        )
        .unwrap();
        assert_eq!(host.calls(), vec![UPSERT, MEMBERSHIP]);
        assert!(
            host.body_of(UPSERT)["user"]
                .get("organization_id")
                .is_none()
        );
        assert_eq!(
            host.body_of(MEMBERSHIP),
            json!({"organization_membership": {"user_id": 5, "organization_id": organization}})
        );
        assert_eq!(outcome.operations[1].status, 422);
    }
}

#[test]
fn company_remove_removes_only_with_the_setting() {
    let list = "/api/v2/users/5/organization_memberships?page[size]=100";
    let event = json!({"type": "identify", "userId": "u", "traits": {"name": "A", "company": {"id": "6789", "remove": true}}});

    let host = host_with_user(json!({"id": 5}));
    host.on(
        "GET",
        list,
        200,
        json!({"organization_memberships": [{"id": 80, "organization_id": 1},
        {"id": 81, "organization_id": 6789}], "meta": {"has_more": false}}),
    );
    host.on(
        "DELETE",
        "/api/v2/organization_memberships/81",
        204,
        Value::Null,
    );
    run(
        &host,
        json!({"removeUsersFromOrganization": true}),
        event.clone(),
    )
    .unwrap();
    assert_eq!(
        host.calls(),
        vec![
            UPSERT.to_string(),
            format!("GET {list}"),
            "DELETE /api/v2/organization_memberships/81".into()
        ]
    );

    let host = host_with_user(json!({"id": 5}));
    run(&host, json!({}), event).unwrap();
    assert_eq!(host.calls(), vec![UPSERT]);
    assert!(host.logged("removeUsersFromOrganization is off"));
}

#[test]
fn primary_email_already_primary_needs_no_extra_call() {
    let host = host_with_user(json!({"id": 5, "email": "New@x.com"}));
    run(
        &host,
        json!({"updatePrimaryEmail": true}),
        json!({"type": "identify", "userId": "u",
        "traits": {"name": "A", "email": "new@x.com"}}),
    )
    .unwrap();
    assert_eq!(host.calls(), vec![UPSERT]);
}

#[test]
fn primary_email_setting_makes_the_existing_secondary_primary() {
    let host = host_with_user(json!({"id": 5, "email": "old@x.com"}));
    host.on("GET", "/api/v2/users/5/identities?page[size]=100", 200, json!({"identities": [
        {"id": 30, "type": "email", "value": "old@x.com", "primary": true},
        {"id": 31, "type": "phone_number", "value": "new@x.com", "primary": false},
        {"id": 32, "type": "email", "value": "new@x.com", "primary": false}], "meta": {"has_more": false}}));
    host.on(
        "PUT",
        "/api/v2/users/5/identities/32/make_primary",
        200,
        json!({"identities": []}),
    );
    run(
        &host,
        json!({"searchByExternalId": true}),
        json!({"type": "identify", "userId": "u",
        "traits": {"name": "A", "email": "new@x.com"}}),
    )
    .unwrap();
    assert_eq!(
        host.calls(),
        vec![
            UPSERT,
            "GET /api/v2/users/5/identities?page[size]=100",
            "PUT /api/v2/users/5/identities/32/make_primary"
        ]
    );
    assert_eq!(host.body(2), json!({}));
}

#[test]
fn primary_email_trait_adds_the_identity_then_makes_it_primary_even_with_the_setting_off() {
    let host = host_with_user(json!({"id": 5, "email": "alex@x.com"}));
    host.on(
        "GET",
        "/api/v2/users/5/identities?page[size]=100",
        200,
        json!({"identities": [
        {"id": 30, "type": "email", "value": "alex@x.com", "primary": true}]}),
    );
    host.on(
        "POST",
        "/api/v2/users/5/identities",
        201,
        json!({"identity": {"id": 33}}),
    );
    host.on(
        "PUT",
        "/api/v2/users/5/identities/33/make_primary",
        200,
        json!({"identities": []}),
    );
    run(
        &host,
        json!({"skipVerifyEmail": true}),
        json!({"type": "identify", "userId": "u",
        "traits": {"name": "A", "email": "alex@x.com", "primaryEmail": "test300@x.com"}}),
    )
    .unwrap();
    assert_eq!(host.body_of(UPSERT)["user"]["email"], "alex@x.com");
    assert_eq!(
        host.body_of("POST /api/v2/users/5/identities"),
        json!({"identity": {"type": "email", "value": "test300@x.com", "skip_verify_email": true}})
    );
    assert_eq!(
        host.calls().last().unwrap(),
        "PUT /api/v2/users/5/identities/33/make_primary"
    );
}

#[test]
fn zendesk_errors_keep_their_class() {
    let host = FakeHost::new();
    host.on_with_headers(
        "POST",
        "/api/v2/users/create_or_update",
        503,
        json!({"error": "busy"}),
        &[("Retry-After", "4")],
    );
    let event = json!({"type": "identify", "userId": "u", "traits": {"name": "A"}});
    let error = run(&host, json!({}), event.clone()).unwrap_err();
    assert!(matches!(
        error,
        Error::Retryable {
            retry_after_seconds: Some(4),
            ..
        }
    ));

    let host = FakeHost::new();
    host.on("POST", "/api/v2/users/create_or_update", 422, json!({"error": "RecordInvalid",
        "description": "Record validation errors", "details": {"email": [{"description": "Email: is invalid"}]}}));
    match run(&host, json!({}), event).unwrap_err() {
        Error::Rejected {
            status: 422,
            message,
        } => assert!(message.contains("email: Email: is invalid"), "{message}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
}
