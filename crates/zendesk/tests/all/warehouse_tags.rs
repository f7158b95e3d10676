//! `tagsMode` on user and organization rows: `add` (the default) keeps what agents tagged,
//! `remove` takes the row's tags away, `replace` makes them the whole list. Final state and the
//! exact calls.

use crate::common::{MockHost, SUB};
use mock_zendesk::BulkSettings;
use serde_json::{Value, json};

fn user_row(tags: &str) -> Value {
    json!({"type": "record", "action": "insert",
        "fields": {"name": "Ann", "email": "ann@example.com", "tags": tags},
        "identifiers": {"external_id": "u-1"}})
}

fn org_row(tags: Value) -> Value {
    json!({"type": "record", "action": "insert", "fields": {"name": "Acme", "tags": tags},
        "identifiers": {"external_id": "o-1"}})
}

/// An account where an agent tagged user u-1 `agent_vip` and organization o-1 `agent_flag`.
fn tagged_account() -> (MockHost, u64, u64) {
    let host = MockHost::new();
    let user = host.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1",
            "tags": ["agent_vip"]}),
    );
    let org = host.mock.seed_organization(
        SUB,
        json!({"name": "Acme", "external_id": "o-1", "tags": ["agent_flag"]}),
    );
    host.mock.clear_requests();
    (host, user, org)
}

fn user_tags(host: &MockHost) -> Vec<String> {
    host.mock.account(SUB).users[0].tags.clone()
}

fn org_tags(host: &MockHost) -> Vec<String> {
    host.mock.account(SUB).organizations[0].tags.clone()
}

#[test]
fn user_tags_add_by_default_remove_and_replace() {
    let (host, user, _) = tagged_account();
    let tags_path = format!("/api/v2/users/{user}/tags");
    let users = json!({"objectType": "users"});

    host.send(&users, user_row("Synced, gold"));
    assert_eq!(user_tags(&host), ["agent_vip", "synced", "gold"]);
    assert_eq!(
        host.take_calls(),
        [
            "POST /api/v2/users/create_or_update".to_string(),
            format!("PUT {tags_path}")
        ]
    );
    // Again: the upsert's answer shows the tags in place, so no second tags call.
    host.send(&users, user_row("gold"));
    assert_eq!(host.take_calls(), ["POST /api/v2/users/create_or_update"]);
    assert_eq!(user_tags(&host), ["agent_vip", "synced", "gold"]);

    let remove = json!({"objectType": "users", "tagsMode": "remove"});
    host.send(&remove, user_row("gold"));
    assert_eq!(user_tags(&host), ["agent_vip", "synced"]);
    assert_eq!(
        host.take_calls(),
        [
            "POST /api/v2/users/create_or_update".to_string(),
            format!("DELETE {tags_path}")
        ]
    );
    host.send(&remove, user_row("gold"));
    assert_eq!(host.take_calls(), ["POST /api/v2/users/create_or_update"]);

    let replace = json!({"objectType": "users", "tagsMode": "replace"});
    host.send(&replace, user_row("only"));
    assert_eq!(user_tags(&host), ["only"], "replace wipes the agent's tag");
    assert_eq!(host.take_calls(), ["POST /api/v2/users/create_or_update"]);
}

#[test]
fn a_new_user_gets_its_tags_in_the_creating_call() {
    let host = MockHost::new();
    let insert = json!({"objectType": "users", "syncMode": "insert"});
    host.send(&insert, user_row("gold"));
    assert_eq!(user_tags(&host), ["gold"]);
    let calls = host.take_calls();
    assert_eq!(calls.last().map(String::as_str), Some("POST /api/v2/users"));
    assert!(!calls.iter().any(|c| c.ends_with("/tags")), "{calls:?}");
}

#[test]
fn organization_tags_add_remove_and_replace() {
    let (host, _, org) = tagged_account();
    let tags_path = format!("/api/v2/organizations/{org}/tags");
    let orgs = |mode: &str| json!({"objectType": "organizations", "tagsMode": mode});

    host.send(&orgs("add"), org_row(json!(["tier_1"])));
    assert_eq!(org_tags(&host), ["agent_flag", "tier_1"]);
    let calls = host.take_calls();
    assert_eq!(calls.last(), Some(&format!("PUT {tags_path}")), "{calls:?}");

    host.send(&orgs("remove"), org_row(json!("tier_1")));
    assert_eq!(org_tags(&host), ["agent_flag"]);
    let calls = host.take_calls();
    assert_eq!(
        calls.last(),
        Some(&format!("DELETE {tags_path}")),
        "{calls:?}"
    );

    host.send(&orgs("replace"), org_row(json!(["tier_2"])));
    assert_eq!(org_tags(&host), ["tier_2"]);
    assert!(!host.take_calls().iter().any(|c| c.ends_with("/tags")));
}

/// In a batch, rows under `replace` join the bulk upsert with their tags; rows whose tags need
/// a call of their own (add, remove) run one by one, so the agent's tag still survives.
#[test]
fn batches_keep_the_mode() {
    let bulk_import = BulkSettings {
        user_import: true,
        ..BulkSettings::default()
    };
    let (host, _, _) = tagged_account();
    host.mock.set_bulk(SUB, bulk_import.clone());
    let replace = json!({"objectType": "users", "tagsMode": "replace"});
    host.send_batch(&replace, &[user_row("gold")]).unwrap()[0]
        .as_ref()
        .unwrap();
    assert_eq!(user_tags(&host), ["gold"]);
    let calls = host.take_calls();
    assert!(
        calls.contains(&"POST /api/v2/users/create_or_update_many".to_string()),
        "{calls:?}"
    );

    let (host, user, _) = tagged_account();
    host.mock.set_bulk(SUB, bulk_import);
    host.send_batch(&json!({"objectType": "users"}), &[user_row("silver")])
        .unwrap()[0]
        .as_ref()
        .unwrap();
    assert_eq!(user_tags(&host), ["agent_vip", "silver"]);
    assert_eq!(
        host.take_calls(),
        [
            "POST /api/v2/users/create_or_update".to_string(),
            format!("PUT /api/v2/users/{user}/tags")
        ]
    );
}
