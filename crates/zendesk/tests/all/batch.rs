//! `transform_batch` against the mock: the same final state as one event at a time (on the
//! standard stream, on its replay, under injected faults including failed jobs and items), the
//! fallback when bulk import is off, whole-batch errors, and jobs that do not finish in time.

use std::time::Duration;

use crate::common::{MockHost, SUB};
use mock_zendesk::workload::StandardStream;
use mock_zendesk::{BulkSettings, Faults, MockZendesk};
use serde_json::{Value, json};
use zendesk::{Error, Outcome};

fn stream() -> Vec<Value> {
    StandardStream {
        events: 2_000,
        users: 200,
        organizations: 20,
        seed: 3,
    }
    .generate()
}

pub(crate) fn bulk_on(mock: &MockZendesk) {
    mock.set_bulk(
        SUB,
        BulkSettings {
            user_import: true,
            ..BulkSettings::default()
        },
    );
}

/// Delivers `events` one at a time; every event must succeed.
pub(crate) fn per_event(host: &MockHost, config: &Value, events: &[Value]) {
    for event in events {
        host.send(config, event.clone());
    }
}

/// Delivers `events` in batches of 100, resending (in order) whatever failed retryably until
/// everything is delivered. Returns the outcomes of the first attempt of each event.
pub(crate) fn batched(
    host: &MockHost,
    config: &Value,
    events: &[Value],
) -> Vec<Result<Outcome, Error>> {
    let mut first = Vec::new();
    for chunk in events.chunks(100) {
        let results = host
            .send_batch(config, chunk)
            .expect("no whole-batch error");
        assert_eq!(results.len(), chunk.len());
        let mut pending: Vec<Value> = chunk
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_err())
            .map(|(e, _)| e.clone())
            .collect();
        first.extend(results);
        for _ in 0..60 {
            if pending.is_empty() {
                break;
            }
            let results = host
                .send_batch(config, &pending)
                .expect("no whole-batch error");
            for (event, result) in pending.iter().zip(&results) {
                if let Err(error) = result {
                    assert!(
                        matches!(error, Error::Retryable { .. }),
                        "{event}: only transient failures are expected, got {error}"
                    );
                }
            }
            pending = pending
                .into_iter()
                .zip(results)
                .filter(|(_, r)| r.is_err())
                .map(|(e, _)| e)
                .collect();
        }
        assert!(pending.is_empty(), "still failing: {pending:?}");
    }
    first
}

/// The two accounts' content is the same; else the differing entries of each part.
pub(crate) fn assert_same_state(actual: &MockHost, expected: &MockHost) {
    let expected = expected.mock.account(SUB);
    if let Some(differences) = actual.mock.account(SUB).differences(&expected) {
        panic!("the states differ:\n{differences}");
    }
}

fn calls(host: &MockHost) -> usize {
    host.mock.requests_for(SUB).len()
}

#[test]
fn batches_end_in_the_per_event_state_on_the_stream_and_its_replay_with_fewer_calls() {
    let events = stream();
    let config = json!({});
    let one = MockHost::new();
    let many = MockHost::new();
    bulk_on(&many.mock);
    per_event(&one, &config, &events);
    let outcomes = batched(&many, &config, &events);
    assert!(outcomes.iter().all(Result::is_ok));
    assert_same_state(&many, &one);
    let (per_event_calls, batch_calls) = (calls(&one), calls(&many));
    assert!(
        (batch_calls as f64) < 0.65 * per_event_calls as f64,
        "{batch_calls} batch calls against {per_event_calls} one at a time"
    );
    // Bulk requests are used, at most 100 items each.
    let requests = many.mock.requests_for(SUB);
    let bulk = requests
        .iter()
        .filter(|r| r.path == "/api/v2/users/create_or_update_many")
        .count();
    assert!(bulk >= 20, "{bulk} bulk user requests");
    assert!(requests.iter().all(|r| {
        r.body.as_ref().is_none_or(|b| {
            ["users", "organizations", "organization_memberships"]
                .iter()
                .all(|key| b[key].as_array().is_none_or(|items| items.len() <= 100))
        })
    }));
    // The replay (a platform redelivering everything) changes nothing either way.
    per_event(&one, &config, &events);
    batched(&many, &config, &events);
    assert_same_state(&many, &one);
}

#[test]
fn without_the_unchanged_window_batches_still_match() {
    let events = stream();
    let config = json!({"skipUnchangedWithinSeconds": 0});
    let one = MockHost::new();
    let many = MockHost::new();
    bulk_on(&many.mock);
    per_event(&one, &config, &events);
    batched(&many, &config, &events);
    assert_same_state(&many, &one);
}

#[test]
fn under_30_percent_faults_and_failed_jobs_and_items_the_state_is_the_same() {
    let events = stream();
    let config = json!({});
    let clean = MockHost::new();
    per_event(&clean, &config, &events);

    let faults: Faults = "rate=0.3,seed=5,kinds=429|500|503|409,retry_after=1"
        .parse()
        .unwrap();
    let faulty = MockHost::with_mock(MockZendesk::with_faults(faults));
    faulty.mock.set_bulk(
        SUB,
        BulkSettings {
            user_import: true,
            job_failure_rate: 0.1,
            item_failure_rate: 0.1,
            seed: 9,
            ..BulkSettings::default()
        },
    );
    let first = batched(&faulty, &config, &events);
    let failed = first.iter().filter(|r| r.is_err()).count();
    assert!(failed > 100, "the faults made {failed} first attempts fail");
    let requests = faulty.mock.requests_for(SUB);
    assert!(requests.iter().any(|r| r.fault.is_some()));
    assert_same_state(&faulty, &clean);
}

#[test]
fn with_bulk_import_off_it_falls_back_and_says_so_once() {
    let events = stream();
    let config = json!({});
    let one = MockHost::new();
    let many = MockHost::new(); // bulk user import is off by default, as in Zendesk
    per_event(&one, &config, &events);
    batched(&many, &config, &events);
    assert_same_state(&many, &one);
    let requests = many.mock.requests_for(SUB);
    let count = |path: &str| requests.iter().filter(|r| r.path == path).count();
    // Tried once, then remembered for the tenant.
    assert_eq!(count("/api/v2/users/create_or_update_many"), 1);
    assert!(count("/api/v2/users/update_many") > 0);
    assert!(count("/api/v2/users/create_or_update") > 0);
    let reported = many
        .logs
        .borrow()
        .iter()
        .filter(|m| m.contains("bulk user import is off"))
        .count();
    assert_eq!(reported, 1);
}

#[test]
fn a_bad_config_or_rejected_credentials_fail_the_whole_batch_once() {
    let host = MockHost::new();
    let events = vec![json!({"type": "identify", "userId": "u1", "traits": {"name": "A"}}); 3];
    let texts: Vec<String> = events.iter().map(Value::to_string).collect();
    assert!(matches!(
        zendesk::transform_batch(&host, "{}", &texts),
        Err(Error::InvalidConfig(_))
    ));
    host.mock.require_credentials(SUB, "Basic something-else");
    match host.send_batch(&json!({}), &events) {
        Err(Error::Rejected { status: 401, .. }) => {}
        other => panic!("expected one 401 for the batch, got {other:?}"),
    }
    let too_many = vec![json!({"type": "track", "userId": "u", "event": "E"}); 101];
    assert!(matches!(
        host.send_batch(&json!({}), &too_many),
        Err(Error::InvalidEvent(m)) if m.contains("at most 100")
    ));
}

#[test]
fn results_come_back_per_event_in_input_order() {
    let host = MockHost::new();
    bulk_on(&host.mock);
    let events = vec![
        json!({"type": "identify", "userId": "u1", "traits": {"name": "Ann", "email": "ann@x.com"}}),
        json!("not an object"),
        json!({"type": "page", "userId": "u1"}),
        json!({"type": "identify", "userId": "u2", "traits": {"name": "Bad", "email": "not-an-email"}}),
        json!({"type": "track", "userId": "u1", "event": "Signed In"}),
        json!({"type": "identify", "userId": "u1", "traits": {"name": "Ann Lee"}}),
    ];
    let results = host.send_batch(&json!({}), &events).unwrap();
    assert!(results[0].is_ok());
    assert!(matches!(&results[1], Err(Error::InvalidEvent(_))));
    assert!(matches!(&results[2], Err(Error::UnsupportedEvent(_))));
    assert!(
        matches!(&results[3], Err(Error::Rejected { status: 422, message }) if message.contains("InvalidFormat")),
        "{:?}",
        results[3]
    );
    assert!(results[4].is_ok());
    // Both identifies of u1 were one bulk item: the later name wins, one user.
    let state = host.mock.account(SUB);
    let ann: Vec<_> = state
        .users
        .iter()
        .filter(|u| u.external_id.as_deref() == Some("u1"))
        .collect();
    assert_eq!(ann.len(), 1);
    assert_eq!(ann[0].name, "Ann Lee");
    assert_eq!(state.events.len(), 1);
    let paths: Vec<String> = host
        .mock
        .requests_for(SUB)
        .iter()
        .map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap()))
        .collect();
    assert_eq!(
        paths,
        vec![
            "POST /api/v2/users/create_or_update_many",
            "GET /api/v2/job_statuses/show_many",
            format!("POST /api/v2/users/{}/events", ann[0].id).as_str(),
        ]
    );
}

#[test]
fn a_job_that_does_not_finish_within_the_call_is_retryable() {
    let host = MockHost::new();
    host.mock.set_bulk(
        SUB,
        BulkSettings {
            user_import: true,
            job_delay: Duration::from_secs(3600),
            ..BulkSettings::default()
        },
    );
    let events = vec![json!({"type": "identify", "userId": "u1", "traits": {"name": "Ann"}})];
    let results = host.send_batch(&json!({}), &events).unwrap();
    assert!(
        matches!(&results[0], Err(Error::Retryable { message, .. }) if message.contains("not finished")),
        "{:?}",
        results[0]
    );
}

/// A warehouse sync of 150 user rows under `syncMode` upsert, batched: `create_or_update_many`
/// (two jobs of at most 100) instead of 150 single upserts, to the same final state, also on
/// its replay and with bulk import off. Insert and update rows still run one by one.
#[test]
fn user_records_under_upsert_take_the_bulk_endpoint() {
    let rows: Vec<Value> = (0..150)
        .map(|n| {
            json!({"type": "record", "action": "insert",
                "fields": {"name": format!("Row {n}"), "email": format!("row{n}@example.com"),
                    "plan": if n % 2 == 0 { "Team" } else { "Pro" }},
                "identifiers": {"external_id": format!("r-{n}")}})
        })
        .collect();
    let config = json!({"objectType": "users", "syncMode": "upsert"});
    let one = MockHost::new();
    let many = MockHost::new();
    bulk_on(&many.mock);
    per_event(&one, &config, &rows);
    let outcomes = batched(&many, &config, &rows);
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_same_state(&many, &one);
    assert_eq!(many.mock.account(SUB).users.len(), 150);

    let requests = many.mock.requests_for(SUB);
    let count = |path: &str| requests.iter().filter(|r| r.path == path).count();
    assert_eq!(count("/api/v2/users/create_or_update_many"), 2);
    assert_eq!(count("/api/v2/users/create_or_update"), 0);
    let per_record = requests.len() as f64 / 150.0;
    println!(
        "{} calls for 150 rows ({per_record:.3} per row)",
        requests.len()
    );
    assert!(per_record < 0.1, "{} calls for 150 rows", requests.len());
    assert!(calls(&one) >= 150);

    // The replay changes nothing either way.
    per_event(&one, &config, &rows);
    batched(&many, &config, &rows);
    assert_same_state(&many, &one);

    // Bulk import off: the fallback (known ids in update_many), the same state.
    let off = MockHost::new();
    batched(&off, &config, &rows);
    assert_same_state(&off, &one);

    // Insert rows look each row up first: one by one, as before.
    let insert = MockHost::new();
    bulk_on(&insert.mock);
    batched(
        &insert,
        &json!({"objectType": "users", "syncMode": "insert"}),
        &rows[..10],
    );
    let requests = insert.mock.requests_for(SUB);
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path == "/api/v2/users")
            .count(),
        10
    );
}

/// Organization rows under upsert take the bulk endpoints too (`organizations/create_many`,
/// then `update_many` on the replay), to the same final state as one at a time.
#[test]
fn organization_records_under_upsert_take_the_bulk_endpoints() {
    let rows: Vec<Value> = (0..120)
        .map(|n| {
            json!({"type": "record", "action": "insert",
                "fields": {"name": format!("Org {n}"), "tier": if n % 3 == 0 { "gold" } else { "silver" }},
                "identifiers": {"external_id": format!("o-{n}")}})
        })
        .collect();
    let config = json!({"objectType": "organizations", "syncMode": "upsert"});
    let one = MockHost::new();
    let many = MockHost::new();
    per_event(&one, &config, &rows);
    let outcomes = batched(&many, &config, &rows);
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_same_state(&many, &one);
    assert_eq!(many.mock.account(SUB).organizations.len(), 120);
    let requests = many.mock.requests_for(SUB);
    let count = |path: &str| requests.iter().filter(|r| r.path == path).count();
    assert_eq!(count("/api/v2/organizations/create_many"), 2);
    assert_eq!(count("/api/v2/organizations/create_or_update"), 0);
    println!("{} calls for 120 rows", requests.len());
    assert!(requests.len() < 15, "{} calls", requests.len());
    // A replay of the same rows costs nothing more (written within the unchanged window); rows
    // that changed are updated in bulk.
    let changed: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut row = row.clone();
            row["fields"]["tier"] = json!("platinum");
            row
        })
        .collect();
    many.mock.clear_requests();
    per_event(&one, &config, &changed);
    batched(&many, &config, &changed);
    assert_same_state(&many, &one);
    let paths: Vec<String> = many
        .mock
        .requests_for(SUB)
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p == "/api/v2/organizations/update_many"),
        "{paths:?}"
    );
}
