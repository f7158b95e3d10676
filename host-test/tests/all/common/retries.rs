//! Partial failures: one request of an event fails; the host sends it again within the call (an
//! idempotent request) or the event is retried later; nothing is duplicated.

use serde_json::Value;

use super::{Injected, Scenario, retryable};

/// Partial-failure check: for every request position of a clean run of `events` and for every
/// injected failure kind, a fresh scenario (prepared by `setup`) has that one request fail, the
/// event is retried, and the final state must equal the clean run's (ids included: a duplicate
/// or a lost write shows up as a difference).
pub fn assert_retries_converge(settings: Value, setup: impl Fn(&Scenario), events: &[Value]) {
    let clean = Scenario::with_settings(settings.clone());
    setup(&clean);
    let mut requests_per_event = Vec::new();
    for event in events {
        requests_per_event.push(clean.deliver(event.clone()).requests.len());
    }
    let expected = clean.state();

    for (index, event) in events.iter().enumerate() {
        for nth in 1..=requests_per_event[index] {
            for injected in Injected::all() {
                let scenario = Scenario::with_settings(settings.clone());
                setup(&scenario);
                for earlier in &events[..index] {
                    scenario.deliver(earlier.clone());
                }
                scenario.transport.fail_nth(nth, injected);
                let failed = scenario.send(event.clone());
                if failed.report.result.is_err() {
                    // Not resent within the call (not idempotent, or a long Retry-After): the
                    // event is retryable, with the wait Zendesk asked for.
                    assert_eq!(
                        retryable(&failed),
                        injected.retry_after(),
                        "{injected:?} at request {nth}"
                    );
                    scenario.deliver(event.clone());
                }
                for later in &events[index + 1..] {
                    scenario.deliver(later.clone());
                }
                let context = format!("event {index}, {injected:?} at request {nth}, then retried");
                expected.assert_same_entities(&scenario.state(), &context);
            }
        }
    }
}
