use serde_json::json;

use super::{AUTH, SUB, expect, send, url};
use crate::{MockZendesk, Request};

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

#[test]
fn fuzzy_email_search_matches_addresses_containing_the_value() {
    let mock = MockZendesk::new();
    let bob = mock.seed_user(SUB, json!({"name": "Bob", "email": "bob@x.com"}));
    let jimbob = mock.seed_user(SUB, json!({"name": "Jim", "email": "jimbob@x.com"}));
    mock.seed_user(SUB, json!({"name": "Ann", "email": "ann@y.com"}));
    for query in ["email%3A%22bob%40x.com%22", "email:bob@x.com"] {
        let body = expect(
            &mock,
            "GET",
            &format!("/api/v2/users/search.json?query={query}"),
            None,
            200,
        );
        let ids: Vec<u64> = body["users"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["id"].as_u64())
            .collect();
        assert_eq!(ids, vec![bob, jimbob], "query {query}");
        assert_eq!(body["count"], 2);
    }
    let by_name = expect(&mock, "GET", "/api/v2/users/search?query=ji", None, 200);
    assert_eq!(by_name["users"][0]["id"], jimbob);
    assert_eq!(by_name["count"], 1);
}

#[test]
fn plus_in_a_query_string_decodes_to_a_space_so_unencoded_plus_breaks_the_match() {
    let mock = MockZendesk::new();
    let id = mock.seed_user(SUB, json!({"name": "Bob", "email": "bob+tag@x.com"}));
    let broken = expect(
        &mock,
        "GET",
        "/api/v2/users/search?query=email:\"bob+tag@x.com\"",
        None,
        200,
    );
    assert_eq!(broken["count"], 0);
    let encoded = expect(
        &mock,
        "GET",
        "/api/v2/users/search?query=email%3A%22bob%2Btag%40x.com%22",
        None,
        200,
    );
    assert_eq!(encoded["users"][0]["id"], id);
    assert_eq!(encoded["count"], 1);
    // The recording keeps the path and query exactly as received.
    let recorded = mock.requests();
    assert_eq!(
        recorded[0].path,
        "/api/v2/users/search?query=email:\"bob+tag@x.com\""
    );
    assert_eq!(
        recorded[1].path,
        "/api/v2/users/search?query=email%3A%22bob%2Btag%40x.com%22"
    );
}

#[test]
fn search_results_are_offset_paginated() {
    let mock = MockZendesk::new();
    for n in 0..5 {
        mock.seed_user(SUB, json!({"name": format!("Member {n}")}));
    }
    let first = expect(
        &mock,
        "GET",
        "/api/v2/users/search?query=member&per_page=2",
        None,
        200,
    );
    assert_eq!(first["users"].as_array().map(Vec::len), Some(2));
    assert_eq!(first["count"], 5);
    assert_eq!(
        first["next_page"],
        format!(
            "https://{SUB}.zendesk.com/api/v2/users/search.json?query=member&page=2&per_page=2"
        )
    );
    let (all, pages) = super::collect_offset_pages(
        &mock,
        "/api/v2/users/search?query=member&per_page=2",
        "users",
    );
    assert_eq!((all.len(), pages), (5, 3));
}

#[test]
fn external_id_lookups_are_exact_and_case_insensitive() {
    let mock = MockZendesk::new();
    let abc = mock.seed_user(SUB, json!({"name": "A", "external_id": "ABC"}));
    mock.seed_user(SUB, json!({"name": "B", "external_id": "abc2"}));
    for path in [
        "/api/v2/users/search?external_id=abc",
        "/api/v2/users.json?external_id=abc",
    ] {
        let body = expect(&mock, "GET", path, None, 200);
        assert_eq!(body["count"], 1, "{path}");
        assert_eq!(body["users"][0]["id"], abc);
        assert_eq!(body["next_page"], json!(null));
    }
    let none = expect(
        &mock,
        "GET",
        "/api/v2/users/search?external_id=ab",
        None,
        200,
    );
    assert_eq!(
        none,
        json!({"users": [], "count": 0, "next_page": null, "previous_page": null})
    );
    let shown = expect(
        &mock,
        "GET",
        &format!("/api/v2/users/{abc}.json"),
        None,
        200,
    );
    assert_eq!(shown["user"]["external_id"], "ABC");
    expect(&mock, "GET", "/api/v2/users/999999", None, 404);
}

#[test]
fn auth_body_and_routing_errors() {
    let mock = MockZendesk::new();
    let unauthenticated = mock.handle(&Request::new("GET", &url("/api/v2/users/1")));
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(
        unauthenticated.json_body(),
        json!({"error": "Couldn't authenticate you"})
    );

    mock.require_credentials(SUB, "Bearer right");
    assert_eq!(send(&mock, "GET", "/api/v2/user_fields", None).status, 401);
    let right =
        Request::new("GET", &url("/api/v2/user_fields")).header("authorization", "Bearer right");
    assert_eq!(mock.handle(&right).status, 200);
    // Other accounts are unaffected by acme's credentials.
    let other = Request::new("GET", "https://other.zendesk.com/api/v2/user_fields")
        .header("Authorization", AUTH);
    assert_eq!(mock.handle(&other).status, 200);

    let mock = MockZendesk::new();
    let mut bad_json =
        Request::new("POST", &url("/api/v2/users/create_or_update")).header("Authorization", AUTH);
    bad_json.body = b"{not json".to_vec();
    let response = mock.handle(&bad_json);
    assert_eq!(response.status, 400);
    assert_eq!(response.json_body()["error"], "Unprocessable Entity");

    let unknown = expect(&mock, "GET", "/api/v2/nothing/here", None, 404);
    assert_eq!(
        unknown,
        json!({"error": "InvalidEndpoint", "description": "Not found"})
    );
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.subdomain == SUB && r.fault.is_none())
    );
    assert_eq!(mock.requests()[0].body, Some(json!("{not json")));
}

#[test]
fn the_account_comes_from_the_host_or_the_subdomain_header() {
    let mock = MockZendesk::new();
    let body = json!({"user": {"name": "Loop"}});
    let loopback = Request::new(
        "POST",
        "http://127.0.0.1:9999/api/v2/users/create_or_update",
    )
    .header("Authorization", AUTH)
    .header("X-Zendesk-Subdomain", "beta")
    .json_body(&body);
    assert_eq!(mock.handle(&loopback).status, 201);
    let bare = Request::new("POST", "http://localhost/api/v2/users/create_or_update")
        .header("Authorization", AUTH)
        .json_body(&body);
    assert_eq!(mock.handle(&bare).status, 201);
    assert_eq!(mock.account("beta").users.len(), 1);
    assert_eq!(mock.account("default").users.len(), 1);
    assert!(mock.account(SUB).users.is_empty());
    assert_eq!(mock.requests_for("beta").len(), 1);
    let state = mock.state_json();
    assert_eq!(state["beta"]["users"][0]["name"], "Loop");
}

#[test]
fn make_primary_swaps_and_keeps_the_old_primary_as_secondary() {
    let mock = MockZendesk::new();
    let user = mock.seed_user(SUB, json!({"name": "Ann", "email": "old@x.com"}));
    let added = expect(
        &mock,
        "POST",
        &format!("/api/v2/users/{user}/identities.json"),
        Some(
            json!({"identity": {"type": "email", "value": "new@x.com"}, "skip_verify_email": true}),
        ),
        201,
    );
    assert_eq!(added["identity"]["primary"], false);
    let new_id = added["identity"]["id"].as_u64().unwrap_or(0);
    let swapped = expect(
        &mock,
        "PUT",
        &format!("/api/v2/users/{user}/identities/{new_id}/make_primary"),
        Some(json!({})),
        200,
    );
    let primaries: Vec<(String, bool)> = swapped["identities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["value"].as_str().unwrap_or_default().to_string(),
                i["primary"] == json!(true),
            )
        })
        .collect();
    assert_eq!(
        primaries,
        vec![("old@x.com".into(), false), ("new@x.com".into(), true)]
    );
    let state = mock.account(SUB);
    assert_eq!(
        state.user(user).and_then(|u| u.email.clone()).as_deref(),
        Some("new@x.com")
    );
    assert_eq!(state.emails_of(user), vec!["new@x.com", "old@x.com"]);

    // An address used by anyone is a 422; listing pages with a cursor.
    let taken = expect(
        &mock,
        "POST",
        &format!("/api/v2/users/{user}/identities"),
        Some(json!({"identity": {"type": "email", "value": "OLD@x.com"}})),
        422,
    );
    assert_eq!(taken["details"]["value"][0]["error"], "DuplicateValue");
    let page = expect(
        &mock,
        "GET",
        &format!("/api/v2/users/{user}/identities?page[size]=1"),
        None,
        200,
    );
    assert_eq!(page["meta"]["has_more"], true);
    let (all, pages) = super::collect_cursor_pages(
        &mock,
        &format!("/api/v2/users/{user}/identities?page%5Bsize%5D=1"),
        "identities",
    );
    assert_eq!((all.len(), pages), (2, 2));

    let old_id = state
        .identity_by_email("old@x.com")
        .map(|i| i.id)
        .unwrap_or(0);
    assert_eq!(
        send(
            &mock,
            "DELETE",
            &format!("/api/v2/users/{user}/identities/{old_id}"),
            None
        )
        .status,
        204
    );
    assert_eq!(mock.account(SUB).emails_of(user), vec!["new@x.com"]);
    assert_eq!(
        send(
            &mock,
            "DELETE",
            &format!("/api/v2/users/{user}/identities/{old_id}"),
            None
        )
        .status,
        404
    );
}
