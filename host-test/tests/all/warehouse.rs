//! The warehouse side through the real zendesk.wasm: `record` rows and `audiencelist` events in
//! the sandbox, `list-fields` through the runtime (and refused by a 0.1.0 plugin), and the
//! `host-test fields` command on the demo account and on an account with two pages of fields.

use std::path::Path;
use std::process::Command;

use crate::common::{SUB, Scenario, call_line, config_with, runtime};
use destination_host::{CallError, Limits, ObjectType, Tenant};
use host_test::transports::MockTransport;
use mock_zendesk::MockZendesk;
use serde_json::{Value, json};
use std::sync::Arc;

fn record(fields: Value, identifiers: Value) -> Value {
    json!({"type": "record", "action": "insert", "fields": fields, "identifiers": identifiers})
}

#[test]
fn records_are_upserted_inserted_once_and_updated_only_when_found() {
    let upsert = Scenario::with_settings(json!({"objectType": "users"}));
    let row = record(
        json!({"name": "Ann", "email": "ann@x.com", "plan": "pro"}),
        json!({"external_id": "u-1"}),
    );
    let delivery = upsert.deliver(row.clone());
    assert_eq!(
        delivery.calls(),
        vec![
            "GET /api/v2/user_fields?page[size]=100",
            "POST /api/v2/user_fields",
            "POST /api/v2/users/create_or_update",
        ]
    );
    let state = upsert.state();
    let user = state.user_by_external_id("u-1");
    assert_eq!(user["name"], "Ann");
    assert_eq!(user["user_fields"]["plan"], "pro");

    let insert = upsert.sibling(
        "acme-insert",
        json!({"objectType": "users", "syncMode": "insert"}),
    );
    insert.deliver(row.clone());
    let again = insert.deliver(row.clone());
    let skipped = again.outcome().skipped.clone().unwrap();
    assert!(skipped.starts_with("exists: Zendesk user #"), "{skipped}");
    assert_eq!(
        again.calls(),
        Vec::<String>::new(),
        "the id is cached: no call"
    );

    let update = upsert.sibling(
        "acme-update",
        json!({"objectType": "users", "syncMode": "update"}),
    );
    let missing = update.deliver(row);
    assert!(
        missing
            .outcome()
            .skipped
            .as_deref()
            .unwrap()
            .starts_with("not found")
    );
    assert_eq!(
        missing.calls(),
        vec!["GET /api/v2/users/search?external_id=u-1"]
    );
    assert_eq!(update.state().count("users"), 0);
}

#[test]
fn an_audience_list_mirrors_onto_its_checkbox_field() {
    let scenario = Scenario::with_settings(json!({"audienceKey": "Power Users",
        "audienceFieldTag": "power"}));
    scenario.mock.seed_user(
        SUB,
        json!({"name": "A", "email": "a@x.com", "external_id": "u-a"}),
    );
    scenario.mock.seed_user(
        SUB,
        json!({"name": "B", "email": "b@x.com", "external_id": "u-b"}),
    );
    let list = json!({"type": "audiencelist", "properties": {"listData": {
        "add": [{"userId": "u-a"}], "remove": [{"email": "b@x.com"}]}}});
    scenario.deliver(list);
    let state = scenario.state();
    let a = state.user_by_external_id("u-a");
    assert_eq!(a["user_fields"]["power_users"], true);
    assert_eq!(a["tags"], json!(["power"]));
    assert_eq!(
        state.user_by_external_id("u-b")["user_fields"]["power_users"],
        false
    );
}

#[test]
fn list_fields_reads_every_page_in_the_sandbox() {
    let mock = MockZendesk::new();
    for i in 0..120 {
        mock.seed_organization_field(SUB, &format!("region_{i:03}"), "text");
    }
    let tenant = host_test::zendesk_tenant(
        "fields",
        config_with(json!({})).to_string(),
        Limits::default(),
        Arc::new(MockTransport::new(mock.clone())),
    );
    let report = runtime().list_fields(crate::common::plugin(), &tenant, ObjectType::Organizations);
    let fields = report.result.expect("listed");
    assert_eq!(fields.len(), 7 + 120);
    assert_eq!(fields[0].key.as_deref(), Some("name"));
    assert!(fields[0].required);
    assert_eq!(fields.last().unwrap().key.as_deref(), Some("region_119"));
    let calls: Vec<String> = mock.requests_for(SUB).iter().map(call_line).collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|c| c.starts_with("GET /api/v2/organization_fields")),
        "{calls:?}"
    );
}

/// Contract 0.3.0: every object type a model syncs to, custom objects by the config's key.
#[test]
fn list_fields_covers_memberships_comments_and_custom_objects() {
    let mock = MockZendesk::new();
    mock.seed_custom_object(
        SUB,
        "car",
        "Car",
        &[("make", "text"), ("model_year", "integer")],
    );
    let tenant = host_test::zendesk_tenant(
        "fields",
        config_with(json!({"objectType": "custom_objects", "customObjectKey": "car"})).to_string(),
        Limits::default(),
        Arc::new(MockTransport::new(mock.clone())),
    );
    let keys = |object: ObjectType| -> Vec<(String, bool)> {
        let report = runtime().list_fields(crate::common::plugin(), &tenant, object);
        (report.result.expect("listed").into_iter())
            .map(|f| (f.key.unwrap_or_default(), f.required))
            .collect()
    };
    let car = keys(ObjectType::CustomObjects);
    assert_eq!(
        car,
        [
            ("external_id".to_string(), true),
            ("name".into(), true),
            ("make".into(), false),
            ("model_year".into(), false)
        ]
    );
    let calls: Vec<String> = mock.requests_for(SUB).iter().map(call_line).collect();
    assert_eq!(calls, ["GET /api/v2/custom_objects/car/fields"]);
    let memberships = keys(ObjectType::OrganizationMemberships);
    assert!(memberships.contains(&("organization_external_id".into(), true)));
    let comments = keys(ObjectType::TicketComments);
    assert!(comments.contains(&("body".into(), true)));
}

#[test]
fn a_0_1_0_plugin_has_no_list_fields() {
    let adversary = runtime()
        .load_plugin_file(Path::new(env!("ADVERSARY_WASM")))
        .expect("the 0.1.0 adversary loads");
    assert_eq!(adversary.contract_version(), "0.1.0");
    let tenant = Tenant::new(
        "old",
        json!({}).to_string(),
        Limits::default(),
        Arc::new(MockTransport::new(MockZendesk::new())),
    );
    let report = runtime().list_fields(&adversary, &tenant, ObjectType::Users);
    match report.result {
        Err(error @ CallError::Unsupported(_)) => {
            assert_eq!(error.class(), "unsupported-export");
            assert!(error.to_string().contains("0.2.0"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    // It still delivers.
    let delivered = runtime().transform(&adversary, &tenant, r#"{"type": "ok"}"#);
    assert!(delivered.result.is_ok(), "{:?}", delivered.result);
}

#[test]
fn the_fields_command_lists_the_demo_account() {
    let output = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .args(["fields", "--demo", "--object", "users"])
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let row = |key: &str, kind: &str| {
        stdout
            .lines()
            .any(|line| line.starts_with(key) && line.contains(kind))
    };
    assert!(stdout.starts_with("key / id"), "{stdout}");
    assert!(row("name ", "text") && row("email ", "text"), "{stdout}");
    // The custom fields the demo's identifies created.
    assert!(row("plan_name ", "text"), "{stdout}");
    assert!(row("is_beta_tester ", "checkbox"), "{stdout}");
    assert!(row("total_billed ", "decimal"), "{stdout}");
}

#[test]
fn the_fields_command_reads_two_pages_over_http_as_json() {
    let mock = MockZendesk::new();
    for i in 0..130 {
        mock.seed_user_field(SUB, &format!("attr_{i:03}"), "text");
    }
    let server = mock_zendesk::server::serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.json");
    std::fs::write(
        &tenants,
        json!({"tenants": {"t1": config_with(json!({}))}}).to_string(),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .args(["fields", "--object", "users", "--json", "--tenant", "t1"])
        .arg("--tenants")
        .arg(&tenants)
        .arg("--zendesk-origin")
        .arg(format!("http://{}", server.addr()))
        .output()
        .expect("the binary runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fields: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(fields.len(), 6 + 130);
    assert_eq!(fields[6]["key"], "attr_000");
    assert_eq!(fields[135]["key"], "attr_129");
    assert_eq!(fields[135]["custom"], true);
    assert_eq!(mock.requests_for(SUB).len(), 2);
    // The token never reaches the output.
    let all = [output.stdout, output.stderr].concat();
    assert!(!String::from_utf8_lossy(&all).contains(crate::common::API_TOKEN));
}
