//! group end to end: the organization upsert (by groupId or by exact name), organization fields,
//! the user association (the seeds' 4-case table), exact email matching, sendGroupCallsWithoutUserId,
//! idempotent replays and partial failures. identify's organization traits are in memberships.rs.

use crate::common::*;
use serde_json::{Value, json};

fn group(
    user_id: Option<&str>,
    group_id: Option<&str>,
    traits: Value,
    context_traits: Value,
) -> Value {
    let mut event =
        json!({"type": "group", "traits": traits, "context": {"traits": context_traits}});
    if let Some(user_id) = user_id {
        event["userId"] = json!(user_id);
    }
    if let Some(group_id) = group_id {
        event["groupId"] = json!(group_id);
    }
    event
}

#[test]
fn group_upserts_the_org_by_group_id_with_mapped_traits_and_org_fields() {
    let s = Scenario::new();
    let ann = s.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1"}),
    );
    let event = group(
        Some("u-1"),
        Some("g-1"),
        json!({"name": "Acme Inc", "domainNames": "acme.com", "tags": ["vip", "b2b"],
               "url": "https://acme.com", "deleted": false, "employeeCount": 50, "Plan Tier": "gold"}),
        json!({}),
    );
    let first = s.deliver(event.clone());
    let calls = first.calls();
    assert_eq!(calls[0], "GET /api/v2/organization_fields?page[size]=100");
    assert_eq!(
        &calls[1..3],
        [
            "POST /api/v2/organization_fields",
            "POST /api/v2/organization_fields"
        ]
    );
    assert_eq!(
        &calls[3..],
        [
            "POST /api/v2/organizations/create_or_update",
            "GET /api/v2/users/search?external_id=u-1",
            "POST /api/v2/organization_memberships",
        ]
    );
    let mut fields: Vec<Value> = first
        .bodies("POST", "/api/v2/organization_fields")
        .into_iter()
        .cloned()
        .collect();
    fields.sort_by_key(|f| f["organization_field"]["key"].to_string());
    assert_eq!(
        fields,
        [
            json!({"organization_field": {"key": "employee_count", "title": "Employee Count", "type": "decimal"}}),
            json!({"organization_field": {"key": "plan_tier", "title": "Plan Tier", "type": "text"}}),
        ]
    );
    assert_eq!(
        first.body("POST", "/api/v2/organizations/create_or_update"),
        &json!({"organization": {
            "name": "Acme Inc", "external_id": "g-1", "domain_names": ["acme.com"],
            "tags": ["vip", "b2b"], "url": "https://acme.com", "deleted": false,
            "organization_fields": {"employee_count": 50, "plan_tier": "gold"}
        }})
    );
    let state = s.state();
    let org = state.org_by_external_id("g-1");
    let org_id = id_of(&org["id"]);
    assert_eq!(org["name"], "Acme Inc");
    assert_eq!(org["domain_names"], json!(["acme.com"]));
    assert_eq!(org["tags"], json!(["vip", "b2b"]));
    assert_eq!(org["url"], "https://acme.com");
    assert_eq!(org["deleted"], false);
    assert_eq!(
        org["organization_fields"],
        json!({"employee_count": 50, "plan_tier": "gold"})
    );
    assert_eq!(
        first.body("POST", "/api/v2/organization_memberships"),
        &json!({"organization_membership": {"user_id": ann, "organization_id": org_id}})
    );
    assert_eq!(state.org_ids_of(ann), [org_id]);

    // Replayed: the org is updated (200); the membership is known (cached), nothing duplicated.
    let second = s.run_twice(&[event]);
    assert_eq!(
        second[0].calls(),
        ["POST /api/v2/organizations/create_or_update"]
    );
    assert_eq!(second[0].statuses(), [200]);
}

#[test]
fn camel_and_snake_case_org_traits_share_one_org_field() {
    let s = Scenario::with_settings(json!({"sendGroupCallsWithoutUserId": true}));
    s.deliver(group(
        None,
        Some("g-1"),
        json!({"name": "Acme", "employeeCount": 10}),
        json!({}),
    ));
    let d = s.deliver(group(
        None,
        Some("g-2"),
        json!({"name": "Globex", "employee_count": 20}),
        json!({}),
    ));
    assert_eq!(d.calls(), ["POST /api/v2/organizations/create_or_update"]);
    let state = s.state();
    assert_eq!(state.field_keys("organization_fields"), ["employee_count"]);
    assert_eq!(
        state.org_by_external_id("g-2")["organization_fields"],
        json!({"employee_count": 20})
    );
}

#[test]
fn domain_names_and_tags_accept_a_string_or_a_list() {
    let s = Scenario::with_settings(json!({"sendGroupCallsWithoutUserId": true}));
    let d = s.deliver(group(
        None,
        Some("g-1"),
        json!({"name": "Acme", "domainNames": ["acme.com", "acme.io"], "tags": "vip"}),
        json!({}),
    ));
    let org = &d.body("POST", "/api/v2/organizations/create_or_update")["organization"];
    assert_eq!(org["domain_names"], json!(["acme.com", "acme.io"]));
    assert_eq!(org["tags"], json!(["vip"]));
    assert_eq!(
        s.state().org_by_external_id("g-1")["domain_names"],
        json!(["acme.com", "acme.io"])
    );
}

#[test]
fn no_email_no_group_id_creates_the_org_by_name_and_the_user_then_associates() {
    let s = Scenario::new();
    let (d, _replay) = s.replayed(group(
        Some("u-new"),
        None,
        json!({"name": "Globex"}),
        json!({"name": "Hank"}),
    ));
    assert_eq!(
        d.calls(),
        [
            "GET /api/v2/organizations/search?name=Globex",
            "POST /api/v2/organizations",
            "GET /api/v2/users/search?external_id=u-new",
            "POST /api/v2/users/create_or_update",
            "POST /api/v2/organization_memberships",
        ]
    );
    assert_eq!(
        d.body("POST", "/api/v2/users/create_or_update"),
        &json!({"user": {"external_id": "u-new", "name": "Hank"}})
    );
    let state = s.state();
    let user = id_of(&state.user_by_external_id("u-new")["id"]);
    assert_eq!(
        state.org_ids_of(user),
        [id_of(&state.org_by_name("Globex")["id"])]
    );
}

#[test]
fn email_without_group_id_creates_the_org_and_associates_the_exact_email_match() {
    let s = Scenario::new();
    // Zendesk's fuzzy search returns jimbob for "bob@x.com", and first.
    s.mock
        .seed_user(SUB, json!({"name": "Jim Bob", "email": "jimbob@x.com"}));
    let bob = s
        .mock
        .seed_user(SUB, json!({"name": "Bob", "email": "bob@x.com"}));
    let (d, _replay) = s.replayed(group(
        Some("u-bob"),
        None,
        json!({"name": "Initech"}),
        json!({"email": "bob@x.com"}),
    ));
    let calls = d.calls();
    assert_eq!(
        calls[..3],
        [
            "GET /api/v2/organizations/search?name=Initech",
            "POST /api/v2/organizations",
            "GET /api/v2/users/search?external_id=u-bob",
        ]
    );
    let search = &d.requests[3].path;
    assert!(
        search.starts_with("/api/v2/users/search?query="),
        "{calls:?}"
    );
    assert_eq!(
        query_param(search, "query").as_deref(),
        Some(r#"email:"bob@x.com""#)
    );
    assert_eq!(calls[4..], ["POST /api/v2/organization_memberships"]);
    let state = s.state();
    assert_eq!(state.count("users"), 2, "no user created");
    assert_eq!(
        state.org_ids_of(bob),
        [id_of(&state.org_by_name("Initech")["id"])]
    );
}

#[test]
fn an_email_with_a_plus_is_url_encoded_and_matched_exactly() {
    let s = Scenario::new();
    let ann = s
        .mock
        .seed_user(SUB, json!({"name": "Ann", "email": "ann+vip@x.com"}));
    let org = s
        .mock
        .seed_organization(SUB, json!({"name": "Acme", "external_id": "g-1"}));
    let (d, _replay) = s.replayed(group(
        Some("u-ann"),
        Some("g-1"),
        json!({"name": "Acme"}),
        json!({"email": "ann+vip@x.com"}),
    ));
    let search = d
        .requests
        .iter()
        .find(|r| r.path.contains("query="))
        .map(|r| r.path.clone());
    let search = search.unwrap_or_else(|| panic!("no email search in {:?}", d.calls()));
    assert!(
        !search.contains('+'),
        "unencoded '+' reads as a space: {search}"
    );
    assert_eq!(
        query_param(&search, "query").as_deref(),
        Some(r#"email:"ann+vip@x.com""#)
    );
    assert_eq!(s.state().count("users"), 1);
    assert_eq!(s.state().org_ids_of(ann), [org]);
}

#[test]
fn no_email_with_group_id_creates_the_user_and_associates_the_existing_org() {
    let s = Scenario::new();
    let org = s
        .mock
        .seed_organization(SUB, json!({"name": "Hooli", "external_id": "g-3"}));
    let (d, _replay) = s.replayed(group(
        Some("u-3"),
        Some("g-3"),
        json!({"name": "Hooli"}),
        json!({"firstName": "Carl", "lastName": "Fox"}),
    ));
    assert_eq!(
        d.calls(),
        [
            "POST /api/v2/organizations/create_or_update",
            "GET /api/v2/users/search?external_id=u-3",
            "POST /api/v2/users/create_or_update",
            "POST /api/v2/organization_memberships",
        ]
    );
    assert_eq!(d.statuses(), [200, 200, 201, 201]);
    let state = s.state();
    let carl = state.user_by_external_id("u-3");
    assert_eq!(carl["name"], "Carl Fox");
    assert_eq!(state.count("organizations"), 1);
    assert_eq!(state.org_ids_of(id_of(&carl["id"])), [org]);
}

#[test]
fn email_and_group_id_associate_the_existing_user_and_org() {
    let s = Scenario::new();
    let dana = s
        .mock
        .seed_user(SUB, json!({"name": "Dana", "email": "dana@example.com"}));
    let org = s
        .mock
        .seed_organization(SUB, json!({"name": "Umbrella", "external_id": "g-4"}));
    let (d, _replay) = s.replayed(group(
        Some("u-4"),
        Some("g-4"),
        json!({"name": "Umbrella"}),
        json!({"email": "dana@example.com"}),
    ));
    let calls = d.calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(calls[0], "POST /api/v2/organizations/create_or_update");
    assert_eq!(calls[1], "GET /api/v2/users/search?external_id=u-4");
    assert!(calls[2].starts_with("GET /api/v2/users/search?query="));
    assert_eq!(calls[3], "POST /api/v2/organization_memberships");
    let state = s.state();
    assert_eq!((state.count("users"), state.count("organizations")), (1, 1));
    assert_eq!(state.org_ids_of(dana), [org]);
}

#[test]
fn org_names_and_ids_with_reserved_url_characters_round_trip() {
    let s = Scenario::new();
    let name = "R&D + Sales #1 / Zürich?";
    let event = group(
        Some("u-1/ä?&x=1"),
        None,
        json!({"name": name}),
        json!({"name": "Ann"}),
    );
    let (first, replay) = s.replayed(event);
    assert_eq!(
        query_param(&first.requests[0].path, "name").as_deref(),
        Some(name)
    );
    assert_eq!(
        query_param(&first.requests[2].path, "external_id").as_deref(),
        Some("u-1/ä?&x=1")
    );
    // The replay found both by their exact values: no write (the membership is known).
    let replay_writes: Vec<String> = replay
        .calls()
        .into_iter()
        .filter(|c| !c.starts_with("GET"))
        .collect();
    assert!(replay_writes.is_empty(), "{replay_writes:?}");
    let state = s.state();
    let user = id_of(&state.user_by_external_id("u-1/ä?&x=1")["id"]);
    assert_eq!(
        state.org_ids_of(user),
        [id_of(&state.org_by_name(name)["id"])]
    );
}

#[test]
fn an_org_without_group_id_is_matched_by_exact_name_and_only_written_when_needed() {
    let s = Scenario::new();
    let ann = s.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1"}),
    );
    let initech = s.mock.seed_organization(SUB, json!({"name": "Initech"}));
    s.mock
        .seed_organization(SUB, json!({"name": "Initech Labs"}));

    let d = s.deliver(group(
        Some("u-1"),
        None,
        json!({"name": "initech"}),
        json!({}),
    ));
    assert_eq!(
        d.calls(),
        [
            "GET /api/v2/organizations/search?name=initech",
            "GET /api/v2/users/search?external_id=u-1",
            "POST /api/v2/organization_memberships",
        ]
    );
    assert_eq!(s.state().org_ids_of(ann), [initech]);

    let d = s.deliver(group(
        Some("u-1"),
        None,
        json!({"name": "Initech", "tags": ["gold"]}),
        json!({}),
    ));
    assert!(
        d.calls()
            .contains(&format!("PUT /api/v2/organizations/{initech}")),
        "{:?}",
        d.calls()
    );
    let state = s.state();
    assert_eq!(state.org_by_name("Initech")["tags"], json!(["gold"]));
    assert_eq!(state.count("organizations"), 2);
}

#[test]
fn an_org_created_by_name_before_is_adopted_by_its_group_id() {
    // Agents (or a name-only group) created "Acme" without an external id. Zendesk's
    // create_or_update never matches by name, so creating it again fails on the unique name;
    // Segment's docs: the organization is matched by groupId, and by name when that is unique.
    let s = Scenario::new();
    let ann = s.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1"}),
    );
    let acme = s.mock.seed_organization(SUB, json!({"name": "Acme"}));
    let event = group(
        Some("u-1"),
        Some("g-1"),
        json!({"name": "Acme", "tags": ["b2b"]}),
        json!({}),
    );
    let (d, _replay) = s.replayed(event);
    let state = s.state();
    assert_eq!(state.count("organizations"), 1, "{:?}", d.calls());
    let org = state.org_by_name("Acme");
    assert_eq!(
        (org["external_id"].as_str(), org["tags"].clone()),
        (Some("g-1"), json!(["b2b"]))
    );
    assert_eq!(state.org_ids_of(ann), [acme]);
}

#[test]
fn adopting_an_org_by_name_converges_after_any_single_request_fails() {
    let setup = |s: &Scenario| {
        s.mock.seed_user(
            SUB,
            json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1"}),
        );
        s.mock.seed_organization(SUB, json!({"name": "Acme"}));
    };
    let event = group(
        Some("u-1"),
        Some("g-1"),
        json!({"name": "Acme", "tier": "gold"}),
        json!({}),
    );
    assert_retries_converge(json!({}), setup, &[event]);
}

#[test]
fn an_org_name_owned_by_another_group_id_is_a_conflict_not_an_adoption() {
    let s = Scenario::new();
    s.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1"}),
    );
    s.mock
        .seed_organization(SUB, json!({"name": "Acme", "external_id": "g-0"}));
    let d = s.send(group(
        Some("u-1"),
        Some("g-1"),
        json!({"name": "Acme"}),
        json!({}),
    ));
    let (status, message) = rejected(&d);
    assert_eq!(status, 422);
    assert_mentions(&message, &["name"]);
    assert_eq!(s.state().org_by_name("Acme")["external_id"], "g-0");
}

#[test]
fn without_user_id_only_the_org_is_written_when_the_setting_is_on() {
    let on = Scenario::with_settings(json!({"sendGroupCallsWithoutUserId": true}));
    let d = on.deliver(group(
        None,
        Some("g-1"),
        json!({"name": "Acme"}),
        json!({"email": "x@example.com"}),
    ));
    assert_eq!(d.calls(), ["POST /api/v2/organizations/create_or_update"]);
    let state = on.state();
    state.org_by_external_id("g-1");
    assert_eq!((state.count("users"), state.count("memberships")), (0, 0));

    let off = Scenario::new();
    let d = off.send(group(None, Some("g-1"), json!({"name": "Acme"}), json!({})));
    assert_invalid_event(&d, &["userId"]);
    assert_eq!(off.state().count("organizations"), 0);
}

#[test]
fn a_group_before_the_identify_keeps_the_association_when_the_identify_arrives() {
    let s = Scenario::new();
    s.deliver(group(
        Some("u-7"),
        Some("g-7"),
        json!({"name": "Early"}),
        json!({"email": "zed@example.com"}),
    ));
    s.deliver(identify(
        "u-7",
        json!({"name": "Zed", "email": "zed@example.com"}),
    ));
    let state = s.state();
    let zed = state.user_by_external_id("u-7");
    assert_eq!(zed["name"], "Zed");
    assert_eq!(state.count("users"), 1);
    assert_eq!(
        state.org_ids_of(id_of(&zed["id"])),
        [id_of(&state.org_by_external_id("g-7")["id"])]
    );
}

#[test]
fn concurrent_groups_create_one_org_by_name_and_every_membership() {
    let s = Scenario::new();
    let events: Vec<Value> = (0..6)
        .map(|i| {
            group(
                Some(&format!("u-{i}")),
                None,
                json!({"name": "Race Co", "plan": "pro"}),
                json!({"name": format!("User {i}")}),
            )
        })
        .collect();
    for report in s.send_concurrently(&events, 15) {
        assert!(report.result.is_ok(), "{:?}", report.result);
    }
    let state = s.state();
    let org = id_of(&state.org_by_name("Race Co")["id"]);
    assert_eq!(state.count("organizations"), 1);
    assert_eq!(state.field_keys("organization_fields"), ["plan"]);
    for i in 0..6 {
        let user = id_of(&state.user_by_external_id(&format!("u-{i}"))["id"]);
        assert_eq!(state.org_ids_of(user), [org]);
    }
}

#[test]
fn group_paths_converge_after_any_single_request_fails() {
    let with_group_id = group(
        Some("u-1"),
        Some("g-1"),
        json!({"name": "Acme", "employeeCount": 9}),
        json!({"name": "Ann", "email": "ann@example.com"}),
    );
    let by_name = group(
        Some("u-2"),
        None,
        json!({"name": "Globex"}),
        json!({"name": "Bob"}),
    );
    assert_retries_converge(json!({}), |_| {}, &[with_group_id, by_name]);
}
