//! API economy: the exact number of Zendesk calls per event on the common paths. Every call costs
//! rate limit (200-2,500 requests/minute per account, 5/minute per user for create_or_update), so
//! a regression here is a bug even when the final state is right.

use crate::common::*;
use serde_json::{Value, json};

fn identify(traits: Value) -> Value {
    json!({"type": "identify", "userId": "u-1", "traits": traits})
}

fn track(name: &str, properties: Value) -> Value {
    json!({"type": "track", "userId": "u-1", "event": name, "properties": properties,
           "messageId": format!("m-{name}")})
}

/// A tenant that has already identified u-1 (with a custom field) and grouped it into g-1, so
/// the user id, the org and the field definitions are known (cached).
fn warm() -> Scenario {
    let s = Scenario::new();
    s.deliver(identify(
        json!({"name": "Ann", "email": "ann@example.com", "plan": "pro"}),
    ));
    s.deliver(json!({"type": "group", "userId": "u-1", "groupId": "g-1",
                     "traits": {"name": "Acme", "tier": "gold"}}));
    s
}

/// Runs `event` and asserts it made exactly `expected` calls; prints the calls on failure.
fn assert_calls(s: &Scenario, what: &str, event: Value, expected: usize) -> Delivery {
    let d = s.deliver(event);
    assert_eq!(d.requests.len(), expected, "{what}: {:#?}", d.calls());
    d
}

#[test]
fn identify_with_known_fields_is_one_call() {
    let s = warm();
    assert_calls(
        &s,
        "identify",
        identify(json!({"name": "Ann", "email": "ann@example.com", "plan": "team"})),
        1,
    );
}

#[test]
fn a_cold_identify_lists_fields_once_then_upserts() {
    let s = Scenario::new();
    s.mock.seed_user_field(SUB, "plan", "text");
    assert_calls(
        &s,
        "cold identify",
        identify(json!({"name": "Ann", "email": "a@example.com", "plan": "pro"})),
        2,
    );
    // Without custom traits there is nothing to look up.
    let fresh = Scenario::new();
    assert_calls(
        &fresh,
        "identify without custom traits",
        identify(json!({"name": "Ann", "email": "a@example.com"})),
        1,
    );
}

#[test]
fn identify_with_a_company_is_two_calls_and_already_primary_adds_nothing() {
    let s = Scenario::with_settings(json!({"updatePrimaryEmail": true}));
    let org = s.mock.seed_organization(SUB, json!({"name": "Acme"}));
    s.deliver(identify(json!({"name": "Ann", "email": "ann@example.com"})));
    assert_calls(
        &s,
        "identify + company",
        identify(json!({"name": "Ann", "email": "ann@example.com", "company": {"id": org}})),
        2,
    );
    assert_calls(
        &s,
        "identify, email already primary",
        identify(json!({"name": "Ann", "email": "ann@example.com"})),
        1,
    );
}

#[test]
fn group_with_a_known_user_is_two_calls() {
    let s = warm();
    let d = assert_calls(
        &s,
        "group",
        json!({"type": "group", "userId": "u-1", "groupId": "g-2",
        "traits": {"name": "Globex", "tier": "silver"}}),
        2,
    );
    assert_eq!(
        d.calls(),
        [
            "POST /api/v2/organizations/create_or_update",
            "POST /api/v2/organization_memberships"
        ]
    );
}

#[test]
fn group_without_user_id_is_one_call() {
    let s = Scenario::with_settings(json!({"sendGroupCallsWithoutUserId": true}));
    assert_calls(
        &s,
        "group without userId",
        json!({"type": "group", "groupId": "g-1", "traits": {"name": "Acme"}}),
        1,
    );
}

#[test]
fn track_with_a_known_user_is_one_call() {
    let s = warm();
    assert_calls(
        &s,
        "track (cached user)",
        track("Viewed Plan", json!({})),
        1,
    );
    let direct = Scenario::new();
    let ann = direct
        .mock
        .seed_user(SUB, json!({"name": "Ann", "email": "ann@example.com"}));
    let event = json!({"type": "track", "event": "X", "context": {"zendesk_user_id": ann}});
    assert_calls(&direct, "track (zendesk_user_id)", event, 1);
}

#[test]
fn a_cold_track_is_a_lookup_plus_the_event() {
    let s = Scenario::new();
    s.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1"}),
    );
    assert_calls(&s, "cold track", track("Viewed Plan", json!({})), 2);
}

#[test]
fn skipped_track_is_zero_calls() {
    let s = Scenario::with_settings(json!({"events": ["Allowed"]}));
    assert_calls(&s, "skipped track", track("Not Allowed", json!({})), 0);
}

#[test]
fn tickets_with_a_known_user_are_two_calls_to_create_and_one_to_update() {
    let s = warm();
    assert_calls(
        &s,
        "ticket created",
        track(
            "Ticket Created",
            json!({"subject": "Hi", "comment": "Help"}),
        ),
        2,
    );
    let ticket_id = id_of(&s.state().all("tickets")[0]["id"]);
    assert_calls(
        &s,
        "ticket updated",
        track(
            "Ticket Updated",
            json!({"ticket_id": ticket_id, "status": "open"}),
        ),
        1,
    );
}

#[test]
fn a_new_user_whose_primary_email_trait_is_its_email_needs_no_identity_calls() {
    let s = Scenario::new();
    let event = identify(
        json!({"name": "Ann", "email": "ann@example.com", "primaryEmail": "ann@example.com"}),
    );
    assert_calls(&s, "new user, primaryEmail = email", event, 1);
}

/// A stream touching every flow (fields, memberships with pagination, primary email, '+' in an
/// email, tickets) as a list of events, for comparing transports.
fn mixed_stream() -> Vec<Value> {
    vec![
        json!({"type": "identify", "userId": "u-1",
               "traits": {"name": "Ann", "email": "ann+vip@example.com", "planName": "pro"}}),
        json!({"type": "group", "userId": "u-1", "groupId": "g-1",
               "traits": {"name": "Acme & Sons", "tags": ["b2b"], "seats": 4}}),
        json!({"type": "group", "userId": "u-2", "traits": {"name": "Globex Ö"},
               "context": {"traits": {"name": "Bob", "email": "bob@example.com"}}}),
        json!({"type": "identify", "userId": "u-1",
               "traits": {"name": "Ann", "email": "ann@example.com", "primaryEmail": "ann@example.com"}}),
        json!({"type": "track", "event": "Viewed Plan", "properties": {"email": "bob@example.com"}}),
        json!({"type": "track", "userId": "u-1", "event": "Ticket Created", "messageId": "m 1/2",
               "properties": {"subject": "Hi", "comment": "Help"}}),
    ]
}

#[test]
fn real_http_makes_exactly_the_same_calls_as_in_process() {
    let in_process = Scenario::new();
    let over_http = Scenario::over_http(json!({}));
    for event in mixed_stream() {
        let expected = in_process.deliver(event.clone());
        let actual = over_http.deliver(event);
        let line = |d: &Delivery| -> Vec<(String, String, Option<Value>, u16)> {
            d.requests
                .iter()
                .map(|r| (r.method.clone(), r.path.clone(), r.body.clone(), r.status))
                .collect()
        };
        assert_eq!(line(&actual), line(&expected));
    }
    in_process
        .state()
        .assert_same_entities(&over_http.state(), "over HTTP vs in-process");
}

#[test]
fn lookalike_emails_do_not_multiply_the_calls_of_a_new_user() {
    // Zendesk's search is fuzzy: "ann@example.com" also finds joann@, marieann@, ... Resolving a
    // NEW user whose name and email are known must not read every lookalike's identities:
    // create_or_update itself matches any email identity, so it settles the question in one call.
    let s = Scenario::new();
    for i in 0..20 {
        s.mock.seed_user(
            SUB,
            json!({"name": format!("Lookalike {i}"), "email": format!("jo{i}ann@example.com")}),
        );
    }
    let event = json!({"type": "track", "userId": "u-ann", "event": "Signed Up",
        "context": {"traits": {"name": "Ann", "email": "ann@example.com"}}});
    let d = s.deliver(event);
    let state = s.state();
    let ann = state.user_by_external_id("u-ann");
    // Two exact lookups, whatever the 20 lookalikes: no identity reads.
    assert_eq!(
        d.calls(),
        [
            "GET /api/v2/users/search?external_id=u-ann".to_string(),
            "GET /api/v2/users/search?query=email%3A%22ann%40example.com%22".to_string(),
            "POST /api/v2/users/create_or_update".to_string(),
            format!("POST /api/v2/users/{}/events", id_of(&ann["id"])),
        ]
    );
    assert_eq!(state.events_of(id_of(&ann["id"])).len(), 1);
}

#[test]
fn a_user_found_by_email_is_remembered_under_the_user_id_too() {
    // A Zendesk user who wrote to support (no external id) is tracked by the CDP with a userId.
    let s = Scenario::new();
    s.mock
        .seed_user(SUB, json!({"name": "Bob", "email": "bob@example.com"}));
    let event = json!({"type": "track", "userId": "u-bob", "event": "Viewed Plan",
        "context": {"traits": {"email": "bob@example.com"}}});
    assert_calls(&s, "first track: lookups + event", event.clone(), 3);
    assert_calls(&s, "second track: the event only", event, 1);
}

#[test]
fn with_skip_unchanged_a_repeated_identify_or_group_is_zero_calls() {
    let s = Scenario::with_settings(json!({"skipUnchangedWithinSeconds": 600}));
    let ann = identify(
        json!({"name": "Ann", "email": "ann@example.com", "plan": "pro",
                              "company": {"id": s.mock.seed_organization(SUB, json!({"name": "Acme"}))}}),
    );
    let group = json!({"type": "group", "userId": "u-1", "groupId": "g-1",
                       "traits": {"name": "Initech", "tier": "gold"}});
    s.deliver(ann.clone());
    s.deliver(group.clone());
    let before = s.state();

    // The same content again (a new messageId and timestamp do not make it new): no call.
    let mut again = ann.clone();
    again["messageId"] = json!("m-2");
    again["timestamp"] = json!("2026-11-21T10:00:00Z");
    let skipped = assert_calls(&s, "repeated identify", again, 0);
    let reason = skipped.outcome().skipped.clone().unwrap_or_default();
    assert!(reason.contains("unchanged"), "{reason}");
    assert_calls(&s, "repeated group", group, 0);
    before.assert_same_entities(&s.state(), "after the skipped repeats");

    // A changed trait is written (200: an update of the same user).
    let changed = identify(json!({"name": "Ann", "email": "ann@example.com", "plan": "team"}));
    let d = assert_calls(&s, "changed identify", changed, 1);
    assert_eq!(d.statuses(), vec![200]);
    assert_eq!(
        s.state().user_by_external_id("u-1")["user_fields"]["plan"],
        json!("team")
    );
}

#[test]
fn by_default_a_known_member_of_an_unchanged_organization_costs_nothing() {
    // The default config: no `skipUnchangedWithinSeconds`, so the 60 s window applies.
    let mut config = config_with(json!({}));
    config
        .as_object_mut()
        .unwrap()
        .remove("skipUnchangedWithinSeconds");
    let s = Scenario::with_config(config);
    let group = |user: &str, tier: &str| {
        json!({"type": "group", "userId": user, "groupId": "g-1",
               "traits": {"name": "Acme", "tier": tier}})
    };
    s.deliver(identify(json!({"name": "Ann", "email": "ann@example.com"})));
    s.deliver(json!({"type": "identify", "userId": "u-2",
                     "traits": {"name": "Bob", "email": "bob@example.com"}}));
    s.deliver(group("u-1", "gold"));
    // Another user's group with the same organization payload: only the new membership.
    let d = assert_calls(&s, "same org, new member", group("u-2", "gold"), 1);
    assert_eq!(d.calls(), ["POST /api/v2/organization_memberships"]);
    // The organization changed, the member is known: only the upsert.
    let d = assert_calls(&s, "changed org, known member", group("u-2", "platinum"), 1);
    assert_eq!(d.calls(), ["POST /api/v2/organizations/create_or_update"]);
    // The same identify again within the window: skipped.
    let repeat = assert_calls(
        &s,
        "repeated identify",
        identify(json!({"name": "Ann", "email": "ann@example.com"})),
        0,
    );
    assert!(repeat.outcome().skipped.is_some());
    let state = s.state();
    assert_eq!(
        state.org_by_external_id("g-1")["organization_fields"]["tier"],
        "platinum"
    );
    let org = id_of(&state.org_by_external_id("g-1")["id"]);
    for user in ["u-1", "u-2"] {
        let id = id_of(&state.user_by_external_id(user)["id"]);
        assert_eq!(state.org_ids_of(id), [org], "{user}");
    }
}

#[test]
fn skip_unchanged_remembers_only_events_that_fully_succeeded() {
    let s = Scenario::with_settings(json!({"skipUnchangedWithinSeconds": 600}));
    // Organization 42 does not exist: the membership is rejected after the user was written.
    let event = identify(json!({"name": "Ann", "email": "ann@example.com", "company": {"id": 42}}));
    assert_eq!(rejected(&s.send(event.clone())).0, 422);
    // Not remembered as delivered: the same event is tried again (and fails again).
    let again = s.send(event);
    assert_eq!(rejected(&again).0, 422);
    assert!(!again.calls().is_empty());
}
