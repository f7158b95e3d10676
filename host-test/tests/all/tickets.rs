//! Tickets end to end: "Ticket Created" / "Ticket Updated" track events (or the names set in the
//! config) create and update Zendesk tickets; replays never create a second ticket.

use crate::common::*;
use serde_json::{Value, json};

fn ticket_event(name: &str, message_id: &str, properties: Value, context: Value) -> Value {
    json!({"type": "track", "event": name, "userId": "u-1", "messageId": message_id,
           "properties": properties, "context": context})
}

fn seed_ann(s: &Scenario) -> u64 {
    s.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1"}),
    )
}

fn created_properties() -> Value {
    json!({"subject": "Refund please", "comment": "Order o-9 arrived broken",
           "tags": ["billing", "urgent"], "priority": "high",
           "custom_fields": {"360001": "gold"}})
}

#[test]
fn ticket_created_creates_a_ticket_with_every_mapped_field() {
    let s = Scenario::new();
    let ann = seed_ann(&s);
    let d = s.deliver(ticket_event(
        "Ticket Created",
        "msg-1",
        created_properties(),
        json!({}),
    ));
    assert_eq!(
        d.calls(),
        [
            "GET /api/v2/tickets?external_id=msg-1",
            "GET /api/v2/users/search?external_id=u-1",
            "POST /api/v2/tickets",
        ]
    );
    assert_eq!(d.statuses()[2], 201);
    assert_eq!(
        d.body("POST", "/api/v2/tickets"),
        &json!({"ticket": {
            "subject": "Refund please",
            "comment": {"body": "Order o-9 arrived broken", "public": true},
            "requester_id": ann, "tags": ["billing", "urgent"], "priority": "high",
            "external_id": "msg-1", "custom_fields": [{"id": 360001, "value": "gold"}]
        }})
    );
    let state = s.state();
    let tickets = state.all("tickets");
    assert_eq!(tickets.len(), 1);
    let ticket = tickets[0];
    assert_eq!(ticket["subject"], "Refund please");
    assert_eq!(ticket["requester_id"], ann);
    assert_eq!(ticket["tags"], json!(["billing", "urgent"]));
    assert_eq!(ticket["priority"], "high");
    assert_eq!(ticket["external_id"], "msg-1");
    assert_eq!(
        ticket["custom_fields"],
        json!([{"id": 360001, "value": "gold"}])
    );
}

#[test]
fn a_replayed_ticket_created_never_creates_a_second_ticket() {
    let s = Scenario::new();
    seed_ann(&s);
    let event = ticket_event("Ticket Created", "msg-1", created_properties(), json!({}));
    let second = s.run_twice(&[event]);
    assert_eq!(second[0].calls(), ["GET /api/v2/tickets?external_id=msg-1"]);
    // The outcome says why nothing was created.
    let skipped = second[0].outcome().skipped.clone();
    assert_mentions(skipped.as_deref().unwrap_or_default(), &["msg-1"]);
    assert_eq!(s.state().count("tickets"), 1);
}

#[test]
fn ticket_created_converges_after_any_single_request_fails() {
    let event = ticket_event("Ticket Created", "msg-1", created_properties(), json!({}));
    assert_retries_converge(
        json!({}),
        |s| {
            seed_ann(s);
        },
        &[event],
    );
}

#[test]
fn an_unknown_requester_is_sent_by_email_and_zendesk_creates_them() {
    let s = Scenario::new();
    let mut event = ticket_event(
        "Ticket Created",
        "msg-2",
        json!({"subject": "Hello", "body": "First contact", "tags": "lead"}),
        json!({"traits": {"name": "Nia", "email": "nia@example.com"}}),
    );
    event["userId"] = json!("u-unknown");
    let d = s.deliver(event);
    let ticket = &d.body("POST", "/api/v2/tickets")["ticket"];
    assert_eq!(
        ticket["requester"],
        json!({"email": "nia@example.com", "name": "Nia"})
    );
    assert_eq!(ticket["tags"], json!(["lead"]));
    assert_eq!(ticket["comment"]["body"], "First contact");
    let state = s.state();
    let nia = state.user_by_email("nia@example.com");
    assert_eq!(state.all("tickets")[0]["requester_id"], nia["id"]);
}

#[test]
fn ticket_updated_updates_the_ticket_and_appends_the_comment() {
    let s = Scenario::new();
    seed_ann(&s);
    s.deliver(ticket_event(
        "Ticket Created",
        "msg-1",
        created_properties(),
        json!({}),
    ));
    let ticket_id = id_of(&s.state().all("tickets")[0]["id"]);

    let d = s.deliver(ticket_event(
        "Ticket Updated",
        "msg-2",
        json!({"ticket_id": ticket_id.to_string(), "status": "solved", "comment": "Refund sent"}),
        json!({}),
    ));
    assert_eq!(d.calls(), [format!("PUT /api/v2/tickets/{ticket_id}")]);
    assert_eq!(
        d.body("PUT", "/api/v2/tickets/"),
        &json!({"ticket": {"status": "solved", "comment": {"body": "Refund sent", "public": true}}})
    );
    let state = s.state();
    let ticket = state.all("tickets")[0];
    assert_eq!(ticket["status"], "solved");
    let comments = ticket["comments"].to_string();
    assert!(
        comments.contains("Order o-9 arrived broken") && comments.contains("Refund sent"),
        "{comments}"
    );
}

#[test]
fn ticket_event_names_come_from_the_settings() {
    let s = Scenario::with_settings(json!({"ticketCreatedEvent": "Support Request",
                                           "ticketUpdatedEvent": "Support Reply"}));
    let ann = seed_ann(&s);
    s.deliver(ticket_event(
        "Support Request",
        "msg-1",
        created_properties(),
        json!({}),
    ));
    let ticket_id = id_of(&s.state().all("tickets")[0]["id"]);
    s.deliver(ticket_event(
        "Support Reply",
        "msg-2",
        json!({"id": ticket_id, "priority": "low"}),
        json!({}),
    ));
    assert_eq!(s.state().all("tickets")[0]["priority"], "low");

    // The default names are now ordinary track events.
    let d = s.deliver(ticket_event(
        "Ticket Created",
        "msg-3",
        created_properties(),
        json!({}),
    ));
    assert_eq!(d.calls(), [format!("POST /api/v2/users/{ann}/events")]);
    assert_eq!(s.state().count("tickets"), 1);
}

#[test]
fn missing_ticket_fields_are_invalid_events_naming_them() {
    let s = Scenario::new();
    seed_ann(&s);
    let d = s.send(ticket_event(
        "Ticket Created",
        "m",
        json!({"priority": "high"}),
        json!({}),
    ));
    assert_invalid_event(&d, &["subject", "comment"]);
    let d = s.send(ticket_event(
        "Ticket Created",
        "m",
        json!({"subject": "Hi"}),
        json!({}),
    ));
    assert_invalid_event(&d, &["comment"]);
    let d = s.send(ticket_event(
        "Ticket Updated",
        "m",
        json!({"status": "open"}),
        json!({}),
    ));
    assert_invalid_event(&d, &["ticket_id"]);
    let d = s.send(ticket_event(
        "Ticket Updated",
        "m",
        json!({"ticket_id": 1}),
        json!({}),
    ));
    assert_invalid_event(&d, &["change"]);
    let d = s.send(ticket_event(
        "Ticket Created",
        "m",
        json!({"subject": "Hi", "comment": "x", "custom_fields": {"plan": "gold"}}),
        json!({}),
    ));
    assert_invalid_event(&d, &["custom_fields"]);
}

#[test]
fn updating_an_unknown_ticket_is_rejected_with_zendesks_message() {
    let s = Scenario::new();
    let d = s.send(ticket_event(
        "Ticket Updated",
        "m",
        json!({"ticket_id": 999_999, "status": "open"}),
        json!({}),
    ));
    let (status, message) = rejected(&d);
    assert_eq!(status, 404);
    assert_mentions(&message, &["not found"]);
    assert_eq!(d.calls(), ["PUT /api/v2/tickets/999999"]);
}

#[test]
fn custom_fields_as_a_list_private_comment_and_an_explicit_external_id() {
    let s = Scenario::new();
    let ann = seed_ann(&s);
    let properties = json!({"subject": "Private", "description": "Internal note", "public": false,
        "external_id": "crm-77", "status": "pending", "type": "incident",
        "custom_fields": [{"id": 360002, "value": true}, {"id": "360003", "value": "x"}]});
    let d = s.deliver(ticket_event(
        "Ticket Created",
        "msg-9",
        properties.clone(),
        json!({"zendesk_user_id": ann}),
    ));
    assert_eq!(
        d.calls(),
        [
            "GET /api/v2/tickets?external_id=crm-77",
            "POST /api/v2/tickets"
        ]
    );
    let ticket = &d.body("POST", "/api/v2/tickets")["ticket"];
    assert_eq!(
        ticket["comment"],
        json!({"body": "Internal note", "public": false})
    );
    assert_eq!(ticket["requester_id"], ann);
    assert_eq!(ticket["external_id"], "crm-77");
    assert_eq!(
        ticket["custom_fields"],
        json!([{"id": 360002, "value": true}, {"id": 360003, "value": "x"}])
    );
    let state = s.state();
    let stored = state.all("tickets")[0];
    assert_eq!(
        (stored["status"].as_str(), stored["type"].as_str()),
        (Some("pending"), Some("incident"))
    );
    // Another message carrying the same external_id is the same ticket.
    let again = s.deliver(ticket_event(
        "Ticket Created",
        "msg-10",
        properties,
        json!({"zendesk_user_id": ann}),
    ));
    assert_eq!(again.calls(), ["GET /api/v2/tickets?external_id=crm-77"]);
    assert_eq!(s.state().count("tickets"), 1);
}
