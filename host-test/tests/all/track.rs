//! track end to end: user resolution (zendesk_user_id, external_id, exact email, create), the exact
//! event body, the constant profile type under Zendesk's 20-profile cap, the events allow-list.

use crate::common::*;
use serde_json::{Value, json};

fn track(user_id: Option<&str>, name: &str, properties: Value, context: Value) -> Value {
    let mut event =
        json!({"type": "track", "event": name, "properties": properties, "context": context});
    if let Some(user_id) = user_id {
        event["userId"] = json!(user_id);
    }
    event
}

fn seed_ann(s: &Scenario) -> u64 {
    s.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1"}),
    )
}

#[test]
fn zendesk_user_id_is_used_directly_with_the_exact_event_body() {
    let s = Scenario::with_settings(json!({"sourceName": "shop"}));
    let ann = seed_ann(&s);
    let mut event = track(
        Some("u-1"),
        "Order Completed",
        json!({"order_id": "o-9", "total": 42.5, "description": "Two books"}),
        json!({"zendesk_user_id": ann, "traits": {"email": "ann@example.com"}}),
    );
    event["timestamp"] = json!("2024-05-01T10:00:00Z");
    let d = s.deliver(event);
    assert_eq!(d.calls(), [format!("POST /api/v2/users/{ann}/events")]);
    assert_eq!(d.statuses(), [202]);
    assert_eq!(
        d.body("POST", &format!("/api/v2/users/{ann}/events")),
        &json!({
            "profile": {"source": "shop", "type": "user", "identifiers": [
                {"type": "external_id", "value": "u-1"},
                {"type": "email", "value": "ann@example.com"}
            ]},
            "event": {"source": "shop", "type": "Order Completed", "description": "Two books",
                      "properties": {"order_id": "o-9", "total": 42.5, "description": "Two books"},
                      "created_at": "2024-05-01T10:00:00Z"}
        })
    );
    let state = s.state();
    let events = state.events_of(ann);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"]["type"], "Order Completed");
}

#[test]
fn description_defaults_to_the_event_name_and_source_to_rudder_as_in_rudderstack() {
    let s = Scenario::new();
    let ann = seed_ann(&s);
    let d = s.deliver(track(
        Some("u-1"),
        "Signed Up",
        json!({}),
        json!({"zendesk_user_id": ann.to_string()}),
    ));
    let body = d.body("POST", &format!("/api/v2/users/{ann}/events"));
    assert_eq!(body["event"]["description"], "Signed Up");
    assert_eq!(body["event"]["source"], "Rudder");
    assert_eq!(body["profile"]["source"], "Rudder");
    assert_eq!(body["event"]["properties"], json!({}));
    assert!(
        body["event"].get("created_at").is_none(),
        "no timestamp, no created_at: {body}"
    );
}

#[test]
fn the_user_is_found_by_external_id_then_remembered() {
    let s = Scenario::new();
    let ann = seed_ann(&s);
    let first = s.deliver(track(
        Some("u-1"),
        "Viewed Plan",
        json!({"plan": "pro"}),
        json!({}),
    ));
    assert_eq!(
        first.calls(),
        [
            "GET /api/v2/users/search?external_id=u-1".to_string(),
            format!("POST /api/v2/users/{ann}/events")
        ]
    );
    let second = s.deliver(track(
        Some("u-1"),
        "Viewed Plan",
        json!({"plan": "team"}),
        json!({}),
    ));
    assert_eq!(second.calls(), [format!("POST /api/v2/users/{ann}/events")]);
    assert_eq!(s.state().events_of(ann).len(), 2);
}

#[test]
fn the_user_is_found_by_exact_email_never_by_the_first_fuzzy_hit() {
    let s = Scenario::new();
    // The fuzzy search for "bob@x.com" returns jimbob first.
    let jimbob = s
        .mock
        .seed_user(SUB, json!({"name": "Jim Bob", "email": "jimbob@x.com"}));
    let bob = s
        .mock
        .seed_user(SUB, json!({"name": "Bob", "email": "bob@x.com"}));
    let d = s.deliver(track(
        Some("u-bob"),
        "Logged In",
        json!({}),
        json!({"traits": {"email": "bob@x.com"}}),
    ));
    let calls = d.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[0], "GET /api/v2/users/search?external_id=u-bob");
    assert!(
        calls[1].starts_with("GET /api/v2/users/search?query="),
        "{calls:?}"
    );
    assert_eq!(calls[2], format!("POST /api/v2/users/{bob}/events"));
    let state = s.state();
    assert_eq!(state.events_of(bob).len(), 1);
    assert!(state.events_of(jimbob).is_empty());
    assert_eq!(state.count("users"), 2);
}

#[test]
fn an_email_with_a_plus_is_url_encoded() {
    let s = Scenario::new();
    let ann = s
        .mock
        .seed_user(SUB, json!({"name": "Ann", "email": "ann+news@x.com"}));
    let d = s.deliver(track(
        None,
        "Opened Newsletter",
        json!({"email": "ann+news@x.com"}),
        json!({}),
    ));
    let search = &d.requests[0].path;
    assert!(
        search.starts_with("/api/v2/users/search?query="),
        "{:?}",
        d.calls()
    );
    assert_eq!(
        query_param(search, "query").as_deref(),
        Some(r#"email:"ann+news@x.com""#)
    );
    assert!(
        !search.contains('+') && search.contains("%2B"),
        "'+' must be encoded: {search}"
    );
    assert_eq!(s.state().events_of(ann).len(), 1);
    assert_eq!(s.state().count("users"), 1);
}

#[test]
fn an_unknown_user_is_created_when_name_and_email_are_known() {
    let s = Scenario::new();
    let d = s.deliver(track(
        Some("u-new"),
        "Trial Started",
        json!({}),
        json!({"traits": {"name": "Nia", "email": "nia@example.com"}}),
    ));
    let calls = d.calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(calls[2], "POST /api/v2/users/create_or_update");
    assert_eq!(d.statuses()[2], 201);
    let state = s.state();
    let nia = state.user_by_external_id("u-new");
    assert_eq!(nia["name"], "Nia");
    assert_eq!(state.user_by_email("nia@example.com")["id"], nia["id"]);
    assert_eq!(calls[3], format!("POST /api/v2/users/{}/events", nia["id"]));
    assert_eq!(state.events_of(id_of(&nia["id"])).len(), 1);
}

#[test]
fn an_unknown_user_without_a_name_is_retryable_later_and_nothing_is_created() {
    let s = Scenario::new();
    let d = s.send(track(
        Some("u-late"),
        "Trial Started",
        json!({}),
        json!({"traits": {"email": "late@example.com"}}),
    ));
    assert_eq!(retryable(&d), Some(60));
    assert!(
        d.calls().iter().all(|c| c.starts_with("GET")),
        "{:?}",
        d.calls()
    );
    assert_eq!(s.state().count("users"), 0);
    // Once the identify has arrived, the same event goes through.
    s.deliver(json!({"type": "identify", "userId": "u-late", "traits": {"name": "Lee", "email": "late@example.com"}}));
    s.deliver(track(
        Some("u-late"),
        "Trial Started",
        json!({}),
        json!({"traits": {"email": "late@example.com"}}),
    ));
    let state = s.state();
    assert_eq!(
        state
            .events_of(id_of(&state.user_by_external_id("u-late")["id"]))
            .len(),
        1
    );
}

#[test]
fn a_track_without_any_user_identifier_or_event_name_is_invalid() {
    let s = Scenario::new();
    let d = s.send(json!({"type": "track", "event": "Orphan", "anonymousId": "anon-1"}));
    assert_invalid_event(&d, &["email"]);
    let d = s.send(json!({"type": "track", "userId": "u-1", "properties": {}}));
    assert_invalid_event(&d, &["event"]);
    let d = s.send(json!({"type": "track", "userId": "u-1", "event": "X", "properties": "nope"}));
    assert_invalid_event(&d, &["properties"]);
}

#[test]
fn twenty_five_event_names_share_one_profile_under_the_twenty_profile_cap() {
    let s = Scenario::new();
    let ann = seed_ann(&s);
    for i in 0..25 {
        let d = s.deliver(track(
            Some("u-1"),
            &format!("Event {i}"),
            json!({"i": i}),
            json!({}),
        ));
        assert_eq!(
            d.body("POST", &format!("/api/v2/users/{ann}/events"))["profile"]["type"],
            "user"
        );
    }
    let state = s.state();
    let events = state.events_of(ann);
    assert_eq!(events.len(), 25);
    let mut types: Vec<String> = events
        .iter()
        .map(|e| e["event"]["type"].to_string())
        .collect();
    types.sort();
    types.dedup();
    assert_eq!(types.len(), 25, "every event keeps its own name");
}

#[test]
fn events_outside_the_allow_list_are_skipped_with_a_reason_and_no_call() {
    let s = Scenario::with_settings(json!({"events": ["Order Completed"]}));
    let ann = seed_ann(&s);
    let d = s.deliver(track(
        Some("u-1"),
        "Page Scrolled",
        json!({}),
        json!({"zendesk_user_id": ann}),
    ));
    let outcome = d.outcome();
    assert!(outcome.operations.is_empty() && d.requests.is_empty());
    assert_mentions(
        outcome.skipped.as_deref().unwrap_or_default(),
        &["Page Scrolled", "allow"],
    );

    let d = s.deliver(track(
        Some("u-1"),
        "Order Completed",
        json!({}),
        json!({"zendesk_user_id": ann}),
    ));
    assert_eq!(d.outcome().skipped, None);
    assert_eq!(s.state().events_of(ann).len(), 1);
}

#[test]
fn a_replayed_track_adds_an_event_but_never_a_user() {
    let s = Scenario::new();
    let event = track(
        Some("u-new"),
        "Trial Started",
        json!({}),
        json!({"traits": {"name": "Nia", "email": "nia@example.com"}}),
    );
    s.run_twice(&[event]);
    let state = s.state();
    let nia = id_of(&state.user_by_external_id("u-new")["id"]);
    // The Events API has no idempotency key: a replay is a second event, by Zendesk's design.
    assert_eq!(state.events_of(nia).len(), 2);
}

#[test]
fn a_remembered_user_id_that_zendesk_no_longer_knows_is_resolved_again() {
    let s = Scenario::new();
    let ann = seed_ann(&s);
    s.deliver(track(Some("u-1"), "First", json!({}), json!({})));
    // The remembered id is gone (e.g. the user was merged): Zendesk answers 404 once.
    s.transport.respond_nth(
        1,
        404,
        &[],
        r#"{"errors":[{"code":"NotFound","title":"User not found"}]}"#,
    );
    let d = s.send(track(Some("u-1"), "Second", json!({}), json!({})));
    let operations: Vec<String> = match &d.report.result {
        Ok(outcome) => outcome
            .operations
            .iter()
            .map(|o| format!("{} {} {}", o.method, o.path, o.status))
            .collect(),
        Err(error) => panic!("expected a re-resolved delivery, got {error:?}"),
    };
    let events = format!("POST /api/v2/users/{ann}/events");
    assert_eq!(
        operations,
        [
            format!("{events} 404"),
            "GET /api/v2/users/search?external_id=u-1 200".into(),
            format!("{events} 202")
        ]
    );
    // The 404 was canned (never reached the mock); the guest looked the user up and posted once.
    assert_eq!(
        d.calls(),
        [
            "GET /api/v2/users/search?external_id=u-1".to_string(),
            format!("POST /api/v2/users/{ann}/events")
        ]
    );
    assert_eq!(s.state().events_of(ann).len(), 2);
}

#[test]
fn a_secondary_email_finds_its_user() {
    let s = Scenario::new();
    let ann = seed_ann(&s);
    // An agent added a work address to Ann in Zendesk; the primary stays ann@example.com.
    let added = s.mock.handle(&mock_zendesk::Request {
        method: "POST".into(),
        url: format!("https://{SUB}.zendesk.com/api/v2/users/{ann}/identities"),
        headers: vec![("Authorization".into(), "Bearer agent".into())],
        body: br#"{"identity":{"type":"email","value":"ann.work@example.com"}}"#.to_vec(),
    });
    assert_eq!(added.status, 201);
    let d = s.send(track(
        None,
        "Logged In",
        json!({"email": "ann.work@example.com"}),
        json!({}),
    ));
    d.outcome();
    assert_eq!(s.state().events_of(ann).len(), 1);
    assert_eq!(s.state().count("users"), 1);
}

#[test]
fn the_exact_email_match_is_found_on_a_later_search_page() {
    let s = Scenario::new();
    for i in 0..150 {
        s.mock.seed_user(
            SUB,
            json!({"name": format!("Lookalike {i}"), "email": format!("x{i}bob@x.com")}),
        );
    }
    let bob = s
        .mock
        .seed_user(SUB, json!({"name": "Bob", "email": "bob@x.com"}));
    let d = s.deliver(track(
        None,
        "Logged In",
        json!({"email": "bob@x.com"}),
        json!({}),
    ));
    let calls = d.calls();
    assert_eq!(calls.len(), 3, "{calls:#?}");
    // The second page is the `next_page` URL Zendesk returned (offset pagination).
    assert!(
        calls[0].starts_with("GET /api/v2/users/search?query="),
        "{calls:#?}"
    );
    assert!(
        calls[1].starts_with("GET /api/v2/users/search") && calls[1].contains("page=2"),
        "{calls:#?}"
    );
    assert_eq!(calls[2], format!("POST /api/v2/users/{bob}/events"));
    assert_eq!(s.state().events_of(bob).len(), 1);
}

#[test]
fn a_user_id_remembered_by_one_tenant_is_never_used_by_another() {
    let acme = Scenario::new();
    let beta = acme.sibling("beta", json!({}));
    // The same person exists in both accounts, under different Zendesk ids.
    let ann_acme = seed_ann(&acme);
    beta.mock.seed_user(
        "beta",
        json!({"name": "Someone Else", "email": "else@example.com"}),
    );
    let ann_beta = beta.mock.seed_user(
        "beta",
        json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1"}),
    );
    assert_ne!(
        ann_acme, ann_beta,
        "the test needs different ids per account"
    );

    acme.deliver(track(Some("u-1"), "In Acme", json!({}), json!({}))); // acme remembers u-1
    let d = beta.deliver(track(Some("u-1"), "In Beta", json!({}), json!({})));
    assert_eq!(
        d.calls(),
        [
            "GET /api/v2/users/search?external_id=u-1".to_string(),
            format!("POST /api/v2/users/{ann_beta}/events")
        ]
    );
    assert_eq!(acme.state().events_of(ann_acme).len(), 1);
    assert_eq!(beta.state().events_of(ann_beta).len(), 1);
    assert_eq!(beta.state().count("events"), 1);
}
