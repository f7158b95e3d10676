//! identify's primary email end to end: updatePrimaryEmail (or RudderStack's searchByExternalId)
//! makes a new email the primary identity and keeps the old one, without it the new email is a
//! secondary, the primaryEmail trait wins regardless, and the change is idempotent and converges.

use crate::common::*;
use serde_json::json;

/// A user `u-1` whose primary email is old@example.com; returns its id.
fn seed_ann(s: &Scenario) -> u64 {
    s.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "old@example.com", "external_id": "u-1"}),
    )
}

#[test]
fn primary_email_setting_makes_the_new_email_primary_and_keeps_the_old_one() {
    // `searchByExternalId` is RudderStack's historical key for the same setting.
    for key in ["updatePrimaryEmail", "searchByExternalId"] {
        let s = Scenario::with_settings(json!({ key: true }));
        let ann = seed_ann(&s);
        let event = identify("u-1", json!({"name": "Ann", "email": "new@example.com"}));
        let d = s.deliver(event.clone());
        let calls = d.calls();
        assert_eq!(calls.len(), 3, "{key}: {calls:?}");
        assert_eq!(calls[0], "POST /api/v2/users/create_or_update");
        assert!(
            calls[1].starts_with(&format!("GET /api/v2/users/{ann}/identities")),
            "{calls:?}"
        );
        let new_identity = s
            .state()
            .all("identities")
            .into_iter()
            .find(|i| i["value"] == "new@example.com")
            .map(|i| id_of(&i["id"]));
        let new_identity = new_identity.unwrap_or_else(|| panic!("no identity for the new email"));
        assert_eq!(
            calls[2],
            format!("PUT /api/v2/users/{ann}/identities/{new_identity}/make_primary")
        );
        assert_eq!(
            s.state().emails_of(ann),
            [
                ("new@example.com".to_string(), true),
                ("old@example.com".to_string(), false)
            ]
        );

        // Already primary: nothing beyond the upsert.
        let again = s.deliver(event);
        assert_eq!(
            again.calls(),
            ["POST /api/v2/users/create_or_update"],
            "{key}"
        );
        assert_eq!(s.state().count("identities"), 2);
    }
}

#[test]
fn without_the_setting_a_new_email_is_added_as_secondary() {
    let s = Scenario::new();
    let ann = seed_ann(&s);
    let d = s.deliver(identify(
        "u-1",
        json!({"name": "Ann", "email": "new@example.com"}),
    ));
    assert_eq!(d.calls(), ["POST /api/v2/users/create_or_update"]);
    assert_eq!(
        s.state().emails_of(ann),
        [
            ("new@example.com".to_string(), false),
            ("old@example.com".to_string(), true)
        ]
    );
}

#[test]
fn primary_email_trait_wins_even_with_the_setting_off() {
    let s = Scenario::new();
    let ann = seed_ann(&s);
    let d = s.deliver(identify(
        "u-1",
        json!({"name": "Ann", "email": "work@example.com", "primaryEmail": "new@example.com"}),
    ));
    let calls = d.calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(calls[0], "POST /api/v2/users/create_or_update");
    assert!(calls[1].starts_with(&format!("GET /api/v2/users/{ann}/identities")));
    assert_eq!(calls[2], format!("POST /api/v2/users/{ann}/identities"));
    assert_eq!(
        d.body("POST", &format!("/api/v2/users/{ann}/identities")),
        &json!({"identity": {"type": "email", "value": "new@example.com"}})
    );
    assert!(calls[3].ends_with("/make_primary"), "{calls:?}");
    let user = &d.body("POST", "/api/v2/users/create_or_update")["user"];
    assert_eq!(user["email"], "work@example.com");
    assert_eq!(
        s.state().emails_of(ann),
        [
            ("new@example.com".to_string(), true),
            ("old@example.com".to_string(), false),
            ("work@example.com".to_string(), false),
        ]
    );
    assert!(
        s.state().field_keys("user_fields").is_empty(),
        "primaryEmail is not a custom field"
    );
}

#[test]
fn primary_email_change_is_idempotent_and_converges_after_any_single_failure() {
    let settings = json!({"updatePrimaryEmail": true});
    let event = identify("u-1", json!({"name": "Ann", "email": "new@example.com"}));
    let s = Scenario::with_settings(settings.clone());
    seed_ann(&s);
    s.run_twice(std::slice::from_ref(&event));
    assert_retries_converge(
        settings,
        |s| {
            seed_ann(s);
        },
        &[event],
    );
}
