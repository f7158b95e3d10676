//! Audiences against the stateful mock, natively: RudderStack's `audiencelist` events in every
//! `audienceSyncMode`, for existing and missing users, and Segment Engage's identify shape.

use crate::common::{MockHost, SUB};
use serde_json::{Value, json};
use zendesk::Error;

fn audience_list(add: Value, remove: Value) -> Value {
    json!({"type": "audiencelist", "properties": {"listData": {"add": add, "remove": remove}}})
}

fn config(mode: &str) -> Value {
    json!({"audienceKey": "churn_risk", "audienceSyncMode": mode, "audienceFieldTag": "churn"})
}

/// Two existing users: `in` is already a member (field true), `out` is not.
fn account() -> (MockHost, u64, u64) {
    let host = MockHost::new();
    host.mock.seed_field_definition(
        SUB,
        "user_fields",
        json!({"key": "churn_risk", "title": "Churn Risk", "type": "checkbox", "tag": "churn"}),
    );
    let member = host.mock.seed_user(
        SUB,
        json!({"name": "In", "email": "in@x.com", "external_id": "u-in",
            "user_fields": {"churn_risk": true}}),
    );
    let other = host.mock.seed_user(
        SUB,
        json!({"name": "Out", "email": "out@x.com", "external_id": "u-out"}),
    );
    host.mock.clear_requests();
    (host, member, other)
}

/// Each user's field value (`None`: unset) and tags, by external id.
fn membership(host: &MockHost) -> Vec<(String, Option<Value>, Vec<String>)> {
    let state = host.mock.account(SUB);
    state
        .users
        .iter()
        .map(|u| {
            (
                u.external_id.clone().unwrap_or_default(),
                u.user_fields.get("churn_risk").cloned(),
                u.tags.clone(),
            )
        })
        .collect()
}

fn member(
    external_id: &str,
    value: Option<bool>,
    tagged: bool,
) -> (String, Option<Value>, Vec<String>) {
    let tags = if tagged {
        vec!["churn".to_string()]
    } else {
        Vec::new()
    };
    (external_id.to_string(), value.map(Value::Bool), tags)
}

#[test]
fn add_remove_and_mirror_for_existing_and_missing_users() {
    let list = audience_list(
        json!([{"userId": "u-out"}, {"email": "ghost@x.com"}]),
        json!([{"external_id": "u-in"}, {"userId": "u-ghost"}]),
    );
    for (mode, expected, calls) in [
        (
            "add",
            // Out joins; the remove list is left alone; the ghost is not created.
            vec![
                member("u-in", Some(true), true),
                member("u-out", Some(true), true),
            ],
            vec![
                "GET /api/v2/user_fields?page[size]=100",
                "GET /api/v2/users/search?external_id=u-out",
                "PUT /api/v2/users/1001",
                "GET /api/v2/users/search?query=email%3A%22ghost%40x.com%22",
            ],
        ),
        (
            "remove",
            // The audience's members (the add list) are taken out.
            vec![
                member("u-in", Some(true), true),
                member("u-out", Some(false), false),
            ],
            vec![
                "GET /api/v2/user_fields?page[size]=100",
                "GET /api/v2/users/search?external_id=u-out",
                "PUT /api/v2/users/1001",
                "GET /api/v2/users/search?query=email%3A%22ghost%40x.com%22",
            ],
        ),
        (
            "mirror",
            // What the platform computed: Out joins, In leaves.
            vec![
                member("u-in", Some(false), false),
                member("u-out", Some(true), true),
            ],
            vec![
                "GET /api/v2/user_fields?page[size]=100",
                "GET /api/v2/users/search?external_id=u-out",
                "PUT /api/v2/users/1001",
                "GET /api/v2/users/search?query=email%3A%22ghost%40x.com%22",
                "GET /api/v2/users/search?external_id=u-in",
                "PUT /api/v2/users/1000",
                "GET /api/v2/users/search?external_id=u-ghost",
            ],
        ),
    ] {
        let (host, _, _) = account();
        let result = host.try_send(&config(mode), &list);
        assert_eq!(membership(&host), expected, "{mode}");
        assert_eq!(host.take_calls(), calls, "{mode}");
        assert_eq!(
            host.logs.borrow().iter().any(|l| l.contains("not found")),
            mode != "remove",
            "{mode}"
        );
        // Replaying the same list changes nothing, and the ids are cached now.
        let replayed = host.try_send(&config(mode), &list);
        assert_eq!(membership(&host), expected, "{mode} replayed");
        assert_eq!(
            host.mock.account(SUB).users.len(),
            2,
            "{mode}: nobody created"
        );
        if mode == "remove" {
            // Taking out a user that does not exist is done: delivered.
            assert_eq!(result.unwrap().skipped, None);
            continue;
        }
        // A user to put in who does not exist yet: never "delivered" with them left out. The
        // list is retried while their identify may still come, then refused naming them.
        for result in [result, replayed] {
            let Err(Error::Retryable {
                message,
                retry_after_seconds,
            }) = result
            else {
                panic!("{mode}: {result:?}");
            };
            assert!(message.contains("email \"ghost@x.com\""), "{message}");
            assert!(retry_after_seconds.unwrap() <= 60);
        }
        for (key, first_miss) in host.cache.borrow_mut().iter_mut() {
            if key.starts_with("missing:") {
                *first_miss = "0".into();
            }
        }
        let Err(Error::Rejected { status, message }) = host.try_send(&config(mode), &list) else {
            panic!("{mode}: rejected after the window");
        };
        assert_eq!(status, 404);
        assert!(message.starts_with("audience `churn_risk`: "), "{message}");
        assert!(
            message.contains("no Zendesk user with email \"ghost@x.com\" after "),
            "{message}"
        );
        assert!(
            !message.contains("u-ghost"),
            "a removal of a missing user is done: {message}"
        );
    }
}

#[test]
fn upsert_creates_the_missing_users() {
    let (host, _, _) = account();
    let list = audience_list(
        json!([{"userId": "u-out"}, {"email": "new@x.com", "name": "New"}]),
        json!([{"userId": "u-in"}]),
    );
    host.send(&config("upsert"), list.clone());
    assert_eq!(
        host.take_calls(),
        vec![
            "GET /api/v2/user_fields?page[size]=100",
            "POST /api/v2/users/create_or_update",
            "POST /api/v2/users/create_or_update",
        ]
    );
    let state = host.mock.account(SUB);
    let created = state.user_by_email("new@x.com").expect("created");
    assert_eq!(created.name, "New");
    assert_eq!(created.user_fields["churn_risk"], true);
    assert_eq!(created.tags, vec!["churn"]);
    // Upsert adds: the removal is left alone, as in Add.
    assert_eq!(
        state.user_by_external_id("u-in").unwrap().user_fields["churn_risk"],
        true
    );
    host.send(&config("upsert"), list);
    assert_eq!(
        host.mock.account(SUB).users.len(),
        3,
        "a replay creates no one"
    );
}

#[test]
fn the_audience_field_is_created_once_with_its_tag() {
    let host = MockHost::new();
    host.mock.seed_user(
        SUB,
        json!({"name": "A", "email": "a@x.com", "external_id": "u-a"}),
    );
    let config = json!({"audienceKey": "Churn Risk", "audienceFieldTag": "churn"});
    host.send(
        &config,
        audience_list(json!([{"userId": "u-a"}]), json!([])),
    );
    host.send(
        &config,
        audience_list(json!([]), json!([{"userId": "u-a"}])),
    );
    let state = host.mock.account(SUB);
    let field = state.user_field("churn_risk").expect("created");
    assert_eq!(
        (field.r#type.as_str(), field.tag.as_deref()),
        ("checkbox", Some("churn"))
    );
    assert_eq!(state.user_fields.len(), 1);
    assert_eq!(state.users[0].user_fields["churn_risk"], false);
    assert!(state.users[0].tags.is_empty());
    let creates = host
        .take_calls()
        .into_iter()
        .filter(|c| c == "POST /api/v2/user_fields")
        .count();
    assert_eq!(creates, 1);
}

#[test]
fn a_list_of_missing_users_only_waits_for_them_then_names_them() {
    let (host, _, _) = account();
    let list = audience_list(json!([{"userId": "nobody"}]), json!([]));
    let Err(Error::Retryable { message, .. }) = host.try_send(&config("add"), &list) else {
        panic!("retried while the user may still come");
    };
    assert_eq!(
        message,
        "audience `churn_risk`: 0 of the 1 listed changes applied; no Zendesk user with \
         external_id \"nobody\" yet (an identify may still be on its way)"
    );
    assert_eq!(host.mock.account(SUB).users.len(), 2);
}

#[test]
fn segment_engage_audiences_arrive_as_boolean_identify_traits() {
    // Engage sends `{"<audience_key>": true}` on entering and `false` on leaving.
    let (host, _, _) = account();
    let identify = |member: bool| {
        json!({"type": "identify", "userId": "u-out",
            "traits": {"name": "Out", "email": "out@x.com", "churn_risk": member}})
    };
    host.send(&json!({}), identify(true));
    let state = host.mock.account(SUB);
    let user = state.user_by_external_id("u-out").unwrap();
    assert_eq!(user.user_fields["churn_risk"], true);
    assert_eq!(user.tags, vec!["churn"]);
    host.send(&json!({}), identify(false));
    let state = host.mock.account(SUB);
    let user = state.user_by_external_id("u-out").unwrap();
    assert_eq!(user.user_fields["churn_risk"], false);
    assert!(user.tags.is_empty());
    // A new user entering the audience is created by the identify itself.
    host.send(
        &json!({}),
        json!({"type": "identify", "userId": "u-new",
            "traits": {"name": "New", "email": "new@x.com", "churn_risk": true}}),
    );
    let state = host.mock.account(SUB);
    assert_eq!(
        state.user_by_external_id("u-new").unwrap().user_fields["churn_risk"],
        true
    );
    assert_eq!(state.user_fields.len(), 1, "the existing field is reused");
}
