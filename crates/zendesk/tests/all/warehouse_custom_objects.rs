//! `objectType: custom_objects`: rows are records of the object `customObjectKey` names, by
//! external id, in every sync mode and as deletes. Final state and the exact calls.

use crate::common::{MockHost, SUB};
use serde_json::{Value, json};
use zendesk::{Error, ObjectType};

const FIELDS: &str = "GET /api/v2/custom_objects/car/fields";
const UPSERT_C1: &str = "PATCH /api/v2/custom_objects/car/records?external_id=c-1";

fn car(action: &str, external_id: &str, fields: Value) -> Value {
    json!({"type": "record", "action": action, "fields": fields,
        "identifiers": {"external_id": external_id}})
}

fn config(mode: &str) -> Value {
    json!({"objectType": "custom_objects", "customObjectKey": "car", "syncMode": mode,
        "allowDeletes": true})
}

fn account() -> MockHost {
    let host = MockHost::new();
    host.mock.seed_custom_object(
        SUB,
        "car",
        "Car",
        &[("make", "text"), ("model_year", "integer")],
    );
    host
}

/// (external id, name, fields) of every car record.
fn cars(host: &MockHost) -> Vec<(Option<String>, String, Value)> {
    let account = host.mock.account(SUB);
    account.custom_objects[0]
        .records
        .iter()
        .map(|r| {
            (
                r.external_id.clone(),
                r.name.clone(),
                Value::Object(r.custom_object_fields.clone()),
            )
        })
        .collect()
}

#[test]
fn upsert_creates_then_updates_in_one_call_each() {
    let host = account();
    let upsert = config("upsert");
    host.send(
        &upsert,
        car(
            "insert",
            "c-1",
            json!({"name": "Civic", "make": "Honda", "Model Year": 2020}),
        ),
    );
    assert_eq!(
        cars(&host),
        [(
            Some("c-1".into()),
            "Civic".into(),
            json!({"make": "Honda", "model_year": 2020})
        )]
    );
    assert_eq!(host.take_calls(), [FIELDS, UPSERT_C1]);

    host.send(&upsert, car("update", "c-1", json!({"model_year": 2021})));
    assert_eq!(
        cars(&host),
        [(
            Some("c-1".into()),
            "Civic".into(),
            json!({"make": "Honda", "model_year": 2021})
        )]
    );
    assert_eq!(host.take_calls(), [UPSERT_C1], "the field keys are cached");
}

#[test]
fn insert_never_overwrites_and_update_never_creates() {
    let host = account();
    let find =
        |id: &str| format!("GET /api/v2/custom_objects/car/records?filter[external_ids]={id}");
    let insert = config("insert");
    assert_eq!(
        host.send(&insert, car("insert", "c-1", json!({"name": "Civic"})))
            .skipped,
        None
    );
    assert_eq!(
        host.take_calls(),
        [
            find("c-1"),
            "POST /api/v2/custom_objects/car/records".into()
        ]
    );
    let again = host.send(&insert, car("insert", "c-1", json!({"name": "Other"})));
    assert!(again.skipped.unwrap().starts_with("exists: car record"));
    assert_eq!(host.take_calls(), [find("c-1")]);

    let update = config("update");
    let missing = host.send(&update, car("update", "c-9", json!({"make": "Kia"})));
    assert!(
        missing
            .skipped
            .unwrap()
            .starts_with("not found: no car record")
    );
    host.send(&update, car("update", "c-1", json!({"make": "Honda"})));
    let id = host.mock.account(SUB).custom_objects[0].records[0]
        .id
        .clone();
    let calls = host.take_calls();
    assert_eq!(
        calls[calls.len() - 2..],
        [
            find("c-1"),
            format!("PATCH /api/v2/custom_objects/car/records/{id}")
        ]
    );
    assert_eq!(
        cars(&host),
        [(Some("c-1".into()), "Civic".into(), json!({"make": "Honda"}))]
    );
}

#[test]
fn deletes_by_external_id_when_allowed_and_gone_is_done() {
    let host = account();
    host.send(
        &config("upsert"),
        car("insert", "c-1", json!({"name": "Civic"})),
    );
    let mut off = config("upsert");
    off["allowDeletes"] = json!(false);
    let refused = host.try_send(&off, &car("delete", "c-1", json!({})));
    assert!(
        matches!(refused, Err(Error::UnsupportedEvent(_))),
        "{refused:?}"
    );
    assert_eq!(cars(&host).len(), 1);
    host.take_calls();

    let delete = car("delete", "c-1", json!({}));
    assert_eq!(host.send(&config("upsert"), delete.clone()).skipped, None);
    assert!(cars(&host).is_empty());
    assert_eq!(
        host.take_calls(),
        ["DELETE /api/v2/custom_objects/car/records?external_id=c-1"]
    );
    let gone = host.send(&config("upsert"), delete).skipped.unwrap();
    assert!(gone.starts_with("gone: no car record"), "{gone}");
}

#[test]
fn unknown_columns_and_objects_are_named() {
    let host = account();
    let unknown = host.try_send(
        &config("upsert"),
        &car("insert", "c-1", json!({"name": "Civic", "colour": "red"})),
    );
    assert!(
        matches!(&unknown, Err(Error::InvalidEvent(m)) if m.contains("colour") && m.contains("make, model_year")),
        "{unknown:?}"
    );
    let mut other = config("upsert");
    other["customObjectKey"] = json!("boat");
    let missing = host.try_send(
        &other,
        &car("insert", "c-1", json!({"name": "X", "make": "Y"})),
    );
    assert!(
        matches!(&missing, Err(Error::InvalidConfig(m)) if m.contains("boat")),
        "{missing:?}"
    );
    assert!(cars(&host).is_empty());
    let no_key = host.try_send(
        &json!({"objectType": "custom_objects"}),
        &car("insert", "c-1", json!({})),
    );
    assert!(matches!(no_key, Err(Error::InvalidConfig(m)) if m.contains("customObjectKey")));
}

#[test]
fn list_fields_names_the_objects_fields() {
    let host = account();
    let fields = zendesk::list_fields(
        &host,
        &crate::common::base_config(&config("upsert")),
        ObjectType::CustomObjects,
    )
    .unwrap();
    let keys: Vec<(Option<String>, bool)> =
        fields.iter().map(|f| (f.key.clone(), f.required)).collect();
    assert_eq!(
        keys,
        [
            (Some("external_id".into()), true),
            (Some("name".into()), true),
            (Some("make".into()), false),
            (Some("model_year".into()), false)
        ]
    );
    assert_eq!(fields[3].field_type, "integer");
}

/// In batches, upserts and deletes take the object's jobs endpoint (100 rows a job), to the
/// same records as one at a time, under 30% faults with failed jobs and items too.
#[test]
fn batches_take_the_jobs_endpoint_to_the_same_records() {
    use crate::batch::{assert_same_state, batched, per_event};
    let upserts: Vec<Value> = (0..150)
        .map(|n| {
            car(
                "insert",
                &format!("c-{n}"),
                json!({"name": format!("Car {n}"), "make": "Kia", "model_year": 2000 + n}),
            )
        })
        .collect();
    let deletes: Vec<Value> = (140..160)
        .map(|n| car("delete", &format!("c-{n}"), json!({})))
        .collect();
    let one = account();
    per_event(&one, &config("upsert"), &upserts);
    per_event(&one, &config("upsert"), &deletes);

    let many = account();
    let outcomes = batched(&many, &config("upsert"), &upserts);
    assert!(outcomes.iter().all(Result::is_ok));
    let calls = many.take_calls();
    let jobs = calls
        .iter()
        .filter(|c| *c == "POST /api/v2/custom_objects/car/jobs")
        .count();
    assert_eq!(jobs, 2, "{calls:?}");
    println!("{} calls for 150 custom object rows", calls.len());
    assert!(calls.len() <= 6, "{calls:?}");
    let outcomes = batched(&many, &config("upsert"), &deletes);
    let gone = outcomes
        .iter()
        .filter(|o| o.as_ref().unwrap().skipped.is_some())
        .count();
    assert_eq!(gone, 10, "c-150 to c-159 never existed");
    assert_same_state(&many, &one);
    assert_eq!(cars(&many).len(), 140);

    let faulty = account();
    crate::common::inject_faults(&faulty, 7);
    batched(&faulty, &config("upsert"), &upserts);
    batched(&faulty, &config("upsert"), &deletes);
    assert_same_state(&faulty, &one);
}
