use crate::testing::{FakeHost, config_json};
use crate::{Error, transform};
use serde_json::{Value, json};

fn list(add: Value, remove: Value) -> String {
    json!({"type": "audiencelist", "properties": {"listData": {"add": add, "remove": remove}}})
        .to_string()
}

#[test]
fn an_audience_needs_its_key_and_a_mode_that_applies_something() {
    let host = FakeHost::new();
    let event = list(json!([{"email": "a@x.com"}]), json!([]));
    assert!(matches!(
        transform(&host, &config_json(json!({})), &event),
        Err(Error::InvalidConfig(m)) if m.contains("audienceKey")
    ));
    // Add ignores the remove list: nothing to do, no call.
    let config = config_json(json!({"audienceKey": "vip", "audienceSyncMode": "add"}));
    let outcome = transform(
        &host,
        &config,
        &list(json!([]), json!([{"email": "a@x.com"}])),
    )
    .unwrap();
    assert!(outcome.skipped.unwrap().starts_with("nothing to change"));
    assert!(host.requests().is_empty());
}

#[test]
fn the_field_is_created_with_its_tag_then_set_per_user() {
    let host = FakeHost::new();
    host.on(
        "GET",
        "/api/v2/user_fields?page[size]=100",
        200,
        json!({"user_fields": []}),
    );
    host.on(
        "POST",
        "/api/v2/user_fields",
        201,
        json!({"user_field": {"id": 1}}),
    );
    host.on(
        "GET",
        "/api/v2/users/search?external_id=u1",
        200,
        json!({"users": [{"id": 10}]}),
    );
    host.on("PUT", "/api/v2/users/10", 200, json!({"user": {"id": 10}}));
    host.on(
        "PUT",
        "/api/v2/users/42",
        404,
        json!({"error": "RecordNotFound"}),
    );
    let config = config_json(json!({"audienceKey": "Churn Risk", "audienceFieldTag": "churn"}));
    let outcome = transform(
        &host,
        &config,
        &list(json!([{"userId": "u1"}]), json!([{"id": 42}])),
    )
    .unwrap();
    assert_eq!(outcome.skipped, None);
    assert_eq!(
        host.calls(),
        vec![
            "GET /api/v2/user_fields?page[size]=100",
            "POST /api/v2/user_fields",
            "GET /api/v2/users/search?external_id=u1",
            "PUT /api/v2/users/10",
            "PUT /api/v2/users/42",
        ]
    );
    assert_eq!(
        host.body(1),
        json!({"user_field": {"key": "churn_risk", "title": "Churn Risk", "type": "checkbox", "tag": "churn"}})
    );
    assert_eq!(
        host.body(3),
        json!({"user": {"user_fields": {"churn_risk": true}}})
    );
    assert_eq!(
        host.body(4),
        json!({"user": {"user_fields": {"churn_risk": false}}})
    );
    // User 42 is gone: taken out already, nothing to wait for.
    assert!(!host.logged("not found"));
}
