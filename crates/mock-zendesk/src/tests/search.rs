use serde_json::json;

use super::{SUB, expect};
use crate::MockZendesk;

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
