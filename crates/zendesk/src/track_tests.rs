use crate::testing::{FakeHost, config_json};
use crate::{Error, FetchError, Outcome, transform};
use serde_json::{Value, json};

fn run(host: &FakeHost, config: Value, event: Value) -> Result<Outcome, Error> {
    transform(host, &config_json(config), &event.to_string())
}

fn events_path(id: u64) -> String {
    format!("/api/v2/users/{id}/events")
}

fn accept_events(host: &FakeHost, id: u64) {
    host.on(
        "POST",
        &events_path(id),
        202,
        json!({"status": "received", "user_id": id.to_string()}),
    );
}

#[test]
fn allow_list_skips_with_zero_calls() {
    let host = FakeHost::new();
    let outcome = run(
        &host,
        json!({"events": ["Order Completed"]}),
        json!({"type": "track", "userId": "u", "event": "Article Read"}),
    )
    .unwrap();
    assert_eq!(
        outcome,
        Outcome {
            operations: vec![],
            skipped: Some("event `Article Read` is not in the events allow-list".into())
        }
    );
    assert!(host.requests().is_empty());
}

#[test]
fn zendesk_user_id_is_used_directly_with_the_full_event_body() {
    let host = FakeHost::new();
    accept_events(&host, 77);
    let outcome = run(&host, json!({"sourceName": "shop", "events": ["Order Completed"]}), json!({
        "type": "track", "userId": "u1", "event": "Order Completed", "timestamp": "2024-05-01T10:00:00Z",
        "properties": {"revenue": 77, "email": "ann@x.com", "description": "Big order"},
        "context": {"zendesk_user_id": 77}})).unwrap();
    assert_eq!(outcome.operations.len(), 1);
    assert_eq!(outcome.operations[0].status, 202);
    assert_eq!(
        host.body(0),
        json!({
        "profile": {"source": "shop", "type": "user", "identifiers": [
            {"type": "external_id", "value": "u1"}, {"type": "email", "value": "ann@x.com"}]},
        "event": {"source": "shop", "type": "Order Completed", "description": "Big order",
            "properties": {"revenue": 77, "email": "ann@x.com", "description": "Big order"},
            "created_at": "2024-05-01T10:00:00Z"}})
    );
}

#[test]
fn profile_type_is_constant_across_event_names() {
    let host = FakeHost::new();
    host.put_cache("user:ext:u1", "9");
    accept_events(&host, 9);
    for i in 0..25 {
        run(
            &host,
            json!({}),
            json!({"type": "track", "userId": "u1", "event": format!("Event {i}"),
            "timestamp": "not a date"}),
        )
        .unwrap();
    }
    for i in 0..25 {
        let body = host.body(i);
        assert_eq!(
            body["profile"],
            json!({"source": "Rudder", "type": "user",
            "identifiers": [{"type": "external_id", "value": "u1"}]})
        );
        assert_eq!(body["event"]["type"], format!("Event {i}"));
        assert_eq!(body["event"]["description"], format!("Event {i}"));
        assert!(body["event"].get("created_at").is_none());
    }
    assert_eq!(host.requests().len(), 25);
}

#[test]
fn looks_the_user_up_by_external_id_then_caches_it() {
    let host = FakeHost::new();
    host.on(
        "GET",
        "/api/v2/users/search?external_id=u%2F1",
        200,
        json!({"users": [{"id": 4}]}),
    );
    accept_events(&host, 4);
    let event = json!({"type": "track", "userId": "u/1", "event": "Signed In"});
    run(&host, json!({}), event.clone()).unwrap();
    run(&host, json!({}), event).unwrap();
    assert_eq!(
        host.calls(),
        vec![
            "GET /api/v2/users/search?external_id=u%2F1",
            "POST /api/v2/users/4/events",
            "POST /api/v2/users/4/events"
        ]
    );
}

#[test]
fn creates_the_user_when_name_and_email_are_known() {
    let host = FakeHost::new();
    host.finds_no_users("/api/v2/users/search?external_id=u1");
    host.on(
        "GET",
        "/api/v2/users/search?query=email%3A%22ann%40x.com%22",
        200,
        json!({"users": [{"id": 3, "email": "joann@x.com"}]}),
    );
    // The fuzzy hit's other email addresses are checked too (none matches).
    host.on(
        "GET",
        "/api/v2/users/3/identities?page[size]=100",
        200,
        json!({"identities": [{"id": 30, "type": "email", "value": "joann@x.com"}]}),
    );
    host.on(
        "POST",
        "/api/v2/users/create_or_update",
        201,
        json!({"user": {"id": 8}}),
    );
    accept_events(&host, 8);
    run(
        &host,
        json!({"createUsersAsVerified": true}),
        json!({"type": "track", "userId": "u1", "event": "E",
        "context": {"traits": {"name": "Ann", "email": "ann@x.com"}}}),
    )
    .unwrap();
    assert_eq!(
        host.body_of("POST /api/v2/users/create_or_update"),
        json!({"user": {"external_id": "u1", "email": "ann@x.com", "name": "Ann", "verified": true}})
    );
    assert_eq!(host.calls().last().unwrap(), "POST /api/v2/users/8/events");
}

#[test]
fn unknown_user_is_retryable_and_missing_identity_is_invalid() {
    let host = FakeHost::new();
    host.finds_no_users("/api/v2/users/search?external_id=u1");
    host.finds_no_users("/api/v2/users/search?query=email%3A%22a%40x.com%22");
    let error = run(
        &host,
        json!({}),
        json!({"type": "track", "userId": "u1", "event": "E",
        "properties": {"email": "a@x.com"}}),
    )
    .unwrap_err();
    assert_eq!(error, Error::Retryable {
        message: "no Zendesk user with external_id \"u1\" / email \"a@x.com\" yet (an identify may still be on its way)".into(),
        retry_after_seconds: Some(60),
    });

    let host = FakeHost::new();
    let error = run(
        &host,
        json!({}),
        json!({"type": "track", "anonymousId": "a", "event": "E"}),
    )
    .unwrap_err();
    assert!(matches!(error, Error::InvalidEvent(m) if m.contains("userId")));
    let error = run(&host, json!({}), json!({"type": "track", "userId": "u"})).unwrap_err();
    assert_eq!(
        error,
        Error::InvalidEvent("track needs an `event` name".into())
    );
    assert!(host.requests().is_empty());
}

#[test]
fn stale_cached_user_is_forgotten_and_resolved_again() {
    let host = FakeHost::new();
    host.put_cache("user:ext:u1", "1");
    host.on(
        "POST",
        &events_path(1),
        404,
        json!({"errors": [{"code": "NotFound", "title": "User not found"}]}),
    );
    host.on(
        "GET",
        "/api/v2/users/search?external_id=u1",
        200,
        json!({"users": [{"id": 2}]}),
    );
    accept_events(&host, 2);
    let outcome = run(
        &host,
        json!({}),
        json!({"type": "track", "userId": "u1", "event": "E"}),
    )
    .unwrap();
    assert_eq!(
        outcome
            .operations
            .iter()
            .map(|o| o.status)
            .collect::<Vec<_>>(),
        vec![404, 200, 202]
    );
    assert_eq!(host.cached("user:ext:u1").as_deref(), Some("2"));
}

#[test]
fn timeouts_and_errors_are_classified() {
    let host = FakeHost::new();
    host.on_error("POST", &events_path(5), FetchError::Timeout);
    let event = json!({"type": "track", "event": "E", "context": {"zendesk_user_id": "5"}});
    assert!(matches!(
        run(&host, json!({}), event.clone()),
        Err(Error::Retryable { .. })
    ));

    let host = FakeHost::new();
    host.on(
        "POST",
        &events_path(5),
        403,
        json!({"error": "Forbidden", "description": "Events API not enabled"}),
    );
    match run(&host, json!({}), event).unwrap_err() {
        Error::Rejected {
            status: 403,
            message,
        } => assert!(message.contains("plan") && message.contains("Events API not enabled")),
        other => panic!("expected Rejected, got {other:?}"),
    }
}
