//! Schema introspection (`list-fields`) against the stateful mock, natively: standard attributes,
//! every page of custom fields, options, required and active, and no call but the fields APIs.

use crate::common::{MockHost, SUB, base_config};
use serde_json::json;
use zendesk::{FieldInfo, ObjectType, list_fields};

fn list(host: &MockHost, object: ObjectType) -> Vec<FieldInfo> {
    list_fields(host, &base_config(&json!({})), object).expect("listed")
}

#[test]
fn users_list_standard_attributes_then_every_page_of_user_fields() {
    let host = MockHost::new();
    for i in 0..150 {
        host.mock
            .seed_user_field(SUB, &format!("field_{i:03}"), "text");
    }
    host.mock.seed_field_definition(
        SUB,
        "user_fields",
        json!({"key": "plan", "title": "Plan", "type": "dropdown",
            "custom_field_options": [{"name": "Free", "value": "free"}, {"name": "Pro", "value": "pro"}]}),
    );
    host.mock.clear_requests();
    let fields = list(&host, ObjectType::Users);
    // Two pages of 100, nothing else.
    let calls = host.take_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0], "GET /api/v2/user_fields?page[size]=100");
    assert!(
        calls[1].starts_with("GET /api/v2/user_fields?page[size]=100&page[after]="),
        "{calls:?}"
    );
    assert_eq!(fields.len(), 6 + 151);
    let standard: Vec<(&str, bool)> = fields
        .iter()
        .filter(|f| !f.custom)
        .map(|f| (f.key.as_deref().unwrap(), f.required))
        .collect();
    assert_eq!(
        standard,
        vec![
            ("name", true),
            ("email", true),
            ("external_id", false),
            ("phone", false),
            ("time_zone", false),
            ("organization_id", false)
        ]
    );
    let plan = fields
        .iter()
        .find(|f| f.key.as_deref() == Some("plan"))
        .unwrap();
    assert_eq!(plan.field_type, "dropdown");
    assert_eq!(
        plan.options,
        vec![
            ("Free".to_string(), "free".to_string()),
            ("Pro".into(), "pro".into())
        ]
    );
    assert!(plan.custom && plan.active && !plan.required && plan.id.is_some());
    assert!(fields.iter().any(|f| f.key.as_deref() == Some("field_149")));
}

#[test]
fn tickets_list_the_system_fields_records_write_and_custom_fields_by_id() {
    let host = MockHost::new();
    let plan = host.mock.seed_ticket_field(SUB, "Plan", "text");
    host.mock.seed_field_definition(
        SUB,
        "ticket_fields",
        json!({"title": "Tier", "type": "tagger", "required": true,
            "custom_field_options": [{"name": "Gold", "value": "gold"}]}),
    );
    host.mock.clear_requests();
    let fields = list(&host, ObjectType::Tickets);
    assert_eq!(
        host.take_calls(),
        vec!["GET /api/v2/ticket_fields?page[size]=100"]
    );
    let summary: Vec<(Option<&str>, &str, bool, bool)> = fields
        .iter()
        .map(|f| (f.key.as_deref(), f.title.as_str(), f.required, f.custom))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Some("external_id"), "External ID", false, false),
            (Some("tags"), "Tags", false, false),
            (Some("requester_email"), "Requester email", false, false),
            (Some("requester_name"), "Requester name", false, false),
            (Some("requester_id"), "Requester ID", false, false),
            (Some("subject"), "Subject", true, false),
            (Some("description"), "Description", true, false),
            (Some("status"), "Status", false, false),
            (Some("type"), "Type", false, false),
            (Some("priority"), "Priority", false, false),
            // Group and assignee are not written by records: not listed.
            (None, "Plan", false, true),
            (None, "Tier", true, true),
        ]
    );
    assert_eq!(fields[10].id, Some(plan));
    let status = &fields[7];
    assert!(status.options.iter().any(|(_, value)| value == "solved"));
    assert_eq!(fields[11].field_type, "tagger");
    assert_eq!(
        fields[11].options,
        vec![("Gold".to_string(), "gold".to_string())]
    );
}

#[test]
fn organizations_list_their_fields_and_a_bad_config_calls_nothing() {
    let host = MockHost::new();
    host.mock.seed_organization_field(SUB, "region", "text");
    host.mock.clear_requests();
    let fields = list(&host, ObjectType::Organizations);
    assert_eq!(
        host.take_calls(),
        vec!["GET /api/v2/organization_fields?page[size]=100"]
    );
    let keys: Vec<&str> = fields.iter().filter_map(|f| f.key.as_deref()).collect();
    assert_eq!(
        keys,
        vec![
            "name",
            "external_id",
            "domain_names",
            "tags",
            "details",
            "notes",
            "url",
            "region"
        ]
    );
    assert!(list_fields(&host, "{}", ObjectType::Users).is_err());
    assert!(host.take_calls().is_empty());
}
