use serde_json::{Value, json};

use super::{SUB, collect_cursor_pages, collect_offset_pages, expect};
use crate::MockZendesk;

fn keys(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|f| f["key"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn field_lists_over_100_paginate_both_ways_and_default_to_the_first_100() {
    let mock = MockZendesk::new();
    for n in 0..130 {
        mock.seed_user_field(SUB, &format!("field_{n:03}"), "text");
    }
    let expected: Vec<String> = (0..130).map(|n| format!("field_{n:03}")).collect();

    let plain = expect(&mock, "GET", "/api/v2/user_fields.json", None, 200);
    assert_eq!(
        keys(
            plain["user_fields"]
                .as_array()
                .map_or(&[][..], Vec::as_slice)
        ),
        expected[..100]
    );
    assert_eq!(plain["count"], 130);
    assert_eq!(
        plain["next_page"],
        format!("https://{SUB}.zendesk.com/api/v2/user_fields.json?page=2&per_page=100")
    );

    let (offset, offset_pages) = collect_offset_pages(&mock, "/api/v2/user_fields", "user_fields");
    assert_eq!((keys(&offset), offset_pages), (expected.clone(), 2));
    let (cursor, cursor_pages) =
        collect_cursor_pages(&mock, "/api/v2/user_fields?page[size]=100", "user_fields");
    assert_eq!((keys(&cursor), cursor_pages), (expected, 2));
    let capped = expect(&mock, "GET", "/api/v2/user_fields?per_page=500", None, 200);
    assert_eq!(capped["user_fields"].as_array().map(Vec::len), Some(100));
}

#[test]
fn field_creation_validates_keys_and_defaults_to_text() {
    let mock = MockZendesk::new();
    let created = expect(
        &mock,
        "POST",
        "/api/v2/organization_fields.json",
        Some(json!({"organization_field": {"key": "plan_2", "title": "Plan 2"}})),
        201,
    );
    assert_eq!(created["organization_field"]["type"], "text");
    assert_eq!(created["organization_field"]["id"], 700);
    for bad_key in ["plan-name", "plan name", "123", "plän"] {
        let body = json!({"user_field": {"key": bad_key, "title": "X"}});
        let rejected = expect(&mock, "POST", "/api/v2/user_fields", Some(body), 422);
        assert_eq!(
            rejected["details"]["key"][0]["error"], "InvalidValue",
            "{bad_key}"
        );
    }
    let ok = json!({"user_field": {"key": "seats_9", "title": "Seats", "type": "integer"}});
    expect(&mock, "POST", "/api/v2/user_fields", Some(ok.clone()), 201);
    let duplicate = expect(&mock, "POST", "/api/v2/user_fields", Some(ok), 422);
    assert_eq!(duplicate["details"]["key"][0]["error"], "DuplicateValue");
    let state = mock.account(SUB);
    assert_eq!(state.user_fields.len(), 1);
    assert_eq!(
        state.user_field("seats_9").map(|f| f.r#type.as_str()),
        Some("integer")
    );
    assert!(state.organization_field("plan_2").is_some());
}

fn event_body(source: &str, profile_type: &str, event_type: &str) -> Value {
    json!({
        "profile": {"source": source, "type": profile_type, "identifiers": [{"type": "external_id", "value": "u1"}]},
        "event": {"source": source, "type": event_type, "properties": {"plan": "pro"}}
    })
}

#[test]
fn events_need_a_known_user_a_non_zendesk_source_and_a_type() {
    let mock = MockZendesk::new();
    let user = mock.seed_user(SUB, json!({"name": "Ann", "external_id": "u1"}));
    let unknown = expect(
        &mock,
        "POST",
        "/api/v2/users/1/events",
        Some(event_body("shop", "user", "Paid")),
        404,
    );
    assert_eq!(
        unknown,
        json!({"errors": [{"code": "NotFound", "title": "User not found"}]})
    );
    let path = format!("/api/v2/users/{user}/events");
    let reserved = expect(
        &mock,
        "POST",
        &path,
        Some(event_body("zendesk", "user", "Paid")),
        400,
    );
    assert_eq!(reserved["errors"][0]["code"], "InvalidSource");
    let mut no_type = event_body("shop", "user", "Paid");
    no_type["event"].as_object_mut().map(|e| e.remove("type"));
    expect(&mock, "POST", &path, Some(no_type), 400);
    assert!(mock.account(SUB).events.is_empty());

    let accepted = expect(
        &mock,
        "POST",
        &path,
        Some(event_body("shop", "user", "Paid")),
        202,
    );
    assert_eq!(accepted["status"], "received");
    assert_eq!(accepted["user_id"], user.to_string());
    let state = mock.account(SUB);
    assert_eq!(state.events_of(user).len(), 1);
    assert_eq!(state.events[0].event["type"], "Paid");
    assert_eq!(
        state.events[0].profile_id,
        accepted["profile_id"].as_str().map(str::to_string)
    );
}

#[test]
fn more_than_20_profiles_per_user_are_refused() {
    let mock = MockZendesk::new();
    let user = mock.seed_user(SUB, json!({"name": "Ann"}));
    let path = format!("/api/v2/users/{user}/events");
    for n in 0..20 {
        expect(
            &mock,
            "POST",
            &path,
            Some(event_body("shop", &format!("type {n}"), "Viewed")),
            202,
        );
    }
    let capped = expect(
        &mock,
        "POST",
        &path,
        Some(event_body("shop", "type 20", "Viewed")),
        400,
    );
    assert_eq!(capped["errors"][0]["code"], "ProfileLimitExceeded");
    // An existing profile keeps working; one profile for any number of event names.
    for name in ["A", "B", "C"] {
        expect(
            &mock,
            "POST",
            &path,
            Some(event_body("shop", "type 0", name)),
            202,
        );
    }
    let state = mock.account(SUB);
    assert_eq!(state.profiles_of(user).len(), 20);
    assert_eq!(state.events_of(user).len(), 23);
}
