use serde_json::json;

use super::{AUTH, SUB, expect, send, url};
use crate::{MockZendesk, Request};

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
fn bulk_user_import_is_forbidden_by_default() {
    let mock = MockZendesk::new();
    let body = json!({"users": [{"name": "Ann", "email": "ann@x.com"}]});
    let forbidden = expect(
        &mock,
        "POST",
        "/api/v2/users/create_or_update_many.json",
        Some(body),
        403,
    );
    assert_eq!(forbidden["error"], "Forbidden");
    assert!(mock.account(SUB).users.is_empty());
}

#[test]
fn the_mock_is_a_shareable_handle() {
    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
    assert_shareable::<MockZendesk>();
    let mock = MockZendesk::new();
    let clone = mock.clone();
    clone.seed_user(SUB, json!({"name": "Shared"}));
    assert_eq!(mock.account(SUB).users.len(), 1, "clones share one state");
}
