use crate::testing::{FakeHost, config_json};
use crate::{Error, Outcome, transform};
use serde_json::{Value, json};

fn run(host: &FakeHost, config: Value, event: Value) -> Result<Outcome, Error> {
    transform(host, &config_json(config), &event.to_string())
}

const LOOKUP: &str = "/api/v2/tickets?external_id=msg-1";

#[test]
fn creates_a_ticket_once_per_external_id() {
    let host = FakeHost::new();
    host.put_cache("user:ext:u1", "42");
    host.on("GET", LOOKUP, 200, json!({"tickets": []}));
    host.on("POST", "/api/v2/tickets", 201, json!({"ticket": {"id": 1}}));
    host.on("GET", LOOKUP, 200, json!({"tickets": [{"id": 1}]}));
    let event = json!({"type": "track", "userId": "u1", "event": "Ticket Created", "messageId": "msg-1",
        "properties": {"subject": "Help", "comment": "It broke", "tags": "vip", "priority": "high",
            "status": "open", "type": "problem", "public": false, "custom_fields": {"360001": "gold"}}});
    let outcome = run(&host, json!({"events": ["Other"]}), event.clone()).unwrap();
    assert_eq!(outcome.skipped, None);
    assert_eq!(
        host.calls(),
        vec![format!("GET {LOOKUP}"), "POST /api/v2/tickets".into()]
    );
    assert_eq!(
        host.body(1),
        json!({"ticket": {"subject": "Help", "comment": {"body": "It broke", "public": false},
        "tags": ["vip"], "priority": "high", "status": "open", "type": "problem", "external_id": "msg-1",
        "custom_fields": [{"id": 360001, "value": "gold"}], "requester_id": 42}})
    );

    // The retry of the same event finds the ticket and does not open another.
    let outcome = run(&host, json!({}), event).unwrap();
    assert_eq!(
        outcome.skipped.as_deref(),
        Some("ticket #1 with external_id `msg-1` already exists: not created again")
    );
    assert_eq!(host.calls().len(), 3);
}

#[test]
fn unknown_requester_with_an_email_is_matched_by_zendesk() {
    let host = FakeHost::new();
    host.finds_no_users("/api/v2/users/search?external_id=u9");
    host.on("POST", "/api/v2/tickets", 201, json!({"ticket": {"id": 2}}));
    run(&host, json!({"ticketCreatedEvent": "Support Requested"}), json!({"type": "track", "userId": "u9",
        "event": "Support Requested", "properties": {"subject": "S", "description": "D", "external_id": "",
        "custom_fields": [{"id": "7", "value": true}]},
        "context": {"traits": {"email": "zed@x.com", "name": "Zed"}}})).unwrap();
    assert_eq!(
        host.body_of("POST /api/v2/tickets"),
        json!({"ticket": {"subject": "S",
        "comment": {"body": "D", "public": true}, "custom_fields": [{"id": 7, "value": true}],
        "requester": {"email": "zed@x.com", "name": "Zed"}}})
    );
}

#[test]
fn missing_fields_are_named() {
    let host = FakeHost::new();
    let error = run(
        &host,
        json!({}),
        json!({"type": "track", "userId": "u", "event": "Ticket Created",
        "properties": {}}),
    )
    .unwrap_err();
    assert_eq!(error, Error::InvalidEvent(
        "`Ticket Created` needs properties.subject and properties.comment (or body / description)".into()));
    let error = run(
        &host,
        json!({}),
        json!({"type": "track", "userId": "u", "event": "Ticket Created",
        "properties": {"subject": "S", "body": "B", "custom_fields": {"abc": 1}}}),
    )
    .unwrap_err();
    assert!(matches!(error, Error::InvalidEvent(m) if m.contains("custom_fields")));
    let error = run(
        &host,
        json!({}),
        json!({"type": "track", "userId": "u", "event": "Ticket Updated",
        "properties": {"status": "solved"}}),
    )
    .unwrap_err();
    assert!(matches!(error, Error::InvalidEvent(m) if m.contains("ticket_id")));
    let error = run(
        &host,
        json!({}),
        json!({"type": "track", "userId": "u", "event": "Ticket Updated",
        "properties": {"ticketId": "12"}}),
    )
    .unwrap_err();
    assert!(matches!(error, Error::InvalidEvent(m) if m.contains("changes nothing")));
    assert!(host.requests().is_empty());
}

#[test]
fn updates_a_ticket() {
    let host = FakeHost::new();
    host.on(
        "PUT",
        "/api/v2/tickets/12",
        200,
        json!({"ticket": {"id": 12}}),
    );
    run(&host, json!({}), json!({"type": "track", "userId": "u", "event": "Ticket Updated",
        "properties": {"ticketId": "12", "status": "solved", "tags": ["a", "b"], "comment": "Done", "public": false}})).unwrap();
    assert_eq!(
        host.body(0),
        json!({"ticket": {"status": "solved", "tags": ["a", "b"],
        "comment": {"body": "Done", "public": false}}})
    );

    let host = FakeHost::new();
    host.on(
        "PUT",
        "/api/v2/tickets/13",
        404,
        json!({"error": "RecordNotFound", "description": "Not found"}),
    );
    match run(
        &host,
        json!({}),
        json!({"type": "track", "event": "Ticket Updated",
        "properties": {"ticket_id": 13, "subject": "New"}}),
    )
    .unwrap_err()
    {
        Error::Rejected {
            status: 404,
            message,
        } => assert!(message.contains("RecordNotFound: Not found")),
        other => panic!("expected Rejected, got {other:?}"),
    }
}
