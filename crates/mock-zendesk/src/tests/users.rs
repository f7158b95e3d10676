use serde_json::json;

use super::{SUB, expect};
use crate::MockZendesk;

#[test]
fn create_or_update_creates_with_201_then_updates_with_200() {
    let mock = MockZendesk::new();
    mock.seed_user_field(SUB, "plan", "text");
    let created = expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update.json",
        Some(
            json!({"user": {"name": "Ann", "email": "ann@x.com", "external_id": "U-1",
            "phone": "+15550001", "time_zone": "Berlin", "user_fields": {"plan": "gold"}}}),
        ),
        201,
    );
    let id = created["user"]["id"].as_u64().unwrap_or(0);
    assert_eq!(id, 1000);
    assert_eq!(created["user"]["email"], "ann@x.com");
    assert_eq!(
        created["user"]["url"],
        format!("https://{SUB}.zendesk.com/api/v2/users/1000.json")
    );
    assert_eq!(created["user"]["organization_id"], json!(null));

    let updated = expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update",
        Some(json!({"user": {"name": "Ann B", "external_id": "u-1", "time_zone": "Paris"}})),
        200,
    );
    assert_eq!(updated["user"]["id"], id);
    let state = mock.account(SUB);
    assert_eq!(state.users.len(), 1);
    let user = &state.users[0];
    assert_eq!(user.name, "Ann B");
    assert_eq!(
        user.external_id.as_deref(),
        Some("u-1"),
        "external_id takes the request's case"
    );
    assert_eq!(user.time_zone.as_deref(), Some("Paris"));
    assert_eq!(user.phone.as_deref(), Some("+15550001"));
    assert_eq!(
        user.user_fields,
        json!({"plan": "gold"})
            .as_object()
            .cloned()
            .unwrap_or_default()
    );
}

#[test]
fn create_or_update_matches_by_email_when_external_id_is_unknown() {
    let mock = MockZendesk::new();
    let id = mock.seed_user(SUB, json!({"name": "Bob", "email": "Bob@X.com"}));
    let body = expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update",
        Some(json!({"user": {"name": "Bob", "email": "bob@x.com", "external_id": "b-1"}})),
        200,
    );
    assert_eq!(body["user"]["id"], id);
    assert_eq!(
        mock.account(SUB)
            .user(id)
            .and_then(|u| u.external_id.clone())
            .as_deref(),
        Some("b-1")
    );
}

#[test]
fn missing_name_on_create_is_422_and_changes_nothing() {
    let mock = MockZendesk::new();
    let body = expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update",
        Some(json!({"user": {"email": "x@x.com"}})),
        422,
    );
    assert_eq!(
        body,
        json!({"error": "RecordInvalid", "description": "Record validation errors",
            "details": {"name": [{"description": "Name: cannot be blank", "error": "BlankValue"}]}})
    );
    assert!(mock.account(SUB).users.is_empty());
}

#[test]
fn a_new_email_on_update_is_added_as_secondary_and_never_replaces_the_primary() {
    let mock = MockZendesk::new();
    let id = mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "old@x.com", "external_id": "u1"}),
    );
    let body = expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update",
        Some(json!({"user": {"name": "Ann", "email": "new@x.com", "external_id": "u1"}})),
        200,
    );
    assert_eq!(body["user"]["email"], "old@x.com");
    let state = mock.account(SUB);
    assert_eq!(state.emails_of(id), vec!["old@x.com", "new@x.com"]);
    assert_eq!(state.user_by_email("NEW@x.com").map(|u| u.id), Some(id));
}

#[test]
fn an_email_of_another_user_is_422() {
    let mock = MockZendesk::new();
    mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@x.com", "external_id": "a"}),
    );
    mock.seed_user(
        SUB,
        json!({"name": "Bob", "email": "bob@x.com", "external_id": "b"}),
    );
    let body = expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update",
        Some(json!({"user": {"name": "Ann", "email": "bob@x.com", "external_id": "a"}})),
        422,
    );
    assert_eq!(
        body["details"]["email"][0]["description"],
        "Email: bob@x.com is already being used by another user"
    );
    assert_eq!(mock.account(SUB).identities.len(), 2);
}

#[test]
fn organization_id_on_the_user_drops_all_other_memberships() {
    let mock = MockZendesk::new();
    let user = mock.seed_user(SUB, json!({"name": "Ann", "external_id": "a"}));
    let first = mock.seed_organization(SUB, json!({"name": "First"}));
    let second = mock.seed_organization(SUB, json!({"name": "Second"}));
    let third = mock.seed_organization(SUB, json!({"name": "Third"}));
    mock.seed_membership(SUB, user, first);
    mock.seed_membership(SUB, user, second);
    assert_eq!(
        mock.account(SUB).user(user).and_then(|u| u.organization_id),
        Some(first)
    );

    let body = expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update",
        Some(json!({"user": {"name": "Ann", "external_id": "a", "organization_id": third}})),
        200,
    );
    assert_eq!(body["user"]["organization_id"], third);
    let state = mock.account(SUB);
    assert_eq!(state.organization_ids_of(user), vec![third]);
    assert!(state.memberships_of(user)[0].default);
}

#[test]
fn undefined_user_fields_are_discarded_and_defined_ones_merged() {
    let mock = MockZendesk::new();
    mock.seed_user_field(SUB, "plan", "text");
    mock.seed_user_field(SUB, "seats", "integer");
    let user = mock.seed_user(
        SUB,
        json!({"name": "Ann", "external_id": "a", "user_fields": {"plan": "free", "seats": 3}}),
    );
    let body = expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update",
        Some(
            json!({"user": {"name": "Ann", "external_id": "a", "user_fields": {"plan": "pro", "favourite_color": "red"}}}),
        ),
        200,
    );
    assert_eq!(
        body["user"]["user_fields"],
        json!({"plan": "pro", "seats": 3})
    );
    let stored = mock
        .account(SUB)
        .user(user)
        .map(|u| u.user_fields.clone())
        .unwrap_or_default();
    assert_eq!(
        serde_json::Value::Object(stored),
        json!({"plan": "pro", "seats": 3})
    );
}

#[test]
fn verified_and_skip_verify_email_are_applied_to_identities() {
    let mock = MockZendesk::new();
    let body = json!({"user": {"name": "V", "email": "v@x.com", "verified": true}});
    expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update",
        Some(body),
        201,
    );
    let skipped = json!({"user": {"name": "S", "email": "s@x.com", "skip_verify_email": true}});
    expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update",
        Some(skipped),
        201,
    );
    let top_level_skip =
        json!({"user": {"name": "T", "email": "t@x.com"}, "skip_verify_email": true});
    expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update",
        Some(top_level_skip),
        201,
    );
    let plain = json!({"user": {"name": "P", "email": "p@x.com"}});
    expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update",
        Some(plain),
        201,
    );

    let state = mock.account(SUB);
    let summary = |email: &str| {
        state
            .user_by_email(email)
            .map(|u| (u.verified, u.verification_email_sent))
    };
    assert_eq!(summary("v@x.com"), Some((true, false)));
    assert_eq!(summary("s@x.com"), Some((false, false)));
    assert_eq!(summary("t@x.com"), Some((false, false)));
    assert_eq!(summary("p@x.com"), Some((false, true)));

    // verified:false unverifies the primary identity (RudderStack's mistake, Part C #10).
    let unverify = json!({"user": {"name": "V", "email": "v@x.com", "verified": false}});
    expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update",
        Some(unverify),
        200,
    );
    assert_eq!(
        mock.account(SUB)
            .user_by_email("v@x.com")
            .map(|u| u.verified),
        Some(false)
    );
}
