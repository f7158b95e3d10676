use serde_json::{Value, json};

use super::{SUB, collect_cursor_pages, collect_offset_pages, expect, send};
use crate::MockZendesk;

#[test]
fn create_or_update_matches_external_id_never_the_name() {
    let mock = MockZendesk::new();
    mock.seed_organization_field(SUB, "tier", "text");
    let created = expect(
        &mock,
        "POST",
        "/api/v2/organizations/create_or_update.json",
        Some(
            json!({"organization": {"name": "Acme", "external_id": "g-1", "domain_names": ["acme.com"],
            "tags": ["vip"], "url": "https://acme.com", "deleted": false,
            "organization_fields": {"tier": "gold", "unknown": 1}}}),
        ),
        201,
    );
    let id = created["organization"]["id"].as_u64().unwrap_or(0);
    assert_eq!(id, 5000);
    assert_eq!(
        created["organization"]["organization_fields"],
        json!({"tier": "gold"})
    );

    let updated = expect(
        &mock,
        "POST",
        "/api/v2/organizations/create_or_update",
        Some(json!({"organization": {"name": "Acme Inc", "external_id": "G-1", "tags": "a b"}})),
        200,
    );
    assert_eq!(updated["organization"]["id"], id);

    // Same name (trimmed, other case) with another external_id: not a match, a duplicate.
    let duplicate = expect(
        &mock,
        "POST",
        "/api/v2/organizations/create_or_update",
        Some(json!({"organization": {"name": " acme inc ", "external_id": "g-2"}})),
        422,
    );
    assert_eq!(
        duplicate,
        json!({"error": "RecordInvalid", "description": "Record validation errors",
            "details": {"name": [{"description": "Name: has already been taken", "error": "DuplicateValue"}]}})
    );
    let blank = expect(
        &mock,
        "POST",
        "/api/v2/organizations",
        Some(json!({"organization": {"external_id": "g-3"}})),
        422,
    );
    assert_eq!(blank["details"]["name"][0]["error"], "BlankValue");

    let state = mock.account(SUB);
    assert_eq!(state.organizations.len(), 1);
    let org = &state.organizations[0];
    assert_eq!(org.name, "Acme Inc");
    assert_eq!(org.external_id.as_deref(), Some("G-1"));
    assert_eq!(org.domain_names, vec!["acme.com"]);
    assert_eq!(org.tags, vec!["a", "b"]);
    assert_eq!(org.url.as_deref(), Some("https://acme.com"));
    assert_eq!(org.deleted, Some(false));
    assert_eq!(
        Value::Object(org.organization_fields.clone()),
        json!({"tier": "gold"})
    );
}

#[test]
fn put_updates_and_404s_unknown_organizations() {
    let mock = MockZendesk::new();
    let id = mock.seed_organization(SUB, json!({"name": "Acme"}));
    mock.seed_organization(SUB, json!({"name": "Other"}));
    let body = json!({"organization": {"notes": "hello"}});
    expect(
        &mock,
        "PUT",
        &format!("/api/v2/organizations/{id}"),
        Some(body.clone()),
        200,
    );
    expect(&mock, "PUT", "/api/v2/organizations/1", Some(body), 404);
    let rename = json!({"organization": {"name": "other"}});
    expect(
        &mock,
        "PUT",
        &format!("/api/v2/organizations/{id}.json"),
        Some(rename),
        422,
    );
    let org = mock.account(SUB).organization(id).cloned();
    assert_eq!(
        org.map(|o| (o.name, o.notes)),
        Some(("Acme".into(), Some("hello".into())))
    );
}

#[test]
fn organization_search_is_exact_and_case_insensitive() {
    let mock = MockZendesk::new();
    let acme = mock.seed_organization(SUB, json!({"name": "Acme", "external_id": "A1"}));
    mock.seed_organization(SUB, json!({"name": "Acme Corp", "external_id": "A10"}));
    let by_name = expect(
        &mock,
        "GET",
        "/api/v2/organizations/search?name=ACME",
        None,
        200,
    );
    assert_eq!(by_name["count"], 1);
    assert_eq!(by_name["organizations"][0]["id"], acme);
    let by_external = expect(
        &mock,
        "GET",
        "/api/v2/organizations/search.json?external_id=a1",
        None,
        200,
    );
    assert_eq!(by_external["organizations"][0]["id"], acme);
    assert_eq!(by_external["count"], 1);
    let none = expect(
        &mock,
        "GET",
        "/api/v2/organizations/search?name=Acm",
        None,
        200,
    );
    assert_eq!(none["count"], 0);
    expect(
        &mock,
        "GET",
        "/api/v2/organizations/search?name=Acme&external_id=A1",
        None,
        400,
    );
}

#[test]
fn duplicate_membership_is_422_and_the_first_membership_is_the_default() {
    let mock = MockZendesk::new();
    let user = mock.seed_user(SUB, json!({"name": "Ann"}));
    let org = mock.seed_organization(SUB, json!({"name": "Acme"}));
    let body = json!({"organization_membership": {"user_id": user, "organization_id": org}});
    let created = expect(
        &mock,
        "POST",
        "/api/v2/organization_memberships.json",
        Some(body.clone()),
        201,
    );
    assert_eq!(created["organization_membership"]["default"], true);
    assert_eq!(
        created["organization_membership"]["organization_name"],
        "Acme"
    );
    let again = expect(
        &mock,
        "POST",
        "/api/v2/organization_memberships",
        Some(body),
        422,
    );
    assert_eq!(
        again,
        json!({"error": "RecordInvalid", "description": "Record validation errors",
            "details": {"user_id": [{"description": "User is already a member of this organization", "error": "DuplicateValue"}]}})
    );
    let unknown_org = json!({"organization_membership": {"user_id": user, "organization_id": 1}});
    let missing = expect(
        &mock,
        "POST",
        "/api/v2/organization_memberships",
        Some(unknown_org),
        422,
    );
    assert_eq!(missing["details"]["organization"][0]["error"], "BlankValue");
    let state = mock.account(SUB);
    assert_eq!(state.memberships.len(), 1);
    assert_eq!(state.user(user).and_then(|u| u.organization_id), Some(org));
}

/// 120 organizations named in reverse order; the default (first) membership is "Org 119".
fn user_with_120_memberships(mock: &MockZendesk) -> (u64, Vec<String>) {
    let user = mock.seed_user(SUB, json!({"name": "Many"}));
    for n in (0..120).rev() {
        let org = mock.seed_organization(SUB, json!({"name": format!("Org {n:03}")}));
        mock.seed_membership(SUB, user, org);
    }
    let mut expected: Vec<String> = (0..119).map(|n| format!("Org {n:03}")).collect();
    expected.insert(0, "Org 119".to_string());
    (user, expected)
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|m| {
            m["organization_name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn more_than_100_memberships_paginate_both_ways_default_first_then_by_name() {
    let mock = MockZendesk::new();
    let (user, expected) = user_with_120_memberships(&mock);
    let path = format!("/api/v2/users/{user}/organization_memberships.json");

    let first = expect(&mock, "GET", &format!("{path}?page[size]=100"), None, 200);
    assert_eq!(
        first["organization_memberships"].as_array().map(Vec::len),
        Some(100)
    );
    assert_eq!(first["meta"]["has_more"], true);
    let (cursor_items, cursor_pages) = collect_cursor_pages(
        &mock,
        &format!("{path}?page[size]=100"),
        "organization_memberships",
    );
    assert_eq!(cursor_pages, 2);
    assert_eq!(names(&cursor_items), expected);
    assert_eq!(cursor_items[0]["default"], true);
    assert_eq!(cursor_items[1]["default"], json!(null));

    let plain = expect(&mock, "GET", &path, None, 200);
    assert_eq!(
        plain["organization_memberships"].as_array().map(Vec::len),
        Some(100)
    );
    assert_eq!(plain["count"], 120);
    let (offset_items, offset_pages) = collect_offset_pages(
        &mock,
        &format!("{path}?per_page=50"),
        "organization_memberships",
    );
    assert_eq!(offset_pages, 3);
    assert_eq!(names(&offset_items), expected);

    expect(&mock, "GET", &format!("{path}?page[size]=101"), None, 400);
}

#[test]
fn memberships_are_deleted_three_ways_and_the_default_moves_on() {
    let mock = MockZendesk::new();
    let user = mock.seed_user(SUB, json!({"name": "Ann"}));
    let orgs: Vec<u64> = ["Alpha", "Beta", "Gamma"]
        .iter()
        .map(|name| mock.seed_organization(SUB, json!({"name": name})))
        .collect();
    let memberships: Vec<u64> = orgs
        .iter()
        .map(|org| mock.seed_membership(SUB, user, *org))
        .collect();

    assert_eq!(
        send(
            &mock,
            "DELETE",
            &format!("/api/v2/organization_memberships/{}", memberships[0]),
            None
        )
        .status,
        204
    );
    assert_eq!(
        mock.account(SUB).user(user).and_then(|u| u.organization_id),
        Some(orgs[1])
    );
    let by_user = format!(
        "/api/v2/users/{user}/organization_memberships/{}.json",
        memberships[1]
    );
    assert_eq!(send(&mock, "DELETE", &by_user, None).status, 204);
    assert_eq!(send(&mock, "DELETE", &by_user, None).status, 404);
    let unassign = format!("/api/v2/users/{user}/organizations/{}", orgs[2]);
    assert_eq!(send(&mock, "DELETE", &unassign, None).status, 204);
    assert_eq!(send(&mock, "DELETE", &unassign, None).status, 404);
    let state = mock.account(SUB);
    assert!(state.memberships.is_empty());
    assert_eq!(state.user(user).and_then(|u| u.organization_id), None);

    let listed = expect(
        &mock,
        "GET",
        &format!("/api/v2/organizations/{}/organization_memberships", orgs[0]),
        None,
        200,
    );
    assert_eq!(listed["count"], 0);
}

#[test]
fn make_default_moves_the_default_membership() {
    let mock = MockZendesk::new();
    let user = mock.seed_user(SUB, json!({"name": "Ann"}));
    let alpha = mock.seed_organization(SUB, json!({"name": "Alpha"}));
    let beta = mock.seed_organization(SUB, json!({"name": "Beta"}));
    let gamma = mock.seed_organization(SUB, json!({"name": "Gamma"}));
    for org in [gamma, alpha, beta] {
        mock.seed_membership(SUB, user, org);
    }
    assert_eq!(
        mock.account(SUB).organization_ids_of(user),
        vec![gamma, alpha, beta]
    );
    let body = expect(
        &mock,
        "PUT",
        &format!("/api/v2/users/{user}/organizations/{beta}/make_default"),
        Some(json!({})),
        200,
    );
    assert_eq!(
        names(
            body["organization_memberships"]
                .as_array()
                .map_or(&[][..], Vec::as_slice)
        ),
        vec!["Beta", "Alpha", "Gamma"]
    );
    let state = mock.account(SUB);
    assert_eq!(state.user(user).and_then(|u| u.organization_id), Some(beta));
    let alpha_membership = state.membership(user, alpha).map(|m| m.id).unwrap_or(0);
    let path = format!(
        "/api/v2/users/{user}/organization_memberships/{alpha_membership}/make_default.json"
    );
    expect(&mock, "PUT", &path, Some(json!({})), 200);
    assert_eq!(
        mock.account(SUB).organization_ids_of(user),
        vec![alpha, beta, gamma]
    );
    expect(
        &mock,
        "PUT",
        &format!("/api/v2/users/{user}/organizations/1/make_default"),
        None,
        404,
    );
}
