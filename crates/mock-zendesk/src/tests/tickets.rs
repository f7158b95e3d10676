use serde_json::json;

use super::{SUB, expect};
use crate::MockZendesk;

#[test]
fn a_ticket_with_a_requester_email_creates_the_requester() {
    let mock = MockZendesk::new();
    let created = expect(
        &mock,
        "POST",
        "/api/v2/tickets.json",
        Some(
            json!({"ticket": {"subject": "Help", "comment": {"body": "It broke", "public": false},
            "requester": {"email": "new.person@x.com"}, "tags": ["cdp"], "priority": "high",
            "external_id": "msg-1", "custom_fields": [{"id": 42, "value": "v"}]}}),
        ),
        201,
    );
    let ticket = &created["ticket"];
    assert_eq!(ticket["id"], 1);
    assert_eq!(ticket["status"], "new");
    assert_eq!(ticket["description"], "It broke");
    let state = mock.account(SUB);
    let requester = state.user_by_email("new.person@x.com").cloned();
    assert_eq!(
        requester.as_ref().map(|u| u.name.as_str()),
        Some("new.person")
    );
    assert_eq!(ticket["requester_id"], requester.map(|u| u.id).unwrap_or(0));
    let stored = &state.tickets[0];
    assert_eq!(stored.tags, vec!["cdp"]);
    assert_eq!(
        (stored.comments.len(), stored.comments[0].public),
        (1, false)
    );
    assert_eq!(stored.custom_fields[0].id, 42);

    // A known email reuses the user.
    let again = json!({"ticket": {"subject": "Again", "comment": {"body": "x"}, "requester": {"email": "NEW.person@x.com", "name": "N"}}});
    expect(&mock, "POST", "/api/v2/tickets", Some(again), 201);
    assert_eq!(mock.account(SUB).users.len(), 1);
}

#[test]
fn ticket_validation_errors_change_nothing() {
    let mock = MockZendesk::new();
    let user = mock.seed_user(SUB, json!({"name": "Ann"}));
    let no_comment = json!({"ticket": {"subject": "S", "requester_id": user}});
    let blank = expect(&mock, "POST", "/api/v2/tickets", Some(no_comment), 422);
    assert_eq!(blank["details"]["description"][0]["error"], "BlankValue");
    let unknown = json!({"ticket": {"subject": "S", "comment": {"body": "b"}, "requester_id": 1}});
    expect(&mock, "POST", "/api/v2/tickets", Some(unknown), 422);
    let bad_priority =
        json!({"ticket": {"comment": {"body": "b"}, "requester_id": user, "priority": "asap"}});
    expect(&mock, "POST", "/api/v2/tickets", Some(bad_priority), 422);
    assert!(mock.account(SUB).tickets.is_empty());
}

#[test]
fn tickets_update_append_comments_and_are_found_by_external_id() {
    let mock = MockZendesk::new();
    let user = mock.seed_user(SUB, json!({"name": "Ann"}));
    let body = json!({"ticket": {"subject": "S", "comment": {"body": "first"}, "requester_id": user, "external_id": "e-1"}});
    let id = expect(&mock, "POST", "/api/v2/tickets", Some(body), 201)["ticket"]["id"]
        .as_u64()
        .unwrap_or(0);
    let update = json!({"ticket": {"status": "solved", "comment": {"body": "second"}, "custom_fields": [{"id": 7, "value": 1}]}});
    let updated = expect(
        &mock,
        "PUT",
        &format!("/api/v2/tickets/{id}.json"),
        Some(update),
        200,
    );
    assert_eq!(updated["ticket"]["status"], "solved");
    expect(
        &mock,
        "PUT",
        "/api/v2/tickets/999",
        Some(json!({"ticket": {"status": "open"}})),
        404,
    );

    let found = expect(
        &mock,
        "GET",
        "/api/v2/tickets.json?external_id=e-1",
        None,
        200,
    );
    assert_eq!(found["tickets"][0]["id"], id);
    assert_eq!(found["count"], 1);
    let none = expect(&mock, "GET", "/api/v2/tickets?external_id=e-2", None, 200);
    assert_eq!(none["count"], 0);
    let shown = expect(&mock, "GET", &format!("/api/v2/tickets/{id}"), None, 200);
    assert_eq!(shown["ticket"]["description"], "first");

    let state = mock.account(SUB);
    let ticket = state.ticket(id).cloned();
    let comments: Vec<String> = ticket
        .iter()
        .flat_map(|t| t.comments.iter().map(|c| c.body.clone()))
        .collect();
    assert_eq!(comments, vec!["first", "second"]);
    assert_eq!(ticket.map(|t| t.custom_fields.len()), Some(1));
}
