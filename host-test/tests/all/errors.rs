//! Error classification end to end: Zendesk statuses and transport failures become the right
//! classified error (retryable with Retry-After, or rejected with Zendesk's message), bad input and
//! bad config are classified before any call, nothing traps, and no credential leaks.

use crate::common::*;
use destination_host::{CallError, FetchFailure, GuestError};
use mock_zendesk::{FaultKind, Faults};
use serde_json::{Value, json};

fn ann_identify() -> Value {
    json!({"type": "identify", "userId": "u-1", "traits": {"name": "Ann", "email": "ann@example.com"}})
}

fn always(kind: FaultKind, retry_after_seconds: u32) -> Faults {
    Faults {
        rate: 1.0,
        seed: 7,
        kinds: vec![kind],
        retry_after_seconds,
        slow_ms: 0,
    }
}

/// Every fault kind answered by the mock: (fault, the statuses of the sends, the retry-after).
/// The upsert is idempotent, so the host sends it again within the call (3 sends in all),
/// unless Zendesk asks for a longer wait than the call should hold a sandbox for (over 5 s):
/// then the event goes back to the platform at once, with the wait.
#[test]
fn rate_limits_unavailability_conflicts_and_server_errors_are_retryable() {
    let cases = [
        (FaultKind::RateLimited, vec![429], Some(7)),
        (FaultKind::Unavailable, vec![503, 503, 503], Some(1)),
        (FaultKind::Conflict, vec![409, 409, 409], None),
        (FaultKind::ServerError, vec![500, 500, 500], None),
    ];
    for (kind, statuses, retry_after) in cases {
        let s = Scenario::new();
        s.mock.set_faults(always(kind, retry_after.unwrap_or(1)));
        let d = s.send(ann_identify());
        assert_eq!(d.statuses(), statuses, "{kind:?}");
        assert_eq!(retryable(&d), retry_after, "{kind:?}");
        assert!(d.report.result.as_ref().is_err_and(CallError::is_retryable));
        assert_eq!(s.state().count("users"), 0);

        // The platform retries later: the event goes through.
        s.mock.set_faults(Faults::none());
        s.deliver(ann_identify());
        s.state().user_by_external_id("u-1");
    }
}

#[test]
fn a_timeout_or_a_reset_is_sent_again_within_the_call_and_a_long_wait_goes_back() {
    // One timeout, then one reset: the host sends the idempotent upsert again and it lands.
    let s = Scenario::new();
    s.transport.fail_nth(1, Injected::Timeout);
    let d = s.deliver(ann_identify());
    assert_eq!(d.report.fetches.len(), 2);
    assert_eq!(d.report.fetches[0].error.as_deref(), Some("timeout"));
    let reset = FetchFailure::Connection("connection reset by peer (injected)".into());
    s.transport.fail_with(1, reset);
    let d = s.deliver(ann_identify());
    assert!(
        d.report.fetches[0]
            .error
            .as_deref()
            .unwrap()
            .starts_with("connection")
    );
    assert_eq!(s.state().count("users"), 1);
    // A wait longer than a call holds its sandbox for: back to the platform, with the wait.
    let s = Scenario::new();
    s.transport
        .fail_nth(1, Injected::Unavailable { retry_after: 11 });
    assert_eq!(retryable(&s.send(ann_identify())), Some(11));
    assert_eq!(s.state().count("users"), 0);
}

#[test]
fn wrong_credentials_are_rejected_naming_them_without_leaking_the_token() {
    let s = Scenario::new();
    s.mock.require_credentials(SUB, "Basic c29tZW9uZS1lbHNl");
    let d = s.send(ann_identify());
    let (status, message) = rejected(&d);
    assert_eq!(status, 401);
    assert_mentions(&message, &["credentials"]);
    let basic = base64(&format!("admin@example.com/token:{API_TOKEN}"));
    let everything = format!(
        "{:?} {:?} {:?}",
        d.report.result, d.report.fetches, d.report.logs
    );
    assert!(
        !everything.contains(API_TOKEN),
        "token leaked: {everything}"
    );
    assert!(
        !everything.contains(&basic),
        "Basic credentials leaked: {everything}"
    );
}

#[test]
fn a_response_over_the_host_cap_is_rejected_not_retried() {
    let s = Scenario::new();
    s.transport.fail_with(1, FetchFailure::TooLarge(4 << 20));
    let (status, _) = rejected(&s.send(ann_identify()));
    assert_eq!(status, 0, "the host refused it; Zendesk never answered");
}

#[test]
fn credentials_are_sent_but_redacted_in_the_call_report() {
    let s = Scenario::new();
    let d = s.deliver(ann_identify());
    let fetch = &d.report.fetches[0];
    let authorization = fetch
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"));
    assert_eq!(authorization.map(|(_, v)| v.as_str()), Some("[redacted]"));
    let basic = base64(&format!("admin@example.com/token:{API_TOKEN}"));
    let everything = format!("{:?} {:?}", d.report.fetches, d.report.logs);
    assert!(!everything.contains(API_TOKEN) && !everything.contains(&basic));
}

#[test]
fn the_right_credentials_pass_the_mock_check() {
    // Proves the 401 above is about the credentials, not about the check itself.
    let s = Scenario::new();
    let basic = base64(&format!("admin@example.com/token:{API_TOKEN}"));
    s.mock.require_credentials(SUB, &format!("Basic {basic}"));
    s.deliver(ann_identify());
}

#[test]
fn forbidden_is_rejected_pointing_at_permissions_or_plan_with_zendesks_message() {
    let s = Scenario::new();
    s.transport.respond_nth(
        1,
        403,
        &[],
        r#"{"error":"Forbidden","description":"You do not have access to this page"}"#,
    );
    let (status, message) = rejected(&s.send(ann_identify()));
    assert_eq!(status, 403);
    assert_mentions(&message, &["plan", "You do not have access to this page"]);
}

#[test]
fn not_found_and_unprocessable_are_rejected_with_zendesks_message() {
    let s = Scenario::new();
    // 404: the Events API does not know this user.
    let d = s.send(json!({"type": "track", "userId": "u-1", "event": "Ping",
                          "context": {"zendesk_user_id": 424242}}));
    let (status, message) = rejected(&d);
    assert_eq!(status, 404);
    assert_mentions(&message, &["User not found"]);

    // 422: the email already belongs to another user.
    s.mock.seed_user(
        SUB,
        json!({"name": "Bob", "email": "bob@example.com", "external_id": "u-bob"}),
    );
    s.mock.seed_user(
        SUB,
        json!({"name": "Ann", "email": "ann@example.com", "external_id": "u-1"}),
    );
    let d = s.send(json!({"type": "identify", "userId": "u-1",
                          "traits": {"name": "Ann", "email": "bob@example.com"}}));
    let (status, message) = rejected(&d);
    assert_eq!(status, 422);
    assert_mentions(&message, &["already being used"]);
}

#[test]
fn a_non_json_success_body_is_rejected_as_an_unexpected_response() {
    let s = Scenario::new();
    s.transport
        .respond_nth(1, 200, &[], "<html>maintenance</html>");
    let (_, message) = rejected(&s.send(ann_identify()));
    assert_mentions(&message, &["unexpected"]);
}

#[test]
fn the_test_base64_matches_a_known_value() {
    assert_eq!(
        base64("admin@example.com/token:abc"),
        "YWRtaW5AZXhhbXBsZS5jb20vdG9rZW46YWJj"
    );
    assert_eq!(base64("ab"), "YWI=");
}

#[test]
fn malformed_or_non_object_events_are_invalid_events_not_traps() {
    let s = Scenario::new();
    for raw in [
        r#"{"type": "identify", "userId": "#,
        "[1, 2, 3]",
        r#""identify""#,
        "",
        r#"{"userId": "u-1", "traits": {"name": "Ann"}}"#,
        r#"{"type": "identify", "userId": "u-1", "traits": "not an object"}"#,
    ] {
        let d = s.send_raw(raw);
        match d.guest_error() {
            GuestError::InvalidEvent(_) => {}
            other => panic!("{raw:?}: expected InvalidEvent, got {other:?}"),
        }
        assert!(d.requests.is_empty(), "{raw:?}: calls {:?}", d.calls());
    }
}

#[test]
fn page_screen_and_alias_are_unsupported_without_calls() {
    let s = Scenario::new();
    for event in [
        json!({"type": "page", "userId": "u-1", "name": "Home"}),
        json!({"type": "screen", "userId": "u-1", "name": "Home"}),
        json!({"type": "alias", "userId": "u-1", "previousId": "anon"}),
        json!({"action": "Page", "userId": "u-1"}),
    ] {
        let d = s.send(event.clone());
        match d.guest_error() {
            GuestError::UnsupportedEvent(message) => {
                let kind = event
                    .get("type")
                    .or(event.get("action"))
                    .and_then(Value::as_str);
                assert_mentions(message, &[&kind.unwrap_or_default().to_lowercase()]);
            }
            other => panic!("{event}: expected UnsupportedEvent, got {other:?}"),
        }
        assert!(d.requests.is_empty());
    }
}

#[test]
fn bad_configs_are_classified_naming_the_key_and_never_echo_the_token() {
    let event = identify("u-1", json!({"name": "Ann", "email": "ann@example.com"}));
    let cases = [
        (
            config_with(json!({"createUsersAsVerified": "yes"})),
            "createUsersAsVerified",
        ),
        (
            config_with(json!({"removeUsersFromOrganization": 1})),
            "removeUsersFromOrganization",
        ),
        (config_with(json!({"events": "Order Completed"})), "events"),
        (config_with(json!({"subdomain": 42})), "subdomain"),
        (config_with(json!({"sourceName": "Zendesk"})), "sourceName"),
        (
            json!({"email": "admin@example.com", "apiToken": API_TOKEN}),
            "subdomain",
        ),
        (json!({"subdomain": SUB}), "apiToken"),
        (
            json!({"subdomain": SUB, "email": "admin@example.com"}),
            "apiToken",
        ),
    ];
    for (config, key) in cases {
        let s = Scenario::with_config(config.clone());
        let d = s.send(event.clone());
        assert_invalid_config(&d, &[key]);
        assert!(!format!("{:?}", d.report.result).contains(API_TOKEN));

        match runtime().validate_config(plugin(), &s.tenant) {
            Err(CallError::Guest(GuestError::InvalidConfig(message))) => {
                assert_mentions(&message, &[key]);
                assert!(!message.contains(API_TOKEN));
            }
            other => panic!("validate_config({key}): expected InvalidConfig, got {other:?}"),
        }
    }
}

/// Odd but well-formed JSON: every event ends in an outcome or a classified error, never a trap
/// (a guest panic or a runaway loop would be a trap).
#[test]
fn odd_inputs_are_classified_never_trapped() {
    let deep = |levels: usize| format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
    let ann = r#""name":"Ann","email":"ann@example.com""#;
    let raw_events = [
        r#"{"type":"identify","userId":null,"traits":null}"#.to_string(),
        format!(r#"{{"type":"identify","userId":12.5,"traits":{{{ann}}}}}"#),
        format!(r#"{{"type":"identify","userId":-3,"traits":{{{ann}}}}}"#),
        format!(r#"{{"type":"identify","userId":1e300,"traits":{{{ann}}}}}"#),
        format!(r#"{{"type":"identify","userId":"","traits":{{{ann}}}}}"#),
        r#"{"type":"identify","userId":"u","traits":{"name":123,"email":"a@x.com"}}"#.into(),
        r#"{"type":"identify","userId":"u","traits":{"name":"A","email":42}}"#.into(),
        format!(r#"{{"type":"identify","userId":"u","traits":{{{ann},"company":"Acme"}}}}"#),
        format!(r#"{{"type":"identify","userId":"u","traits":{{{ann},"company":{{"id":-1}}}}}}"#),
        format!(r#"{{"type":"identify","userId":"u","traits":{{{ann},"company":{{"id":1.5}}}}}}"#),
        format!(
            r#"{{"type":"identify","userId":"u","traits":{{{ann},"company":{{"id":"18446744073709551616"}}}}}}"#
        ),
        format!(r#"{{"type":"identify","userId":"u","traits":{{{ann},"nested":{}}}}}"#, deep(100)),
        format!(r#"{{"type":"identify","userId":"u","traits":{{{ann},"nested":{}}}}}"#, deep(5000)),
        format!(r#"{{"type":"identify","userId":"u","traits":{{{ann},"big":"{}"}}}}"#, "x".repeat(1 << 20)),
        r#"{"type":"identify","userId":"ü-😀","traits":{"name":"Zoë 😀","email":"zoë@example.com","größe":1}}"#.into(),
        r#"{"type":"group","userId":"u","groupId":{"a":1},"traits":{"name":"X"}}"#.into(),
        r#"{"type":"group","userId":"u","groupId":"g","traits":{"name":"X","tags":[1,2]}}"#.into(),
        r#"{"type":"group","userId":"u","groupId":"g","traits":null}"#.into(),
        r#"{"type":"group","userId":"u","groupId":"","traits":{"name":""}}"#.into(),
        r#"{"type":"track","userId":"u","event":42}"#.into(),
        r#"{"type":"track","userId":"u","event":"","properties":{}}"#.into(),
        r#"{"type":"track","userId":"u","event":"X","context":{"zendesk_user_id":"abc"}}"#.into(),
        r#"{"type":"track","userId":"u","event":"X","context":{"zendesk_user_id":-5}}"#.into(),
        r#"{"type":"track","userId":"u","event":"X","context":null,"timestamp":"yesterday"}"#.into(),
        r#"{"type":"track","userId":"u","event":"Ticket Updated","properties":{"ticket_id":"12abc","status":"open"}}"#.into(),
        r#"{"type":"track","userId":"u","event":"Ticket Created","properties":{"subject":["a"],"comment":"c"}}"#.into(),
        r#"{"type":5}"#.into(),
        r#"{"type":null,"action":"identify"}"#.into(),
    ];
    let s = Scenario::new();
    for raw in &raw_events {
        let d = s.send_raw(raw);
        if let Err(error @ (CallError::Trap { .. } | CallError::Instantiate(_))) = &d.report.result
        {
            panic!("{raw:.200}: {error:?}");
        }
    }
    // Spot checks: an empty userId is no userId; JSON nested past serde's limit is invalid.
    let d = s.send(json!({"type": "identify", "userId": "", "traits": {"name": "Eve", "email": "eve@example.com"}}));
    assert!(
        d.body("POST", "/api/v2/users/create_or_update")["user"]
            .get("external_id")
            .is_none()
    );
    let d = s.send_raw(&format!(
        r#"{{"type":"identify","userId":"u","traits":{{{ann},"n":{}}}}}"#,
        deep(5000)
    ));
    assert_invalid_event(&d, &["JSON"]);
}

#[test]
fn a_slow_zendesk_over_http_times_out_retryably_and_the_retry_converges() {
    // Ben first (unhurried) so the field definitions are known; then Ann's upsert is the first
    // call, and it is the one that times out AFTER Zendesk applied it.
    let warm_up = json!({"type": "identify", "userId": "u-0",
        "traits": {"name": "Ben", "email": "ben@example.com", "planName": "basic"}});
    let event = json!({"type": "identify", "userId": "u-1",
        "traits": {"name": "Ann", "email": "ann@example.com", "planName": "pro"}});
    let clean = Scenario::over_http(json!({}));
    clean.deliver(warm_up.clone());
    clean.deliver(event.clone());

    let limits = destination_host::Limits {
        request_timeout_ms: 150,
        ..Default::default()
    };
    let s = Scenario::over_http_with_limits(json!({}), limits);
    s.deliver(warm_up);
    // Zendesk applies the write but answers after 400 ms: the host gives up at 150 ms.
    s.mock.set_faults(Faults {
        rate: 1.0,
        seed: 1,
        kinds: vec![FaultKind::Slow],
        retry_after_seconds: 0,
        slow_ms: 400,
    });
    let started = std::time::Instant::now();
    let d = s.send(event.clone());
    assert_eq!(retryable(&d), None);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    // Wait until the slow upsert has landed (status recorded), then retry at normal speed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while s.mock.requests().iter().any(|r| r.status == 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow request never finished"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        s.state().count("users"),
        2,
        "the timed-out upsert was applied"
    );
    s.mock.set_faults(Faults::none());
    let retry = s.deliver(event);
    assert_eq!(retry.statuses(), [200]);
    clean.state().assert_same_entities(
        &s.state(),
        "after a timed-out attempt and a retry over HTTP",
    );
}
