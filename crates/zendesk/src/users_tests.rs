use super::*;
use crate::testing::{FakeHost, config};

fn person(external_id: Option<&str>, email: Option<&str>, name: Option<&str>) -> Person {
    Person {
        external_id: external_id.map(Into::into),
        email: email.map(Into::into),
        name: name.map(Into::into),
    }
}

#[test]
fn exact_email_match_among_fuzzy_results_with_encoded_plus() {
    let host = FakeHost::new();
    let path = "/api/v2/users/search?query=email%3A%22bob%2Btest%40x.com%22";
    host.on("GET", path, 200, json!({"users": [
        {"id": 1, "email": "jimbob+test@x.com"}, {"id": 2, "email": "Bob+Test@X.com"}], "next_page": null}));
    let config = config(json!({}));
    let mut client = Client::new(&host, &config);
    let found = find(
        &mut client,
        &person(None, Some("bob+test@x.com"), None),
        true,
    )
    .unwrap();
    assert_eq!(
        found,
        Some(Found {
            id: 2,
            from_cache: false
        })
    );
    assert_eq!(
        host.cached("user:email:bob+test@x.com").as_deref(),
        Some("2")
    );
    // Second time: cache, no call.
    let found = find(
        &mut client,
        &person(None, Some("BOB+test@x.com"), None),
        true,
    )
    .unwrap();
    assert_eq!(
        found,
        Some(Found {
            id: 2,
            from_cache: true
        })
    );
    assert_eq!(host.requests().len(), 1);
}

#[test]
fn several_exact_matches_are_rejected() {
    let host = FakeHost::new();
    host.on(
        "GET",
        "/api/v2/users/search?query=email%3A%22a%40x.com%22",
        200,
        json!({"users": [{"id": 1, "email": "a@x.com"}, {"id": 2, "email": "A@x.com"}]}),
    );
    let config = config(json!({}));
    let mut client = Client::new(&host, &config);
    let error = find(&mut client, &person(None, Some("a@x.com"), None), true).unwrap_err();
    assert!(matches!(error, Error::Rejected { status: 409, .. }));
}

#[test]
fn external_id_first_then_email() {
    let host = FakeHost::new();
    host.finds_no_users("/api/v2/users/search?external_id=U%201");
    host.finds_no_users("/api/v2/users/search?query=email%3A%22a%40x.com%22");
    let config = config(json!({}));
    let mut client = Client::new(&host, &config);
    assert_eq!(
        find(
            &mut client,
            &person(Some("U 1"), Some("a@x.com"), None),
            true
        )
        .unwrap(),
        None
    );
    assert_eq!(
        host.calls(),
        vec![
            "GET /api/v2/users/search?external_id=U%201",
            "GET /api/v2/users/search?query=email%3A%22a%40x.com%22",
        ]
    );
}

#[test]
fn a_missing_user_is_waited_for_within_the_search_lag_window_then_rejected() {
    let host = FakeHost::new();
    host.finds_no_users("/api/v2/users/search?external_id=u1");
    let config = config(json!({}));
    let mut client = Client::new(&host, &config);
    let who = person(Some("u1"), None, None);
    let mut attempt = |at: u64| {
        host.now.set(1_000_000 + at);
        resolve(&mut client, &config, &who, None, WhenMissing::CreateIfNamed).unwrap_err()
    };
    let retry_after = |error: Error| match error {
        Error::Retryable {
            retry_after_seconds,
            ..
        } => retry_after_seconds,
        other => panic!("{other:?}"),
    };
    assert_eq!(retry_after(attempt(0)), Some(60));
    assert_eq!(retry_after(attempt(60)), Some(60));
    assert_eq!(
        retry_after(attempt(120)),
        Some(30),
        "the last wait ends with the window"
    );
    assert_eq!(
        attempt(150),
        Error::Rejected {
            status: 404,
            message: "no Zendesk user with external_id \"u1\" after 150 s of retries: send its \
                      identify first, or an email to create it from"
                .into()
        }
    );
    // The first miss is remembered per user, for the window and no longer than twice that.
    assert_eq!(
        host.cache.borrow().get("missing:external_id \"u1\""),
        Some(&("1000000".to_string(), 300))
    );
}

#[test]
fn resolve_creates_or_asks_to_retry() {
    let host = FakeHost::new();
    host.finds_no_users("/api/v2/users/search?external_id=u1");
    host.on(
        "POST",
        "/api/v2/users/create_or_update",
        201,
        json!({"user": {"id": 9, "external_id": "u1", "email": null}}),
    );
    let config = config(json!({"createUsersAsVerified": true}));
    let mut client = Client::new(&host, &config);
    let who = person(Some("u1"), None, None);
    let error = resolve(&mut client, &config, &who, None, WhenMissing::CreateIfNamed).unwrap_err();
    assert_eq!(
        error,
        Error::Retryable {
            message:
                "no Zendesk user with external_id \"u1\" yet (an identify may still be on its way)"
                    .into(),
            retry_after_seconds: Some(60),
        }
    );
    let found = resolve(&mut client, &config, &who, None, WhenMissing::Create).unwrap();
    assert_eq!(found.id, 9);
    assert_eq!(
        host.body_of("POST /api/v2/users/create_or_update"),
        json!({"user": {"external_id": "u1", "name": "u1", "verified": true}})
    );
    assert_eq!(host.cached("user:ext:u1").as_deref(), Some("9"));
    let direct = resolve(
        &mut client,
        &config,
        &who,
        Some(77),
        WhenMissing::CreateIfNamed,
    )
    .unwrap();
    assert_eq!(
        direct,
        Found {
            id: 77,
            from_cache: false
        }
    );
}
