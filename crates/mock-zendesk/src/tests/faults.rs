use std::time::{Duration, Instant};

use serde_json::json;

use super::{SUB, send};
use crate::{FaultKind, Faults, MockZendesk};

fn faults(rate: f64, seed: u64) -> Faults {
    Faults {
        rate,
        seed,
        kinds: vec![
            FaultKind::RateLimited,
            FaultKind::ServerError,
            FaultKind::Unavailable,
            FaultKind::Conflict,
        ],
        retry_after_seconds: 3,
        slow_ms: 0,
    }
}

/// 40 distinct user creations; returns the statuses.
fn create_users(mock: &MockZendesk) -> Vec<u16> {
    (0..40)
        .map(|n| {
            let body =
                json!({"user": {"name": format!("User {n}"), "external_id": format!("u{n}")}});
            send(mock, "POST", "/api/v2/users/create_or_update", Some(body)).status
        })
        .collect()
}

#[test]
fn faults_are_deterministic_per_seed_and_change_nothing() {
    let first = MockZendesk::with_faults(faults(0.5, 7));
    let second = MockZendesk::with_faults(faults(0.5, 7));
    let statuses = create_users(&first);
    assert_eq!(statuses, create_users(&second), "same seed, same faults");
    let other_seed = MockZendesk::with_faults(faults(0.5, 8));
    assert_ne!(
        statuses,
        create_users(&other_seed),
        "another seed, other faults"
    );

    let faulted = statuses.iter().filter(|s| **s != 201).count();
    assert!((8..=32).contains(&faulted), "about half faulted: {faulted}");
    assert!(
        statuses
            .iter()
            .all(|s| [201, 429, 500, 503, 409].contains(s))
    );

    // Exactly the non-faulted requests created a user.
    let state = first.account(SUB);
    assert_eq!(
        state.users.len(),
        statuses.iter().filter(|s| **s == 201).count()
    );
    for (n, (record, status)) in first.requests().iter().zip(&statuses).enumerate() {
        assert_eq!(record.status, *status);
        assert_eq!(record.fault.is_some(), *status != 201);
        assert_eq!(
            state.user_by_external_id(&format!("u{n}")).is_some(),
            *status == 201
        );
        if let Some(fault) = &record.fault {
            assert_eq!(fault, &status.to_string());
        }
    }
}

#[test]
fn rate_limited_and_unavailable_faults_carry_retry_after() {
    let mock = MockZendesk::with_faults(Faults {
        kinds: vec![FaultKind::RateLimited],
        ..faults(1.0, 1)
    });
    let response = send(&mock, "GET", "/api/v2/user_fields", None);
    assert_eq!(response.status, 429);
    assert_eq!(response.header_value("retry-after"), Some("3"));
    mock.set_faults(Faults {
        kinds: vec![FaultKind::Unavailable],
        ..faults(1.0, 1)
    });
    let response = send(&mock, "GET", "/api/v2/user_fields", None);
    assert_eq!(
        (response.status, response.header_value("Retry-After")),
        (503, Some("3"))
    );
    mock.set_faults(Faults::none());
    assert_eq!(send(&mock, "GET", "/api/v2/user_fields", None).status, 200);
}

#[test]
fn slow_faults_delay_then_answer_normally() {
    let mock = MockZendesk::with_faults(Faults {
        kinds: vec![FaultKind::Slow],
        slow_ms: 60,
        ..faults(1.0, 1)
    });
    let started = Instant::now();
    let body = json!({"user": {"name": "Slow"}});
    let response = send(&mock, "POST", "/api/v2/users/create_or_update", Some(body));
    assert!(started.elapsed() >= Duration::from_millis(60));
    assert_eq!(response.status, 201);
    assert_eq!(mock.requests()[0].fault.as_deref(), Some("slow"));
    assert_eq!(mock.account(SUB).users.len(), 1);
}

#[test]
fn fault_specs_parse_with_defaults_and_clear_errors() {
    let parsed: Faults = "rate=0.3,seed=7,kinds=429|500|503|409|slow,retry_after=2,slow_ms=50"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        parsed,
        Faults {
            rate: 0.3,
            seed: 7,
            kinds: FaultKind::ALL.to_vec(),
            retry_after_seconds: 2,
            slow_ms: 50
        }
    );
    let defaults: Faults = "seed=9".parse().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            defaults.rate,
            defaults.seed,
            defaults.kinds.len(),
            defaults.retry_after_seconds
        ),
        (0.2, 9, 4, 1)
    );
    assert_eq!("none".parse::<Faults>(), Ok(Faults::none()));
    assert_eq!("".parse::<Faults>(), Ok(Faults::none()));

    let error = |spec: &str| spec.parse::<Faults>().err().unwrap_or_default();
    assert!(error("rate=2").contains("between 0 and 1"));
    assert!(error("rate=abc").contains("rate must be"));
    assert!(error("kinds=429|418").contains("unknown fault kind `418`"));
    assert!(error("speed=1").contains("unknown fault spec key `speed`"));
    assert!(error("rate").contains("not key=value"));
}
