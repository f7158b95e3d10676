//! identify's organization traits end to end: `company.id` / `organizationId` add a membership
//! (never `organization_id` on the user) and keep the others, unknown or malformed company ids
//! are rejected, and `company.remove` (removeUsersFromOrganization[s]) finds and deletes exactly
//! one membership across pages, idempotently and converging after any single failure.

use crate::common::*;
use serde_json::{Value, json};

#[test]
fn company_id_or_organization_id_adds_a_membership_and_keeps_the_others() {
    let forms: [fn(u64) -> Value; 4] = [
        |id| json!({"company": {"id": id, "name": "Second"}}),
        |id| json!({"company": {"id": id.to_string()}}),
        |id| json!({"organizationId": id}),
        |id| json!({"organizationId": id.to_string()}),
    ];
    for form in forms {
        let s = Scenario::new();
        let ann = s.mock.seed_user(
            SUB,
            json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1"}),
        );
        let first = s.mock.seed_organization(SUB, json!({"name": "First"}));
        let second = s.mock.seed_organization(SUB, json!({"name": "Second"}));
        s.mock.seed_membership(SUB, ann, first);

        let mut traits = form(second);
        traits["name"] = json!("Ann");
        traits["email"] = json!("ann@example.com");
        let d = s.deliver(identify("u-1", traits.clone()));
        assert_eq!(
            d.calls(),
            [
                "POST /api/v2/users/create_or_update",
                "POST /api/v2/organization_memberships"
            ],
            "{traits}"
        );
        let user = &d.body("POST", "/api/v2/users/create_or_update")["user"];
        assert!(
            user.get("organization_id").is_none(),
            "organization_id sent: {user}"
        );
        assert_eq!(
            d.body("POST", "/api/v2/organization_memberships"),
            &json!({"organization_membership": {"user_id": ann, "organization_id": second}})
        );
        assert_eq!(s.state().org_ids_of(ann), [first, second], "{traits}");
        assert!(
            s.state().field_keys("user_fields").is_empty(),
            "company became a field"
        );
    }
}

#[test]
fn a_company_id_zendesk_does_not_know_is_rejected_not_reported_as_already_a_member() {
    let s = Scenario::new();
    let d = s.send(identify(
        "u-1",
        json!({"name": "Ann", "email": "a@example.com", "company": {"id": 999_999}}),
    ));
    // Zendesk answers 422 "Organization cannot be blank": that is not "already a member".
    let (status, message) = rejected(&d);
    assert_eq!(status, 422);
    assert_mentions(&message, &["organization"]);
}

#[test]
fn a_non_numeric_company_id_is_an_invalid_event_before_any_call() {
    let s = Scenario::new();
    let d = s.send(identify(
        "u-1",
        json!({"name": "Ann", "email": "a@example.com", "company": {"id": "acme"}}),
    ));
    assert_invalid_event(&d, &["company"]);
}

#[test]
fn a_company_remove_that_is_not_a_boolean_is_invalid_never_a_join() {
    // `"remove": "true"` means removal to whoever sent it; joining instead would do the opposite.
    let s = Scenario::with_settings(json!({"removeUsersFromOrganization": true}));
    let org = s.mock.seed_organization(SUB, json!({"name": "Acme"}));
    let d = s.send(identify(
        "u-1",
        json!({"name": "Ann", "email": "a@example.com", "company": {"id": org, "remove": "true"}}),
    ));
    assert_invalid_event(&d, &["remove"]);
    assert_eq!(s.state().count("memberships"), 0);
}

/// User `u-1` member of 120 orgs named "Org 000".."Org 119" (the first is the default).
fn seed_member_of_many(s: &Scenario) -> (u64, Vec<u64>) {
    let ann = s.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1"}),
    );
    let orgs: Vec<u64> = (0..120)
        .map(|i| {
            s.mock
                .seed_organization(SUB, json!({"name": format!("Org {i:03}")}))
        })
        .collect();
    for org in &orgs {
        s.mock.seed_membership(SUB, ann, *org);
    }
    (ann, orgs)
}

fn membership_id(state: &State, user: u64, org: u64) -> u64 {
    let found = state
        .all("memberships")
        .into_iter()
        .find(|m| m["user_id"] == user && m["organization_id"] == org);
    id_of(&found.unwrap_or_else(|| panic!("no membership {user} -> {org}"))["id"])
}

fn removal(company_id: Value) -> Value {
    identify(
        "u-1",
        json!({"name": "Ann", "email": "ann@example.com",
                           "company": {"id": company_id, "remove": true}}),
    )
}

#[test]
fn company_remove_finds_the_membership_on_the_second_page_with_a_string_id() {
    let s = Scenario::with_settings(json!({"removeUsersFromOrganization": true}));
    let (ann, orgs) = seed_member_of_many(&s);
    let target = orgs[119]; // "Org 119" sorts last: page 2
    let membership = membership_id(&s.state(), ann, target);

    let second = s.run_twice(&[removal(json!(target.to_string()))]);
    // The first delivery is inside run_twice; the replay finds nothing left to remove.
    let replay = second[0].calls();
    assert!(
        !replay.iter().any(|c| c.starts_with("DELETE")),
        "{replay:?}"
    );

    let mut expected: Vec<u64> = orgs[..119].to_vec();
    expected.sort_unstable();
    assert_eq!(s.state().org_ids_of(ann), expected);
    assert!(
        s.state()
            .all("memberships")
            .iter()
            .all(|m| m["id"] != membership)
    );
}

#[test]
fn company_remove_paginates_and_deletes_exactly_one_membership_with_a_numeric_id() {
    // Segment's plural key for the same setting.
    let s = Scenario::with_settings(json!({"removeUsersFromOrganizations": true}));
    let (ann, orgs) = seed_member_of_many(&s);
    let target = orgs[119];
    let membership = membership_id(&s.state(), ann, target);
    let d = s.deliver(removal(json!(target)));
    let calls = d.calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(calls[0], "POST /api/v2/users/create_or_update");
    assert_eq!(
        calls[1],
        format!("GET /api/v2/users/{ann}/organization_memberships?page[size]=100")
    );
    assert!(calls[2].starts_with(&format!(
        "GET /api/v2/users/{ann}/organization_memberships?"
    )));
    assert!(calls[2].contains("page[after]="), "{calls:?}");
    assert_eq!(
        calls[3],
        format!("DELETE /api/v2/organization_memberships/{membership}")
    );
    assert_eq!(d.statuses()[3], 204);
    assert_eq!(s.state().org_ids_of(ann).len(), 119);
    assert!(!s.state().org_ids_of(ann).contains(&target));
}

#[test]
fn company_remove_for_an_org_the_user_is_not_in_is_done_without_a_delete() {
    let s = Scenario::with_settings(json!({"removeUsersFromOrganization": true}));
    let (ann, _) = seed_member_of_many(&s);
    let elsewhere = s.mock.seed_organization(SUB, json!({"name": "Elsewhere"}));
    let d = s.deliver(removal(json!(elsewhere)));
    assert!(
        !d.calls().iter().any(|c| c.starts_with("DELETE")),
        "{:?}",
        d.calls()
    );
    assert_eq!(s.state().org_ids_of(ann).len(), 120);
}

#[test]
fn company_remove_with_the_setting_off_neither_removes_nor_associates() {
    let s = Scenario::new();
    let (ann, orgs) = seed_member_of_many(&s);
    let outsider = s.mock.seed_organization(SUB, json!({"name": "Outsider"}));
    for company in [json!(orgs[5]), json!(outsider)] {
        let d = s.deliver(removal(company));
        assert_eq!(d.calls(), ["POST /api/v2/users/create_or_update"]);
    }
    assert_eq!(s.state().org_ids_of(ann).len(), 120);
    assert!(!s.state().org_ids_of(ann).contains(&outsider));
}

#[test]
fn a_paginated_removal_converges_after_any_single_request_fails() {
    let settings = json!({"removeUsersFromOrganization": true});
    let target = {
        let probe = Scenario::with_settings(settings.clone());
        seed_member_of_many(&probe).1[119]
    };
    let setup = |s: &Scenario| {
        seed_member_of_many(s);
    };
    assert_retries_converge(settings, setup, &[removal(json!(target))]);
}
