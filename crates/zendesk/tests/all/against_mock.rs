//! The guest's business logic, natively, against the stateful mock Zendesk (no wasm): whole event
//! streams, their final state, and that replaying them changes nothing.

use crate::common::{MockHost, SUB};
use serde_json::{Value, json};

/// The parts of the state that must not grow on a replay.
fn counts(host: &MockHost) -> [usize; 6] {
    let state = host.mock.account(SUB);
    [
        state.users.len(),
        state.identities.len(),
        state.organizations.len(),
        state.memberships.len(),
        state.user_fields.len() + state.organization_fields.len(),
        state.tickets.len(),
    ]
}

fn stream() -> Vec<Value> {
    vec![
        json!({"type": "identify", "userId": "u-ann", "traits": {"firstName": "Ann", "lastName": "Lee",
            "email": "ann+vip@x.com", "planName": "pro", "seats": 5, "trial": true, "id": "ignored"}}),
        json!({"type": "identify", "userId": "u-bob", "traits": {"name": "Bob", "email": "bob@x.com",
            "plan_name": "basic", "Seats": 1}}),
        // A group before the user's identify: the user is created from context.traits.
        json!({"type": "group", "userId": "u-cy", "groupId": "g-1", "traits": {"name": "Acme Inc",
            "domainNames": "acme.com", "tags": ["gold"], "industryType": "retail"},
            "context": {"traits": {"name": "Cy", "email": "cy@x.com"}}}),
        json!({"type": "group", "userId": "u-ann", "groupId": "g-1", "traits": {"name": "Acme Inc"},
            "context": {"traits": {"email": "ann+vip@x.com"}}}),
        // No groupId: the organization is matched by exact name.
        json!({"type": "group", "userId": "u-bob", "traits": {"name": "Initech"},
            "context": {"traits": {"email": "bob@x.com"}}}),
        json!({"type": "track", "userId": "u-ann", "event": "Order Completed",
            "properties": {"revenue": 77}, "timestamp": "2024-05-01T10:00:00Z"}),
        json!({"type": "track", "userId": "u-bob", "event": "Ticket Created", "messageId": "m-1",
            "properties": {"subject": "Broken", "comment": "It broke", "tags": "urgent"}}),
    ]
}

#[test]
fn a_stream_lands_exactly_and_replaying_it_changes_nothing() {
    let host = MockHost::new();
    let config = json!({"createUsersAsVerified": true});
    for event in stream() {
        host.send(&config, event);
    }
    let state = host.mock.account(SUB);
    let ann = state.user_by_external_id("u-ann").expect("ann");
    assert_eq!(ann.name, "Ann Lee");
    assert_eq!(ann.email.as_deref(), Some("ann+vip@x.com"));
    assert_eq!(
        Value::Object(ann.user_fields.clone()),
        json!({"plan_name": "pro", "seats": 5, "trial": true})
    );
    assert!(ann.verified);
    let bob = state.user_by_external_id("u-bob").expect("bob");
    assert_eq!(
        Value::Object(bob.user_fields.clone()),
        json!({"plan_name": "basic", "seats": 1})
    );
    let cy = state
        .user_by_external_id("u-cy")
        .expect("cy created by the group");
    assert_eq!(
        (cy.name.as_str(), cy.email.as_deref()),
        ("Cy", Some("cy@x.com"))
    );

    let acme = state.organization_by_external_id("g-1").expect("acme");
    assert_eq!(acme.domain_names, vec!["acme.com"]);
    assert_eq!(
        Value::Object(acme.organization_fields.clone()),
        json!({"industry_type": "retail"})
    );
    let initech = state.organization_by_name("Initech").expect("initech");
    assert_eq!(state.organization_ids_of(ann.id), vec![acme.id]);
    assert_eq!(state.organization_ids_of(cy.id), vec![acme.id]);
    assert_eq!(state.organization_ids_of(bob.id), vec![initech.id]);

    let events = state.events_of(ann.id);
    assert_eq!(events.len(), 1);
    let ticket = &state.tickets_by_external_id("m-1");
    assert_eq!(ticket.len(), 1);

    // Replays, with the cache kept and with the cache lost: no duplicate anything.
    let before = counts(&host);
    let replay: Vec<Value> = stream()
        .into_iter()
        .filter(|e| e["type"] != "track" || e["event"] != "Order Completed")
        .collect();
    for event in replay.clone() {
        host.send(&config, event);
    }
    host.cache.borrow_mut().clear();
    for event in replay {
        host.send(&config, event);
    }
    assert_eq!(counts(&host), before);
}

#[test]
fn known_users_and_fields_cost_one_call_per_identify_and_track() {
    let host = MockHost::new();
    let config = json!({});
    for event in stream() {
        host.send(&config, event);
    }
    let identify = host.send(
        &config,
        json!({"type": "identify", "userId": "u-ann",
        "traits": {"name": "Ann Lee", "planName": "max"}}),
    );
    assert_eq!(identify.operations.len(), 1);
    let track = host.send(
        &config,
        json!({"type": "track", "userId": "u-ann", "event": "Seen"}),
    );
    assert_eq!(track.operations.len(), 1);
    // A known member of an organization written with the same payload a moment ago: no call.
    let group = json!({"type": "group", "userId": "u-ann", "groupId": "g-1",
        "traits": {"name": "Acme Inc"}});
    assert_eq!(host.send(&config, group.clone()).operations, vec![]);
    // Without the unchanged window the organization is written; the membership is still known.
    let outcome = host.send(&json!({"skipUnchangedWithinSeconds": 0}), group);
    let calls: Vec<_> = outcome
        .operations
        .iter()
        .map(|o| (o.path.as_str(), o.status))
        .collect();
    assert_eq!(calls, vec![("/api/v2/organizations/create_or_update", 200)]);
}

#[test]
fn removal_looks_through_every_page_of_memberships() {
    let host = MockHost::new();
    let user = host.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@x.com", "external_id": "u-1"}),
    );
    let orgs: Vec<u64> = (0..120)
        .map(|i| {
            host.mock
                .seed_organization(SUB, json!({"name": format!("Org {i:03}")}))
        })
        .collect();
    for org in &orgs {
        host.mock.seed_membership(SUB, user, *org);
    }
    let last = orgs[119];
    let outcome = host.send(&json!({"removeUsersFromOrganization": true}), json!({"type": "identify",
        "userId": "u-1", "traits": {"name": "Ann", "company": {"id": last.to_string(), "remove": true}}}));
    assert_eq!(
        outcome
            .operations
            .last()
            .map(|o| (o.method.as_str(), o.status)),
        Some(("DELETE", 204))
    );
    let state = host.mock.account(SUB);
    assert_eq!(state.memberships_of(user).len(), 119);
    assert!(state.membership(user, last).is_none());
}

#[test]
fn primary_email_keeps_the_old_address_as_secondary() {
    let host = MockHost::new();
    let user = host.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "old@x.com", "external_id": "u-1"}),
    );
    let event = json!({"type": "identify", "userId": "u-1", "traits": {"name": "Ann", "email": "new@x.com"}});
    host.send(&json!({"updatePrimaryEmail": true}), event.clone());
    let state = host.mock.account(SUB);
    assert_eq!(
        state.user(user).and_then(|u| u.email.as_deref()),
        Some("new@x.com")
    );
    let mut emails = state.emails_of(user);
    emails.sort();
    assert_eq!(emails, vec!["new@x.com", "old@x.com"]);
    // The same identify again: skipped within the default unchanged window, else one call.
    let again = host.send(&json!({"updatePrimaryEmail": true}), event.clone());
    assert!(again.operations.is_empty());
    let config = json!({"updatePrimaryEmail": true, "skipUnchangedWithinSeconds": 0});
    assert_eq!(host.send(&config, event).operations.len(), 1);
}
