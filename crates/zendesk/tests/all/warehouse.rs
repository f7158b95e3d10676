//! Warehouse sync (`record` events) against the stateful mock, natively: every sync mode for
//! every object type with the record existing and missing, required fields, identifier keys,
//! field mapping, a replayed stream, and 30% injected faults ending in the clean state.

use crate::common::{MockHost, SUB};
use mock_zendesk::{Faults, MockZendesk, Request};
use serde_json::{Value, json};
use zendesk::Error;

const USER_FIELDS: &str = "GET /api/v2/user_fields?page[size]=100";
const ORG_FIELDS: &str = "GET /api/v2/organization_fields?page[size]=100";
const TICKET_FIELDS: &str = "GET /api/v2/ticket_fields?page[size]=100";

fn record(fields: Value, identifiers: Value) -> Value {
    json!({"type": "record", "action": "insert", "fields": fields, "identifiers": identifiers})
}

fn user_record(name: &str, plan: &str) -> Value {
    record(
        json!({"name": name, "email": "ann@example.com", "plan": plan}),
        json!({"external_id": "u-1"}),
    )
}

fn org_record(name: &str, plan: &str) -> Value {
    record(
        json!({"name": name, "domain_names": "acme.io, acme.com", "plan": plan}),
        json!({"external_id": "o-1"}),
    )
}

fn ticket_record(subject: &str, plan: &str) -> Value {
    record(
        json!({"subject": subject, "description": "It broke", "priority": "high",
            "requester_email": "ann@example.com", "Plan": plan}),
        json!({"external_id": "t-1"}),
    )
}

/// An account with the custom fields the records write (a user and an organization field
/// `plan`, a ticket field titled `Plan`), optionally with the record already there.
fn account(existing: bool) -> (MockHost, u64) {
    let host = MockHost::new();
    host.mock.seed_user_field(SUB, "plan", "text");
    host.mock.seed_organization_field(SUB, "plan", "text");
    let plan = host.mock.seed_ticket_field(SUB, "Plan", "text");
    if existing {
        let requester = host.mock.seed_user(
            SUB,
            json!({"name": "Old", "email": "ann@example.com", "external_id": "u-1"}),
        );
        host.mock
            .seed_organization(SUB, json!({"name": "Old Org", "external_id": "o-1"}));
        let created = host.mock.handle(&Request {
            method: "POST".into(),
            url: format!("https://{SUB}.zendesk.com/api/v2/tickets"),
            headers: vec![("Authorization".into(), "Bearer x".into())],
            body: json!({"ticket": {"subject": "Old", "comment": {"body": "first"},
                "external_id": "t-1", "requester_id": requester}})
            .to_string()
            .into_bytes(),
        });
        assert_eq!(created.status, 201);
    }
    host.mock.clear_requests();
    (host, plan)
}

fn sync_config(object: &str, mode: &str) -> Value {
    json!({"objectType": object, "syncMode": mode})
}

/// (object, mode, existing, expected skip prefix, expected calls)
type Case = (
    &'static str,
    &'static str,
    bool,
    Option<&'static str>,
    Vec<String>,
);

fn cases() -> Vec<Case> {
    let s = |calls: &[&str]| calls.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let user_search = "GET /api/v2/users/search?external_id=u-1";
    let org_search = "GET /api/v2/organizations/search?external_id=o-1";
    let ticket_search = "GET /api/v2/tickets?external_id=t-1";
    vec![
        (
            "users",
            "upsert",
            false,
            None,
            s(&[USER_FIELDS, "POST /api/v2/users/create_or_update"]),
        ),
        (
            "users",
            "upsert",
            true,
            None,
            s(&[USER_FIELDS, "POST /api/v2/users/create_or_update"]),
        ),
        (
            "users",
            "insert",
            false,
            None,
            s(&[user_search, USER_FIELDS, "POST /api/v2/users"]),
        ),
        ("users", "insert", true, Some("exists"), s(&[user_search])),
        (
            "users",
            "update",
            false,
            Some("not found"),
            s(&[user_search]),
        ),
        (
            "users",
            "update",
            true,
            None,
            s(&[user_search, USER_FIELDS, "PUT /api/v2/users/1000"]),
        ),
        (
            "organizations",
            "upsert",
            false,
            None,
            s(&[ORG_FIELDS, "POST /api/v2/organizations/create_or_update"]),
        ),
        (
            "organizations",
            "upsert",
            true,
            None,
            s(&[ORG_FIELDS, "POST /api/v2/organizations/create_or_update"]),
        ),
        (
            "organizations",
            "insert",
            false,
            None,
            s(&[org_search, ORG_FIELDS, "POST /api/v2/organizations"]),
        ),
        (
            "organizations",
            "insert",
            true,
            Some("exists"),
            s(&[org_search]),
        ),
        (
            "organizations",
            "update",
            false,
            Some("not found"),
            s(&[org_search]),
        ),
        (
            "organizations",
            "update",
            true,
            None,
            s(&[org_search, ORG_FIELDS, "PUT /api/v2/organizations/5000"]),
        ),
        (
            "tickets",
            "upsert",
            false,
            None,
            s(&[ticket_search, TICKET_FIELDS, "POST /api/v2/tickets"]),
        ),
        (
            "tickets",
            "upsert",
            true,
            None,
            s(&[ticket_search, TICKET_FIELDS, "PUT /api/v2/tickets/1"]),
        ),
        (
            "tickets",
            "insert",
            false,
            None,
            s(&[ticket_search, TICKET_FIELDS, "POST /api/v2/tickets"]),
        ),
        (
            "tickets",
            "insert",
            true,
            Some("exists"),
            s(&[ticket_search]),
        ),
        (
            "tickets",
            "update",
            false,
            Some("not found"),
            s(&[ticket_search]),
        ),
        (
            "tickets",
            "update",
            true,
            None,
            s(&[ticket_search, TICKET_FIELDS, "PUT /api/v2/tickets/1"]),
        ),
    ]
}

#[test]
fn every_mode_of_every_object_with_the_record_existing_and_missing() {
    for (object, mode, existing, skipped, calls) in cases() {
        let case = format!("{object} {mode} (existing: {existing})");
        let (host, plan_field) = account(existing);
        let event = match object {
            "users" => user_record("Ann", "pro"),
            "organizations" => org_record("Acme", "pro"),
            _ => ticket_record("Help", "pro"),
        };
        let outcome = host.send(&sync_config(object, mode), event);
        match (skipped, &outcome.skipped) {
            (None, None) => {}
            (Some(prefix), Some(reason)) => assert!(reason.starts_with(prefix), "{case}: {reason}"),
            (expected, got) => panic!("{case}: skipped {got:?}, expected {expected:?}"),
        }
        assert_eq!(host.take_calls(), calls, "{case}");

        // What a write leaves; a skip leaves the account as it was.
        let state = host.mock.account(SUB);
        let written = skipped.is_none();
        match object {
            "users" => {
                let user = state.user_by_external_id("u-1");
                assert_eq!(
                    state.users.len(),
                    usize::from(existing || written),
                    "{case}"
                );
                if let Some(user) = user {
                    let expect_name = if written { "Ann" } else { "Old" };
                    assert_eq!(user.name, expect_name, "{case}");
                    assert_eq!(user.email.as_deref(), Some("ann@example.com"), "{case}");
                    let plan = written.then(|| json!("pro"));
                    assert_eq!(user.user_fields.get("plan").cloned(), plan, "{case}");
                }
            }
            "organizations" => {
                assert_eq!(
                    state.organizations.len(),
                    usize::from(existing || written),
                    "{case}"
                );
                if let Some(org) = state.organization_by_external_id("o-1") {
                    let expect_name = if written { "Acme" } else { "Old Org" };
                    assert_eq!(org.name, expect_name, "{case}");
                    if written {
                        assert_eq!(org.domain_names, vec!["acme.io", "acme.com"], "{case}");
                        assert_eq!(org.organization_fields["plan"], "pro", "{case}");
                    }
                }
            }
            _ => {
                assert_eq!(
                    state.tickets.len(),
                    usize::from(existing || written),
                    "{case}"
                );
                if let Some(ticket) = state.tickets_by_external_id("t-1").first() {
                    let expect_subject = if written { "Help" } else { "Old" };
                    assert_eq!(ticket.subject.as_deref(), Some(expect_subject), "{case}");
                    // An existing ticket keeps its description: a sync never rewrites it.
                    let description = if existing { "first" } else { "It broke" };
                    assert_eq!(ticket.description, description, "{case}");
                    if written {
                        assert_eq!(ticket.priority.as_deref(), Some("high"), "{case}");
                        assert_eq!(ticket.custom_fields.len(), 1, "{case}");
                        assert_eq!(ticket.custom_fields[0].id, plan_field, "{case}");
                        assert_eq!(ticket.custom_fields[0].value, "pro", "{case}");
                    }
                    if written && !existing {
                        let requester = state.user(ticket.requester_id).unwrap();
                        assert_eq!(requester.email.as_deref(), Some("ann@example.com"));
                    }
                }
            }
        }
    }
}

#[test]
fn a_missing_required_field_fails_before_any_call() {
    for (object, fields, missing) in [
        ("users", json!({"name": "Ann"}), "`email`"),
        ("users", json!({"email": "a@x.com", "name": " "}), "`name`"),
        ("organizations", json!({"plan": "x"}), "`name`"),
        ("tickets", json!({"subject": "Hi"}), "`description`"),
        ("tickets", json!({"description": "Hi"}), "`subject`"),
    ] {
        let (host, _) = account(false);
        for mode in ["upsert", "insert", "update"] {
            let event = record(fields.clone(), json!({"external_id": "x-1"}));
            match host.try_send(&sync_config(object, mode), &event) {
                Err(Error::InvalidEvent(message)) => {
                    assert!(message.contains(missing), "{object}: {message}")
                }
                other => panic!("{object} {mode}: {other:?}"),
            }
        }
        assert!(host.take_calls().is_empty(), "{object}");
    }
}

#[test]
fn records_need_an_object_type_and_their_identifier() {
    let (host, _) = account(false);
    let event = user_record("Ann", "pro");
    assert!(matches!(
        host.try_send(&json!({}), &event),
        Err(Error::InvalidConfig(m)) if m.contains("objectType")
    ));
    let no_id = record(json!({"name": "Ann", "email": "a@x.com"}), json!({}));
    assert!(matches!(
        host.try_send(&sync_config("users", "upsert"), &no_id),
        Err(Error::InvalidEvent(m)) if m.contains("`external_id`")
    ));
    let delete = json!({"type": "record", "action": "delete", "fields": {"name": "A"}});
    assert!(matches!(
        host.try_send(&sync_config("users", "upsert"), &delete),
        Err(Error::UnsupportedEvent(_))
    ));
    assert!(host.take_calls().is_empty());
}

#[test]
fn users_by_email_and_by_zendesk_id() {
    let (host, _) = account(true);
    let by_email = json!({"objectType": "users", "syncMode": "update", "identifierKey": "email"});
    let event = record(
        json!({"name": "Ann E", "email": "ann@example.com"}),
        json!({}),
    );
    assert_eq!(host.send(&by_email, event).skipped, None);
    assert_eq!(
        host.take_calls(),
        vec![
            "GET /api/v2/users/search?query=email%3A%22ann%40example.com%22",
            "PUT /api/v2/users/1000"
        ]
    );
    let by_id = json!({"objectType": "users", "syncMode": "update", "identifierKey": "id"});
    let event = record(
        json!({"name": "Ann I", "email": "ann@example.com"}),
        json!({"id": 1000}),
    );
    assert_eq!(host.send(&by_id, event).skipped, None);
    assert_eq!(host.take_calls(), vec!["PUT /api/v2/users/1000"]);
    assert_eq!(host.mock.account(SUB).users[0].name, "Ann I");
    let event = record(
        json!({"name": "Nobody", "email": "n@x.com"}),
        json!({"id": 999}),
    );
    let skipped = host.send(&by_id, event).skipped.unwrap();
    assert!(
        skipped.starts_with("not found: no Zendesk user has id 999"),
        "{skipped}"
    );
    assert_eq!(host.mock.account(SUB).users.len(), 1);
}

#[test]
fn field_mapping_renames_columns_and_leaves_unmapped_ones_out() {
    let (host, _) = account(false);
    let config = json!({"objectType": "users", "fieldMapping": [
        {"from": "full_name", "to": "name"}, {"from": "work_email", "to": "email"},
        {"from": "home_email", "to": "email"}, {"from": "tier", "to": "plan"},
        {"from": "favoriteColor", "to": "favoriteColor"}, {"from": "uid", "to": "external_id"}]});
    let event = record(
        json!({"full_name": "Ann", "work_email": null, "home_email": "ann@home.com",
            "tier": "gold", "favoriteColor": "red", "_fivetran_synced": "2024-01-01"}),
        json!({"uid": "u-7"}),
    );
    host.send(&config, event);
    let state = host.mock.account(SUB);
    let user = state.user_by_external_id("u-7").expect("created");
    assert_eq!(user.name, "Ann");
    // The first mapped column with a value wins.
    assert_eq!(user.email.as_deref(), Some("ann@home.com"));
    assert_eq!(user.user_fields["plan"], "gold");
    // A new field is created under its snake_case key; the unmapped column is not written.
    assert_eq!(user.user_fields["favorite_color"], "red");
    assert!(state.user_field("fivetran_synced").is_none());
    assert_eq!(state.user_fields.len(), 2);
}

/// A stream of upserts over all three objects, with repeated and changed rows.
fn upsert_stream() -> Vec<(Value, Value)> {
    let mut stream = Vec::new();
    for i in 0..12 {
        let plan = if i % 3 == 0 { "pro" } else { "free" };
        stream.push((
            sync_config("users", "upsert"),
            record(
                json!({"name": format!("User {i}"), "email": format!("u{i}@x.com"), "plan": plan,
                    "seats": i}),
                json!({"external_id": format!("u-{i}")}),
            ),
        ));
        if i % 2 == 0 {
            stream.push((
                sync_config("organizations", "upsert"),
                record(
                    json!({"name": format!("Org {}", i / 2), "plan": plan}),
                    json!({"external_id": format!("o-{}", i / 2)}),
                ),
            ));
        }
        if i % 4 == 0 {
            stream.push((
                sync_config("tickets", "upsert"),
                record(
                    json!({"subject": format!("Ticket {i}"), "description": "d",
                        "requester_email": format!("u{i}@x.com"), "Plan": plan}),
                    json!({"external_id": format!("t-{i}")}),
                ),
            ));
        }
    }
    stream
}

/// The account without ids' timestamps: what a sync must leave.
fn final_state(mock: &MockZendesk) -> Value {
    let state = mock.account(SUB);
    json!({
        "users": state.users.iter().map(|u| json!([u.id, u.external_id, u.name, u.email,
            u.user_fields])).collect::<Vec<_>>(),
        "organizations": state.organizations.iter().map(|o| json!([o.id, o.external_id, o.name,
            o.organization_fields])).collect::<Vec<_>>(),
        "tickets": state.tickets.iter().map(|t| json!([t.id, t.external_id, t.subject,
            t.description, t.requester_id, t.custom_fields])).collect::<Vec<_>>(),
        "fields": [state.user_fields.len(), state.organization_fields.len(), state.ticket_fields.len()],
    })
}

fn deliver(host: &MockHost, stream: &[(Value, Value)]) -> usize {
    let mut attempts = 0;
    for (config, event) in stream {
        // The host's retry, reduced to its essence: again until it is not retryable.
        loop {
            attempts += 1;
            match host.try_send(config, event) {
                Err(Error::Retryable { .. }) if attempts < 10_000 => continue,
                Err(error) => panic!("{event}: {error}"),
                Ok(_) => break,
            }
        }
    }
    attempts
}

#[test]
fn a_replayed_record_stream_duplicates_nothing() {
    let (host, _) = account(false);
    let stream = upsert_stream();
    deliver(&host, &stream);
    let once = final_state(&host.mock);
    assert_eq!(once["users"].as_array().unwrap().len(), 12);
    assert_eq!(once["organizations"].as_array().unwrap().len(), 6);
    assert_eq!(once["tickets"].as_array().unwrap().len(), 3);
    deliver(&host, &stream);
    assert_eq!(final_state(&host.mock), once, "a replay changes nothing");
    // Insert mode on a replay skips every record as existing.
    for (config, event) in &stream {
        let mut config = config.clone();
        config["syncMode"] = "insert".into();
        let skipped = host
            .send(&config, event.clone())
            .skipped
            .unwrap_or_default();
        assert!(skipped.starts_with("exists"), "{event}: {skipped}");
    }
    assert_eq!(final_state(&host.mock), once);
}

#[test]
fn thirty_percent_faults_end_in_the_clean_state() {
    let (clean, _) = account(false);
    let stream = upsert_stream();
    deliver(&clean, &stream);

    let faults: Faults = "rate=0.3,seed=11,kinds=429|500|503|409,retry_after=1"
        .parse()
        .unwrap();
    let (faulty, _) = account(false);
    faulty.mock.set_faults(faults);
    let attempts = deliver(&faulty, &stream);
    assert!(attempts > stream.len(), "faults were injected");
    assert_eq!(final_state(&faulty.mock), final_state(&clean.mock));
}

/// The 10,000-record figure is measured by `cargo bench -p host-test` (release, through wasm).
#[test]
fn user_upserts_cost_one_call_each() {
    let host = MockHost::new();
    let config = sync_config("users", "upsert");
    let records = 1_000;
    for i in 0..records {
        host.send(
            &config,
            record(
                json!({"name": format!("User {i}"), "email": format!("u{i}@x.com"),
                    "plan": if i % 2 == 0 { "pro" } else { "free" }}),
                json!({"external_id": format!("u-{i}")}),
            ),
        );
    }
    let calls = host.take_calls().len();
    let per_record = calls as f64 / records as f64;
    println!("{records}-record users upsert: {calls} Zendesk calls, {per_record:.4} per record");
    // One create_or_update per record, plus listing and creating the `plan` field once.
    assert_eq!(calls, records + 2);
    assert_eq!(host.mock.account(SUB).users.len(), records);
}

/// `action: delete` deletes, when `allowDeletes` is on: the user (soft delete), the
/// organization and the ticket the row's identifier names, found as for an update. A row whose
/// object is gone already (or deleted by its first attempt) is done, with the reason. Off, a
/// delete row is refused before any call.
#[test]
fn delete_rows_delete_when_allowed_and_are_done_when_gone() {
    let delete = |identifiers: Value| json!({"type": "record", "action": "delete", "fields": {}, "identifiers": identifiers});
    for (object, identifiers, path) in [
        ("users", json!({"external_id": "u-1"}), "/api/v2/users/"),
        (
            "organizations",
            json!({"external_id": "o-1"}),
            "/api/v2/organizations/",
        ),
        ("tickets", json!({"external_id": "t-1"}), "/api/v2/tickets/"),
    ] {
        let (host, _) = account(true);
        let row = delete(identifiers);
        let off = host.try_send(&sync_config(object, "upsert"), &row);
        assert!(
            matches!(&off, Err(Error::UnsupportedEvent(m)) if m.contains("allowDeletes")),
            "{object}: {off:?}"
        );
        assert!(host.take_calls().is_empty(), "{object}: no call when off");

        let config = json!({"objectType": object, "syncMode": "upsert", "allowDeletes": true});
        let outcome = host.send(&config, row.clone());
        assert_eq!(outcome.skipped, None, "{object}");
        let calls = host.take_calls();
        let deleted = calls.last().unwrap();
        assert!(
            deleted.starts_with(&format!("DELETE {path}")),
            "{object}: {calls:?}"
        );
        let state = host.mock.account(SUB);
        let (left, soft_deleted) = match object {
            "users" => (state.users.len(), state.deleted_users.len()),
            "organizations" => (state.organizations.len(), 0),
            _ => (state.tickets.len(), 0),
        };
        assert_eq!(left, 0, "{object}: gone");
        assert_eq!(
            soft_deleted,
            usize::from(object == "users"),
            "{object}: a user is soft-deleted"
        );

        // Again (a replay): gone already (a cached id answers 404), done.
        let again = host.send(&config, row);
        let reason = again.skipped.unwrap();
        assert!(
            reason.starts_with("gone: no Zendesk "),
            "{object}: {reason}"
        );
    }
}

/// A privacy erasure: a user row with `action: delete` and `permanent: true` removes the
/// person's Events API profiles (and their events), soft-deletes the user and deletes them for
/// good, each step in the outcome's operations. After a partial run (the user soft-deleted
/// only) it completes; once done, a replay is `gone`.
#[test]
fn a_permanent_delete_erases_the_person_and_completes_after_a_partial_run() {
    let erase = json!({"type": "record", "action": "delete", "permanent": true,
        "identifiers": {"external_id": "u-1"}});
    let config = json!({"objectType": "users", "syncMode": "upsert", "allowDeletes": true});
    for partial in [false, true] {
        let (host, _) = account(true);
        host.send(
            &json!({}),
            json!({"type": "track", "userId": "u-1", "event": "Paid"}),
        );
        let state = host.mock.account(SUB);
        assert_eq!((state.events.len(), state.profiles.len()), (1, 1));
        let id = state.users[0].id;
        let profile = state.profiles[0].id.clone();
        if partial {
            // An earlier attempt soft-deleted the user, then failed.
            let soft = json!({"type": "record", "action": "delete", "identifiers": {"external_id": "u-1"}});
            host.send(&config, soft);
        }
        host.take_calls();

        let outcome = host.send(&config, erase.clone());
        assert_eq!(outcome.skipped, None);
        let steps: Vec<String> = outcome
            .operations
            .iter()
            .map(|o| format!("{} {} {}", o.method, o.path, o.status))
            .collect();
        let soft_delete = if partial { 404 } else { 200 };
        assert_eq!(
            steps,
            vec![
                format!("GET /api/v2/users/{id}/profiles 200"),
                format!("DELETE /api/v2/user_profiles/{profile} 204"),
                format!("DELETE /api/v2/users/{id} {soft_delete}"),
                format!("DELETE /api/v2/deleted_users/{id} 200"),
            ],
            "partial: {partial}"
        );
        let state = host.mock.account(SUB);
        assert!(state.users.is_empty() && state.deleted_users.is_empty());
        assert!(state.profiles.is_empty() && state.events.is_empty());

        let again = host.send(&config, erase.clone());
        assert!(
            again
                .skipped
                .unwrap()
                .starts_with("gone: no Zendesk user has external_id \"u-1\"")
        );
    }

    // Without allowDeletes, or for another object type, nothing is erased.
    let (host, _) = account(true);
    let off = host.try_send(&json!({"objectType": "users"}), &erase);
    assert!(matches!(off, Err(Error::UnsupportedEvent(_))), "{off:?}");
    let orgs = json!({"objectType": "organizations", "allowDeletes": true});
    let wrong = host.try_send(
        &orgs,
        &json!({"type": "record", "action": "delete",
        "permanent": true, "identifiers": {"external_id": "o-1"}}),
    );
    assert!(matches!(wrong, Err(Error::InvalidEvent(m)) if m.contains("objectType users")));
    assert_eq!(host.mock.account(SUB).users.len(), 1);
}

/// `objectType: organization_memberships`: a row names a user (by email or external id) and an
/// organization (by external id). Insert makes the membership once; delete (with
/// `allowDeletes`) removes it; a missing user is waited for, a missing organization named.
#[test]
fn membership_rows_join_and_leave_organizations() {
    let (host, _) = account(true);
    let row = |action: &str, user: Value| {
        let mut identifiers = json!({"organization_external_id": "o-1"});
        identifiers
            .as_object_mut()
            .unwrap()
            .extend(user.as_object().unwrap().clone());
        json!({"type": "record", "action": action, "fields": {}, "identifiers": identifiers})
    };
    let config = json!({"objectType": "organization_memberships", "syncMode": "insert",
        "allowDeletes": true});
    let members = |host: &MockHost| host.mock.account(SUB).memberships.len();

    let by_email = row("insert", json!({"user_email": "ann@example.com"}));
    assert_eq!(host.send(&config, by_email.clone()).skipped, None);
    assert_eq!(members(&host), 1);
    // Again, and by external id: the same membership, no second one.
    host.send(&config, by_email);
    host.send(&config, row("insert", json!({"user_external_id": "u-1"})));
    assert_eq!(members(&host), 1);

    let ghost = host.try_send(
        &config,
        &row("insert", json!({"user_email": "ghost@x.com"})),
    );
    assert!(matches!(ghost, Err(Error::Retryable { .. })), "{ghost:?}");
    let mut no_org = row("insert", json!({"user_external_id": "u-1"}));
    no_org["identifiers"]["organization_external_id"] = json!("o-404");
    let missing = host.try_send(&config, &no_org);
    assert!(
        matches!(&missing, Err(Error::Rejected { status: 404, message }) if message.contains("o-404")),
        "{missing:?}"
    );
    let update = json!({"objectType": "organization_memberships", "syncMode": "update"});
    let skipped = host.send(&update, row("update", json!({"user_external_id": "u-1"})));
    assert!(skipped.skipped.unwrap().starts_with("nothing to update"));

    let leave = row("delete", json!({"user_external_id": "u-1"}));
    assert_eq!(host.send(&config, leave.clone()).skipped, None);
    assert_eq!(members(&host), 0);
    assert_eq!(
        host.send(&config, leave).skipped,
        None,
        "not a member: done"
    );
    let no_deletes = json!({"objectType": "organization_memberships"});
    let refused = host.try_send(
        &no_deletes,
        &row("delete", json!({"user_external_id": "u-1"})),
    );
    assert!(matches!(refused, Err(Error::UnsupportedEvent(_))));
}

/// `objectType: ticket_comments`: a row adds a comment to a ticket found by external id, with
/// `public` and its author mapped. It is never added twice: a replay is skipped without a call,
/// and a retry after a lost answer reads the ticket's comments before adding.
#[test]
fn comment_rows_are_added_once_even_when_an_answer_was_lost() {
    let (host, _) = account(true);
    let config = json!({"objectType": "ticket_comments"});
    let row = |id: &str, body: &str| {
        json!({"type": "record", "action": "insert", "identifiers": {"comment_id": id},
            "fields": {"ticket_external_id": "t-1", "body": body, "public": "false",
                "author_email": "ann@example.com"}})
    };
    let comments = |host: &MockHost| host.mock.account(SUB).tickets[0].comments.clone();
    let ann = host.mock.account(SUB).users[0].id;

    assert_eq!(
        host.send(&config, row("c-1", "Refund issued")).skipped,
        None
    );
    let added = comments(&host);
    assert_eq!(added.len(), 2);
    assert_eq!(
        (added[1].body.as_str(), added[1].public, added[1].author_id),
        ("Refund issued", false, ann)
    );
    host.take_calls();

    // A replay: skipped, no call.
    let replay = host.send(&config, row("c-1", "Refund issued"));
    assert!(replay.skipped.unwrap().starts_with("added already"));
    assert!(host.take_calls().is_empty());

    // The answer was lost after Zendesk added it (the marker stayed `pending`): the retry reads
    // the comments, finds it, and does not add it again.
    let set_pending = |host: &MockHost| {
        for (key, value) in host.cache.borrow_mut().iter_mut() {
            if key.starts_with("comment:") {
                *value = "pending".into();
            }
        }
    };
    set_pending(&host);
    let retried = host.send(&config, row("c-1", "Refund issued"));
    assert!(retried.skipped.unwrap().contains("an earlier attempt"));
    assert_eq!(comments(&host).len(), 2);
    assert!(host.take_calls().iter().all(|c| !c.starts_with("PUT")));

    // A row whose earlier attempt failed before Zendesk took it (marker `pending`, comment not
    // there): its retry reads, does not find it, and adds it once.
    let identity = json!({"comment_id": "c-3"}).to_string();
    let marker = zendesk::dedupe::content_key("comment", &Value::String(identity));
    host.cache.borrow_mut().insert(marker, "pending".into());
    assert_eq!(
        host.send(&config, row("c-3", "Follow-up call booked"))
            .skipped,
        None
    );
    assert_eq!(comments(&host).len(), 3);
    let calls = host.take_calls();
    assert!(calls.iter().any(|c| c.contains("/comments")), "{calls:?}");
    assert_eq!(calls.iter().filter(|c| c.starts_with("PUT")).count(), 1);

    let missing = json!({"type": "record", "action": "insert", "identifiers": {"comment_id": "c-9"},
        "fields": {"ticket_external_id": "t-404", "body": "x"}});
    let error = host.try_send(&config, &missing);
    assert!(
        matches!(error, Err(Error::Rejected { status: 404, .. })),
        "{error:?}"
    );
    let delete = host.try_send(&config, &json!({"type": "record", "action": "delete",
        "identifiers": {"comment_id": "c-1"}, "fields": {"ticket_external_id": "t-1", "body": "x"}}));
    assert!(matches!(delete, Err(Error::UnsupportedEvent(_))));
}
