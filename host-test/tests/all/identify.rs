//! identify end to end: exact request bodies, the mock's resulting user, custom fields, Segment
//! name/trait compatibility, missing name, idempotent retries. Organization traits are tested in
//! memberships.rs, primary email changes in primary_email.rs.

use crate::common::*;
use serde_json::{Value, json};

fn seed_fields(s: &Scenario, fields: &[(&str, &str)]) {
    for (key, kind) in fields {
        s.mock.seed_user_field(SUB, key, kind);
    }
}

#[test]
fn identify_sends_the_exact_body_creates_the_user_then_updates_it() {
    let s = Scenario::with_settings(json!({"createUsersAsVerified": true}));
    seed_fields(
        &s,
        &[
            ("plan_name", "text"),
            ("seats", "decimal"),
            ("trial", "checkbox"),
        ],
    );
    let event = identify(
        "u-1",
        json!({"name": "Ann Lee", "email": "ann@example.com", "phone": "+15551234567",
               "planName": "pro", "seats": 5, "trial": true}),
    );

    let first = s.deliver(event.clone());
    assert_eq!(
        first.calls(),
        [
            "GET /api/v2/user_fields?page[size]=100",
            "POST /api/v2/users/create_or_update"
        ]
    );
    assert_eq!(first.statuses(), [200, 201]);
    assert_eq!(
        first.body("POST", "/api/v2/users/create_or_update"),
        &json!({"user": {
            "name": "Ann Lee", "email": "ann@example.com", "phone": "+15551234567",
            "external_id": "u-1", "verified": true,
            "user_fields": {"plan_name": "pro", "seats": 5, "trial": true}
        }})
    );
    let state = s.state();
    let user = state.user_by_external_id("u-1");
    assert_eq!(user["name"], "Ann Lee");
    assert_eq!(user["verified"], true);
    assert_eq!(
        user["user_fields"],
        json!({"plan_name": "pro", "seats": 5, "trial": true})
    );
    assert_eq!(
        state.primary_email_of(id_of(&user["id"])),
        "ann@example.com"
    );

    // The same identify again: an update (200) of the same user; field definitions are cached.
    let second = s.deliver(event);
    assert_eq!(second.calls(), ["POST /api/v2/users/create_or_update"]);
    assert_eq!(second.statuses(), [200]);
    assert_eq!(s.state().count("users"), 1);
}

#[test]
fn default_config_never_sends_verified_false_and_skip_verify_email_is_sent_when_set() {
    let plain = Scenario::new();
    let d = plain.deliver(identify(
        "u-1",
        json!({"name": "Ann", "email": "ann@example.com"}),
    ));
    let user = &d.body("POST", "/api/v2/users/create_or_update")["user"];
    assert!(user.get("verified").is_none(), "sent {user}");
    assert!(user.get("skip_verify_email").is_none(), "sent {user}");

    let skipping = Scenario::with_settings(json!({"skipVerifyEmail": true}));
    let d = skipping.deliver(identify(
        "u-1",
        json!({"name": "Ann", "email": "ann@example.com"}),
    ));
    let user = &d.body("POST", "/api/v2/users/create_or_update")["user"];
    assert_eq!(user["skip_verify_email"], true, "sent {user}");
}

#[test]
fn missing_user_fields_are_created_once_with_typed_definitions() {
    let s = Scenario::new();
    let ann = s.deliver(identify(
        "u-1",
        json!({"name": "Ann", "email": "ann@example.com", "planName": "pro", "seats": 5, "trial": true}),
    ));
    let mut calls = ann.calls();
    assert_eq!(
        calls.first().map(String::as_str),
        Some("GET /api/v2/user_fields?page[size]=100")
    );
    assert_eq!(
        calls.pop().as_deref(),
        Some("POST /api/v2/users/create_or_update")
    );
    assert_eq!(calls.len(), 4, "one listing and three creations: {calls:?}");
    let mut created: Vec<Value> = ann
        .bodies("POST", "/api/v2/user_fields")
        .into_iter()
        .cloned()
        .collect();
    created.sort_by_key(|body| body["user_field"]["key"].to_string());
    assert_eq!(
        created,
        [
            json!({"user_field": {"key": "plan_name", "title": "Plan Name", "type": "text"}}),
            json!({"user_field": {"key": "seats", "title": "Seats", "type": "decimal"}}),
            json!({"user_field": {"key": "trial", "title": "Trial", "type": "checkbox"}}),
        ]
    );
    assert_eq!(
        s.state().user_by_external_id("u-1")["user_fields"],
        json!({"plan_name": "pro", "seats": 5, "trial": true})
    );

    // Another user with the same traits (snake_case spelling): no field call at all.
    let bob = s.deliver(identify(
        "u-2",
        json!({"name": "Bob", "email": "bob@example.com", "plan_name": "basic", "seats": 2, "trial": false}),
    ));
    assert_eq!(bob.calls(), ["POST /api/v2/users/create_or_update"]);
    let state = s.state();
    assert_eq!(
        state.field_keys("user_fields"),
        ["plan_name", "seats", "trial"]
    );
    assert_eq!(
        state.user_by_external_id("u-2")["user_fields"],
        json!({"plan_name": "basic", "seats": 2, "trial": false})
    );
}

#[test]
fn existing_fields_are_reused_before_a_snake_case_one_is_created() {
    // The seeds: "first try and map the trait to a known, existing field". An account whose
    // fields were made by hand (camelCase, odd case) keeps getting them filled.
    let s = Scenario::new();
    seed_fields(&s, &[("favoriteColor", "text"), ("Shoe_Size", "decimal")]);
    let d = s.deliver(identify(
        "u-1",
        json!({"name": "Ann", "email": "ann@example.com", "favoriteColor": "red",
               "shoeSize": 42, "newsletter": true}),
    ));
    assert_eq!(
        d.calls(),
        [
            "GET /api/v2/user_fields?page[size]=100",
            "POST /api/v2/user_fields",
            "POST /api/v2/users/create_or_update"
        ]
    );
    assert_eq!(
        d.body("POST", "/api/v2/user_fields")["user_field"]["key"],
        "newsletter"
    );
    let state = s.state();
    assert_eq!(
        state.field_keys("user_fields"),
        ["Shoe_Size", "favoriteColor", "newsletter"]
    );
    assert_eq!(
        state.user_by_external_id("u-1")["user_fields"],
        json!({"favoriteColor": "red", "Shoe_Size": 42, "newsletter": true})
    );
    // Replayed: the cache resolves every trait, nothing is created twice.
    let again = s.deliver(identify(
        "u-1",
        json!({"name": "Ann", "email": "ann@example.com", "favoriteColor": "blue",
               "shoeSize": 43, "newsletter": false}),
    ));
    assert_eq!(again.calls(), ["POST /api/v2/users/create_or_update"]);
    assert_eq!(
        s.state().user_by_external_id("u-1")["user_fields"],
        json!({"favoriteColor": "blue", "Shoe_Size": 43, "newsletter": false})
    );
}

#[test]
fn a_segment_engage_audience_trait_becomes_a_checkbox_user_field() {
    // Segment Engage syncs an audience as an identify whose traits carry the audience key as a
    // boolean: true on entering, false on leaving.
    let s = Scenario::new();
    let entered = s.deliver(json!({
        "type": "identify", "userId": "u-1",
        "traits": {"name": "Ann", "email": "ann@example.com", "high_value_users": true},
        "context": {"personas": {"computation_key": "high_value_users", "computation_class": "audience"}}
    }));
    assert_eq!(
        entered.body("POST", "/api/v2/user_fields"),
        &json!({"user_field": {"key": "high_value_users", "title": "High Value Users", "type": "checkbox"}})
    );
    assert_eq!(
        s.state().user_by_external_id("u-1")["user_fields"],
        json!({"high_value_users": true})
    );
    let left = s.deliver(identify(
        "u-1",
        json!({"name": "Ann", "email": "ann@example.com", "high_value_users": false}),
    ));
    assert_eq!(left.calls(), ["POST /api/v2/users/create_or_update"]);
    assert_eq!(
        s.state().user_by_external_id("u-1")["user_fields"],
        json!({"high_value_users": false})
    );
}

#[test]
fn camel_snake_spaced_and_dashed_trait_names_land_on_one_snake_case_field() {
    let s = Scenario::new();
    let spellings = [
        ("u-1", "planName"),
        ("u-2", "plan_name"),
        ("u-3", "Plan Name"),
        ("u-4", "plan-name"),
    ];
    for (user_id, key) in spellings {
        let mut traits = json!({"name": user_id, "email": format!("{user_id}@example.com")});
        traits[key] = json!(format!("plan of {user_id}"));
        s.deliver(identify(user_id, traits));
    }
    // Odd names normalise too; an all-digit name is not a valid key and is skipped, not fatal.
    s.deliver(identify(
        "u-5",
        json!({"name": "Eve", "email": "eve@example.com", "totalBilled": 12.5,
               "HTMLParser": true, "2024": "skipped"}),
    ));

    let state = s.state();
    assert_eq!(
        state.field_keys("user_fields"),
        ["html_parser", "plan_name", "total_billed"]
    );
    for (user_id, _) in spellings {
        assert_eq!(
            state.user_by_external_id(user_id)["user_fields"],
            json!({"plan_name": format!("plan of {user_id}")})
        );
    }
    assert_eq!(
        state.user_by_external_id("u-5")["user_fields"],
        json!({"total_billed": 12.5, "html_parser": true})
    );
}

#[test]
fn name_comes_from_name_or_first_and_last_name_in_both_spellings() {
    let s = Scenario::new();
    let cases = [
        (
            "u-1",
            json!({"firstName": "Ann", "lastName": "Lee"}),
            "Ann Lee",
        ),
        (
            "u-2",
            json!({"first_name": "Bob", "last_name": "Stone"}),
            "Bob Stone",
        ),
        ("u-3", json!({"firstName": "Cher"}), "Cher"),
        (
            "u-4",
            json!({"name": "Dee Full", "firstName": "Ignored"}),
            "Dee Full",
        ),
    ];
    for (user_id, mut traits, expected) in cases {
        traits["email"] = json!(format!("{user_id}@example.com"));
        let d = s.deliver(identify(user_id, traits));
        assert_eq!(
            d.body("POST", "/api/v2/users/create_or_update")["user"]["name"],
            expected
        );
        assert_eq!(s.state().user_by_external_id(user_id)["name"], expected);
    }
    // Name parts are standard traits, never custom fields.
    assert!(s.state().field_keys("user_fields").is_empty());
}

#[test]
fn external_id_is_the_message_user_id_never_a_trait_named_id() {
    let s = Scenario::new();
    let d = s.deliver(identify(
        "u-1",
        json!({"name": "Ann", "email": "ann@example.com", "id": "trait-id", "userId": "trait-user"}),
    ));
    let user = &d.body("POST", "/api/v2/users/create_or_update")["user"];
    assert_eq!(user["external_id"], "u-1");
    assert!(
        user.get("user_fields")
            .is_none_or(|f| f.get("id").is_none()),
        "sent {user}"
    );
    s.state().user_by_external_id("u-1");
}

#[test]
fn identify_without_a_name_is_an_invalid_event_before_any_call() {
    let s = Scenario::new();
    let d = s.send(identify(
        "u-1",
        json!({"email": "ann@example.com", "plan": "pro"}),
    ));
    assert_invalid_event(&d, &["name"]);
    assert_eq!(s.state().count("users"), 0);
    assert!(
        s.state().field_keys("user_fields").is_empty(),
        "fields created for a failing event"
    );
}

#[test]
fn identify_without_email_or_user_id_is_an_invalid_event() {
    let s = Scenario::new();
    let d = s.send(json!({"type": "identify", "anonymousId": "anon-1", "traits": {"name": "Ann"}}));
    assert_invalid_event(&d, &["email"]);
}

#[test]
fn rudderstack_and_segment_config_shapes_are_accepted() {
    // RudderStack passes `domain` (sometimes a full host name); Segment passes `subdomain`.
    let basic = basic_auth("admin@example.com", API_TOKEN);
    let bearer = format!("Bearer {API_TOKEN}");
    for (config, authorization) in [
        (
            json!({"domain": SUB, "email": "admin@example.com", "apiToken": API_TOKEN}),
            &basic,
        ),
        (
            json!({"domain": "https://ACME.zendesk.com", "email": "admin@example.com", "apiToken": API_TOKEN}),
            &basic,
        ),
        (
            json!({"subdomain": SUB, "oauthToken": API_TOKEN, "unknownKey": {"ignored": true}}),
            &bearer,
        ),
        (json!({"subdomain": SUB, "accessToken": API_TOKEN}), &bearer),
    ] {
        let s = Scenario::with_config(config);
        // Any other Authorization value gets a 401 from the mock.
        s.mock.require_credentials(SUB, authorization);
        assert!(runtime().validate_config(plugin(), &s.tenant).is_ok());
        s.deliver(identify(
            "u-1",
            json!({"name": "Ann", "email": "ann@example.com"}),
        ));
        s.state().user_by_external_id("u-1");
    }
}

#[test]
fn identify_with_new_fields_and_membership_is_idempotent_when_replayed() {
    let s = Scenario::new();
    let org = s.mock.seed_organization(SUB, json!({"name": "Acme"}));
    let event = identify(
        "u-1",
        json!({"name": "Ann", "email": "ann@example.com", "planName": "pro", "company": {"id": org}}),
    );
    let second = s.run_twice(&[event]);
    // The membership is known from the first round: the replay only updates the user.
    assert_eq!(second[0].calls(), ["POST /api/v2/users/create_or_update"]);
    assert_eq!(second[0].statuses(), [200]);
}

#[test]
fn identify_converges_after_any_single_request_fails() {
    let org_id = mock_zendesk::MockZendesk::new().seed_organization(SUB, json!({"name": "Acme"}));
    let setup = |s: &Scenario| {
        let id = s.mock.seed_organization(SUB, json!({"name": "Acme"}));
        assert_eq!(id, org_id, "the mock's ids are deterministic");
    };
    let event = identify(
        "u-1",
        json!({"name": "Ann", "email": "ann@example.com", "planName": "pro", "seats": 3,
               "company": {"id": org_id.to_string()}}),
    );
    assert_retries_converge(json!({}), setup, &[event]);
}

#[test]
fn a_field_defined_on_the_second_page_is_found_not_recreated() {
    let s = Scenario::new();
    let keys: Vec<String> = (0..120).map(|i| format!("field_{i:03}")).collect();
    for key in &keys {
        s.mock.seed_user_field(SUB, key, "text");
    }
    let d = s.deliver(identify(
        "u-1",
        json!({"name": "Ann", "email": "a@example.com", "field_119": "x"}),
    ));
    let calls = d.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[0], "GET /api/v2/user_fields?page[size]=100");
    assert!(
        calls[1].starts_with("GET /api/v2/user_fields?") && calls[1].contains("page[after]="),
        "{calls:?}"
    );
    assert_eq!(calls[2], "POST /api/v2/users/create_or_update");
    assert_eq!(s.state().count("user_fields"), 120);
    assert_eq!(
        s.state().user_by_external_id("u-1")["user_fields"],
        json!({"field_119": "x"})
    );
}

#[test]
fn segment_and_rudderstack_event_shapes_map_to_the_same_user() {
    let s = Scenario::new();
    // Numeric userId, traits only in context.traits (older RudderStack shape), timezone.
    s.deliver(json!({"type": "identify", "userId": 4711,
        "context": {"traits": {"name": "Old Name", "email": "ann@example.com", "timezone": "Berlin"}},
        "traits": {"name": "Ann Lee"}}));
    let state = s.state();
    let user = state.user_by_external_id("4711");
    assert_eq!(user["name"], "Ann Lee", "traits win over context.traits");
    assert_eq!(user["time_zone"], "Berlin");
    assert_eq!(
        state.primary_email_of(id_of(&user["id"])),
        "ann@example.com"
    );
    // Segment's `action` with a differently cased type.
    s.deliver(json!({"action": "Identify", "userId": "4711", "traits": {"name": "Ann B. Lee"}}));
    assert_eq!(s.state().count("users"), 1);
    assert_eq!(s.state().user_by_external_id("4711")["name"], "Ann B. Lee");
}

#[test]
fn concurrent_identifies_define_a_new_field_once() {
    let s = Scenario::new();
    let events: Vec<Value> = (0..6)
        .map(|i| {
            identify(
                &format!("u-{i}"),
                json!({"name": format!("User {i}"), "email": format!("u{i}@example.com"), "loyaltyTier": "gold"}),
            )
        })
        .collect();
    for report in s.send_concurrently(&events, 15) {
        assert!(report.result.is_ok(), "{:?}", report.result);
    }
    let state = s.state();
    assert_eq!(state.field_keys("user_fields"), ["loyalty_tier"]);
    for i in 0..6 {
        let user = state.user_by_external_id(&format!("u-{i}"));
        assert_eq!(user["user_fields"], json!({"loyalty_tier": "gold"}));
    }
}

#[test]
fn an_existing_zendesk_user_is_linked_by_email_and_verified_when_configured() {
    // Someone who wrote to support before: a Zendesk user without external id, unverified.
    let s = Scenario::with_settings(json!({"createUsersAsVerified": true}));
    let existing = s
        .mock
        .seed_user(SUB, json!({"name": "Walk In", "email": "walk@example.com"}));
    let d = s.deliver(identify(
        "u-9",
        json!({"name": "Walter", "email": "walk@example.com"}),
    ));
    assert_eq!(d.statuses(), [200]);
    let state = s.state();
    assert_eq!(state.count("users"), 1);
    let user = state.user_by_id(existing);
    assert_eq!(
        (user["external_id"].as_str(), user["name"].as_str()),
        (Some("u-9"), Some("Walter"))
    );
    assert_eq!(user["verified"], true);
}

#[test]
fn null_object_and_list_traits_are_not_custom_fields() {
    let s = Scenario::new();
    let d = s.deliver(identify(
        "u-1",
        json!({"name": "Ann", "email": "ann@example.com", "address": {"city": "Oslo"},
               "interests": ["ski"], "nickname": null}),
    ));
    assert_eq!(d.calls(), ["POST /api/v2/users/create_or_update"]);
    assert!(
        d.body("POST", "/api/v2/users/create_or_update")["user"]
            .get("user_fields")
            .is_none()
    );
    assert!(s.state().field_keys("user_fields").is_empty());
}
