//! `identifierKey` naming a custom field: users and organizations found by the field's value
//! (exactly, though Zendesk's search is fuzzy), updated by id, created when missing, and
//! refused when the value is not unique. Final state and the exact calls.

use crate::common::{MockHost, SUB};
use serde_json::{Value, json};
use zendesk::Error;

fn user_row(member: &str, name: &str, email: &str) -> Value {
    json!({"type": "record", "action": "insert",
        "fields": {"name": name, "email": email, "member_id": member}, "identifiers": {}})
}

fn users(mode: &str) -> Value {
    json!({"objectType": "users", "identifierKey": "member_id", "syncMode": mode})
}

/// Users Ann (member m-1) and Bo (member m-10: what a fuzzy search for m-1 also finds).
fn account() -> (MockHost, u64, u64) {
    let host = MockHost::new();
    host.mock.seed_user_field(SUB, "member_id", "text");
    let ann = host.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@x.com", "user_fields": {"member_id": "m-1"}}),
    );
    let bo = host.mock.seed_user(
        SUB,
        json!({"name": "Bo", "email": "bo@x.com", "user_fields": {"member_id": "m-10"}}),
    );
    host.mock.clear_requests();
    (host, ann, bo)
}

fn name_of(host: &MockHost, id: u64) -> String {
    host.mock.account(SUB).user(id).unwrap().name.clone()
}

#[test]
fn users_are_found_by_the_field_and_updated_by_id() {
    let (host, ann, bo) = account();
    host.send(&users("upsert"), user_row("m-1", "Ann Lee", "ann@x.com"));
    assert_eq!(name_of(&host, ann), "Ann Lee");
    assert_eq!(name_of(&host, bo), "Bo");
    assert_eq!(
        host.take_calls(),
        [
            "GET /api/v2/user_fields?page[size]=100".to_string(),
            "GET /api/v2/users/search?query=member_id%3A%22m-1%22".into(),
            format!("PUT /api/v2/users/{ann}"),
        ]
    );
    // Missing: created with the field set, by create_or_update (which matches by email).
    host.send(&users("upsert"), user_row("m-3", "Cy", "cy@x.com"));
    let account = host.mock.account(SUB);
    let cy = account.users.iter().find(|u| u.name == "Cy").unwrap();
    assert_eq!(cy.user_fields["member_id"], "m-3");
    assert_eq!(
        host.take_calls().last().map(String::as_str),
        Some("POST /api/v2/users/create_or_update")
    );

    let missing = host.send(&users("update"), user_row("m-404", "Nobody", "n@x.com"));
    assert!(
        missing
            .skipped
            .unwrap()
            .starts_with("not found: no Zendesk user has member_id")
    );
    let exists = host.send(&users("insert"), user_row("m-10", "Bo", "bo@x.com"));
    assert_eq!(
        exists.skipped.unwrap(),
        format!(
            "exists: Zendesk user #{bo} has member_id \"m-10\" (syncMode insert never overwrites)"
        )
    );
}

#[test]
fn a_value_two_users_hold_or_an_unknown_field_is_refused() {
    let (host, _, _) = account();
    host.mock.seed_user(
        SUB,
        json!({"name": "Dup", "email": "dup@x.com", "user_fields": {"member_id": "m-1"}}),
    );
    let ambiguous = host.try_send(&users("upsert"), &user_row("m-1", "X", "x@x.com"));
    assert!(
        matches!(&ambiguous, Err(Error::InvalidEvent(m)) if m.starts_with("2 users have member_id")),
        "{ambiguous:?}"
    );
    let unknown = json!({"objectType": "users", "identifierKey": "loyalty_no"});
    let mut row = user_row("m-1", "X", "x@x.com");
    row["fields"]["loyalty_no"] = json!("L-1");
    let refused = host.try_send(&unknown, &row);
    assert!(
        matches!(&refused, Err(Error::InvalidConfig(m)) if m.contains("loyalty_no")),
        "{refused:?}"
    );
    let malformed = json!({"objectType": "users", "identifierKey": "Member Id"});
    let refused = host.try_send(&malformed, &user_row("m-1", "X", "x@x.com"));
    assert!(
        matches!(refused, Err(Error::InvalidConfig(_))),
        "{refused:?}"
    );
    let tickets = json!({"objectType": "tickets", "identifierKey": "member_id"});
    let refused = host.try_send(&tickets, &user_row("m-1", "X", "x@x.com"));
    assert!(
        matches!(refused, Err(Error::InvalidConfig(_))),
        "{refused:?}"
    );
}

#[test]
fn organizations_are_found_through_the_unified_search() {
    let host = MockHost::new();
    host.mock.seed_organization_field(SUB, "account_no", "text");
    let acme = host.mock.seed_organization(
        SUB,
        json!({"name": "Acme", "organization_fields": {"account_no": "A-1"}}),
    );
    host.mock.clear_requests();
    let config = json!({"objectType": "organizations", "identifierKey": "account_no"});
    let row = |no: &str, name: &str| {
        json!({"type": "record", "action": "insert",
            "fields": {"name": name, "account_no": no}, "identifiers": {}})
    };
    host.send(&config, row("A-1", "Acme Inc"));
    let account = host.mock.account(SUB);
    assert_eq!(account.organizations.len(), 1);
    assert_eq!(account.organizations[0].name, "Acme Inc");
    assert_eq!(
        host.take_calls(),
        [
            "GET /api/v2/organization_fields?page[size]=100".to_string(),
            "GET /api/v2/search?query=type%3Aorganization%20account_no%3A%22A-1%22".into(),
            format!("PUT /api/v2/organizations/{acme}"),
        ]
    );
    host.send(&config, row("A-2", "Globex"));
    let account = host.mock.account(SUB);
    assert_eq!(account.organizations.len(), 2);
    assert_eq!(
        account.organizations[1].organization_fields["account_no"],
        "A-2"
    );
}
