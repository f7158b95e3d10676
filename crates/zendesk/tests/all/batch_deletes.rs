//! Delete rows in batches: users and organizations by external id, tickets by id, deleted with
//! `destroy_many` after one `show_many` lookup per 100, to the same final state and outcomes as
//! one at a time, and in order with the same record's other rows.

use crate::batch::{assert_same_state, batched, bulk_on, per_event};
use crate::common::{MockHost, SUB, inject_faults};
use serde_json::{Value, json};

fn delete(external_id: &str) -> Value {
    json!({"type": "record", "action": "delete", "fields": {},
        "identifiers": {"external_id": external_id}})
}

fn upsert_user(n: usize) -> Value {
    json!({"type": "record", "action": "insert",
        "fields": {"name": format!("User {n}"), "email": format!("u{n}@x.com")},
        "identifiers": {"external_id": format!("u-{n}")}})
}

fn seeded() -> MockHost {
    let host = MockHost::new();
    for n in 0..150 {
        host.mock.seed_user(
            SUB,
            json!({"name": format!("User {n}"), "email": format!("u{n}@x.com"),
                "external_id": format!("u-{n}")}),
        );
    }
    for n in 0..120 {
        host.mock.seed_organization(
            SUB,
            json!({"name": format!("Org {n}"), "external_id": format!("o-{n}")}),
        );
    }
    host.mock.clear_requests();
    host
}

fn count(host: &MockHost, method: &str, path: &str) -> usize {
    (host.mock.requests_for(SUB).iter())
        .filter(|r| r.method == method && r.path.starts_with(path))
        .count()
}

#[test]
fn user_and_organization_deletes_take_destroy_many() {
    // 150 users to delete and 5 that never existed (gone: done, with the reason).
    let rows: Vec<Value> = (0..155).map(|n| delete(&format!("u-{n}"))).collect();
    let config = json!({"objectType": "users", "allowDeletes": true});
    let (one, many) = (seeded(), seeded());
    per_event(&one, &config, &rows);
    let outcomes = batched(&many, &config, &rows);
    assert_same_state(&many, &one);
    let account = many.mock.account(SUB);
    assert!(account.users.is_empty());
    assert_eq!(
        account.deleted_users.len(),
        150,
        "soft-deleted, as one at a time"
    );
    let gone: Vec<&str> = (outcomes.iter())
        .filter_map(|o| o.as_ref().unwrap().skipped.as_deref())
        .collect();
    assert_eq!(gone.len(), 5);
    assert_eq!(
        gone[0],
        "gone: no Zendesk user has external_id \"u-150\" (deleted already)"
    );
    assert_eq!(count(&many, "DELETE", "/api/v2/users/destroy_many"), 2);
    assert_eq!(count(&many, "GET", "/api/v2/users/show_many"), 2);
    let calls = many.mock.requests_for(SUB).len();
    println!("{calls} calls for 155 user delete rows");
    assert!(calls <= 6, "{calls} calls");
    // Again: everything is gone, in one lookup a batch and no job.
    many.mock.clear_requests();
    let again = batched(&many, &config, &rows);
    assert!(again.iter().all(|o| o.as_ref().unwrap().skipped.is_some()));
    assert_eq!(many.mock.requests_for(SUB).len(), 2);

    let rows: Vec<Value> = (0..120).map(|n| delete(&format!("o-{n}"))).collect();
    let config = json!({"objectType": "organizations", "allowDeletes": true});
    per_event(&one, &config, &rows);
    batched(&many, &config, &rows);
    assert_same_state(&many, &one);
    assert!(many.mock.account(SUB).organizations.is_empty());
    assert_eq!(
        count(&many, "DELETE", "/api/v2/organizations/destroy_many"),
        2
    );
}

#[test]
fn ticket_deletes_by_id_and_deletes_off() {
    let host = MockHost::new();
    bulk_on(&host.mock);
    let requester = host
        .mock
        .seed_user(SUB, json!({"name": "Ann", "email": "ann@x.com"}));
    let ids: Vec<u64> = (0..3)
        .map(|n| {
            host.mock.handle(&mock_zendesk::Request {
                method: "POST".into(),
                url: format!("https://{SUB}.zendesk.com/api/v2/tickets"),
                headers: vec![("Authorization".into(), "Bearer x".into())],
                body: json!({"ticket": {"subject": format!("T{n}"), "comment": {"body": "x"},
                    "requester_id": requester}})
                .to_string()
                .into_bytes(),
            });
            host.mock.account(SUB).tickets[n].id
        })
        .collect();
    let row = |id: u64| json!({"type": "record", "action": "delete", "fields": {}, "identifiers": {"id": id}});
    let rows: Vec<Value> = ids.iter().map(|&id| row(id)).collect();
    let off = json!({"objectType": "tickets", "syncMode": "update", "identifierKey": "id"});
    let refused = host.send_batch(&off, &rows).unwrap();
    assert!(
        refused
            .iter()
            .all(|r| matches!(r, Err(zendesk::Error::UnsupportedEvent(_))))
    );
    assert_eq!(host.mock.account(SUB).tickets.len(), 3);

    host.mock.clear_requests();
    let mut on = off.clone();
    on["allowDeletes"] = json!(true);
    let done = host.send_batch(&on, &rows).unwrap();
    assert!(
        done.iter().all(|r| r.as_ref().unwrap().skipped.is_none()),
        "{done:?}"
    );
    assert!(host.mock.account(SUB).tickets.is_empty());
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    assert_eq!(
        host.take_calls()[0],
        format!("DELETE /api/v2/tickets/destroy_many?ids={}", list.join(","))
    );
}

/// A record's rows keep their order around a bulk delete: upsert, delete, upsert again ends
/// with the user there (a new one: Zendesk never matches a deleted user), as one at a time.
#[test]
fn rows_of_one_record_keep_their_order_around_a_delete() {
    let rows = vec![
        upsert_user(1),
        delete("u-1"),
        upsert_user(1),
        upsert_user(2),
        delete("u-2"),
    ];
    let config = json!({"objectType": "users", "allowDeletes": true});
    let (one, many) = (MockHost::new(), MockHost::new());
    bulk_on(&many.mock);
    per_event(&one, &config, &rows);
    batched(&many, &config, &rows);
    assert_same_state(&many, &one);
    let account = many.mock.account(SUB);
    let external_ids: Vec<_> = account
        .users
        .iter()
        .map(|u| u.external_id.clone())
        .collect();
    assert_eq!(external_ids, [Some("u-1".to_string())]);
    assert_eq!(account.deleted_users.len(), 2);
}

/// Under 30% faults, failed jobs and failed items, the deletes end as one at a time does (a
/// retried delete whose first job did run finds the record gone: done).
#[test]
fn deletes_under_faults_end_in_the_same_state() {
    let rows: Vec<Value> = (0..155).map(|n| delete(&format!("u-{n}"))).collect();
    let config = json!({"objectType": "users", "allowDeletes": true});
    let one = seeded();
    per_event(&one, &config, &rows);
    let faulty = seeded();
    inject_faults(&faulty, 4);
    batched(&faulty, &config, &rows);
    assert_same_state(&faulty, &one);
    assert_eq!(faulty.mock.account(SUB).deleted_users.len(), 150);
}

/// Ticket rows in batches: looked up one at a time (Zendesk's only way by external id) or
/// remembered, then written by `tickets/create_many` and `update_many`; the same tickets as one
/// at a time, under faults too, and a second sync of the same rows costs the bulk calls alone.
#[test]
fn ticket_rows_take_create_many_and_update_many() {
    let row = |n: usize, priority: &str| {
        json!({"type": "record", "action": "insert",
            "fields": {"subject": format!("Ticket {n}"), "description": "It broke",
                "priority": priority, "requester_email": format!("r{}@x.com", n % 7)},
            "identifiers": {"external_id": format!("t-{n}")}})
    };
    let first: Vec<Value> = (0..150).map(|n| row(n, "high")).collect();
    let second: Vec<Value> = (0..150).map(|n| row(n, "low")).collect();
    let config = json!({"objectType": "tickets"});
    let (one, many) = (MockHost::new(), MockHost::new());
    per_event(&one, &config, &first);
    batched(&many, &config, &first);
    assert_same_state(&many, &one);
    assert_eq!(many.mock.account(SUB).tickets.len(), 150);
    assert_eq!(count(&many, "POST", "/api/v2/tickets/create_many"), 2);
    assert_eq!(
        count(&many, "POST", "/api/v2/tickets"),
        2,
        "no single creates"
    );

    many.mock.clear_requests();
    per_event(&one, &config, &second);
    batched(&many, &config, &second);
    assert_same_state(&many, &one);
    let calls = many.mock.requests_for(SUB).len();
    println!("{calls} calls for the second sync of 150 ticket rows");
    assert_eq!(count(&many, "PUT", "/api/v2/tickets/update_many"), 2);
    assert_eq!(count(&many, "GET", "/api/v2/tickets?"), 0, "remembered");
    assert!(calls <= 6, "{calls}");

    let insert = json!({"objectType": "tickets", "syncMode": "insert"});
    let skipped = batched(&many, &insert, &first);
    assert!(skipped.iter().all(|o| {
        o.as_ref()
            .unwrap()
            .skipped
            .as_deref()
            .is_some_and(|s| s.starts_with("exists: Zendesk ticket #"))
    }));

    let faulty = MockHost::new();
    inject_faults(&faulty, 6);
    batched(&faulty, &config, &first);
    batched(&faulty, &config, &second);
    assert_same_state(&faulty, &one);
}
