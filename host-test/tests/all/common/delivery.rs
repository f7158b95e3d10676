//! One event's result, the requests Zendesk saw, and the assertions that read them.

use destination_host::{CallError, CallReport, GuestError, Outcome};
use mock_zendesk::RecordedRequest;
use serde_json::Value;

/// One event's result plus the exact requests the mock received while it ran.
pub struct Delivery {
    pub report: CallReport,
    pub requests: Vec<RecordedRequest>,
}

impl Delivery {
    /// The outcome; panics (with the calls made) when the event failed. Also checks that the
    /// outcome's operations are exactly the requests Zendesk received (a platform shows them).
    pub fn outcome(&self) -> &Outcome {
        match &self.report.result {
            Ok(outcome) => {
                let reported: Vec<String> = outcome
                    .operations
                    .iter()
                    .map(|op| format!("{} {} {}", op.method, op.path, op.status))
                    .collect();
                let received: Vec<String> = self
                    .requests
                    .iter()
                    .map(|r| format!("{} {} {}", r.method, r.path, r.status))
                    .collect();
                assert_eq!(
                    reported, received,
                    "outcome.operations != requests received"
                );
                self.assert_well_formed_requests();
                outcome
            }
            Err(error) => panic!(
                "event failed: {error:?}\ncalls: {:#?}\nlogs: {:#?}",
                self.calls(),
                self.report.logs
            ),
        }
    }

    /// Every request the guest made: an absolute `https://{sub}.zendesk.com/api/v2/...` URL without
    /// `//` in its path, JSON headers, and a redacted Authorization.
    fn assert_well_formed_requests(&self) {
        for fetch in &self.report.fetches {
            let uri: Option<http::Uri> = fetch.url.parse().ok();
            let path = uri
                .as_ref()
                .filter(|uri| uri.scheme_str() == Some("https"))
                .and_then(|uri| Some((uri.host()?.ends_with(".zendesk.com"), uri.path())));
            assert!(
                matches!(path, Some((true, p)) if p.starts_with("/api/v2/") && !p.contains("//")),
                "malformed URL {}",
                fetch.url
            );
            let header = |name: &str| {
                fetch
                    .headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(header("authorization"), Some("[redacted]"), "{}", fetch.url);
            assert_eq!(header("accept"), Some("application/json"), "{}", fetch.url);
            if fetch.body.is_some() {
                assert_eq!(
                    header("content-type"),
                    Some("application/json"),
                    "{}",
                    fetch.url
                );
            }
        }
    }

    /// The error; panics when the event succeeded.
    pub fn error(&self) -> &CallError {
        match &self.report.result {
            Ok(outcome) => panic!("expected an error, got {outcome:?}"),
            Err(error) => error,
        }
    }

    /// The classified guest error; panics on success and on traps (a trap is never acceptable).
    pub fn guest_error(&self) -> &GuestError {
        match self.error() {
            CallError::Guest(error) => error,
            other => panic!("expected a classified guest error, got {other:?}"),
        }
    }

    /// "METHOD /path?query" of every request received, in order (brackets decoded for reading).
    pub fn calls(&self) -> Vec<String> {
        self.requests.iter().map(call_line).collect()
    }

    /// The statuses Zendesk answered, in order.
    pub fn statuses(&self) -> Vec<u16> {
        self.requests.iter().map(|r| r.status).collect()
    }

    /// The JSON body of the first request with this method whose path starts with `path`.
    pub fn body(&self, method: &str, path: &str) -> &Value {
        self.requests
            .iter()
            .find(|r| r.method == method && r.path.starts_with(path))
            .and_then(|r| r.body.as_ref())
            .unwrap_or_else(|| panic!("no {method} {path} with a body in {:#?}", self.calls()))
    }

    /// The bodies of every request with this method whose path starts with `path`.
    pub fn bodies(&self, method: &str, path: &str) -> Vec<&Value> {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.path.starts_with(path))
            .filter_map(|r| r.body.as_ref())
            .collect()
    }
}

/// "METHOD path" with `%5B`/`%5D` shown as `[`/`]` so paging parameters read naturally.
pub fn call_line(request: &RecordedRequest) -> String {
    let path = request.path.replace("%5B", "[").replace("%5D", "]");
    format!("{} {}", request.method, path)
}

/// Asserts the guest error is `InvalidEvent` and its message mentions every `needle`.
pub fn assert_invalid_event(delivery: &Delivery, needles: &[&str]) {
    match delivery.guest_error() {
        GuestError::InvalidEvent(message) => assert_mentions(message, needles),
        other => panic!("expected InvalidEvent mentioning {needles:?}, got {other:?}"),
    }
    assert!(
        delivery.requests.is_empty(),
        "calls made: {:?}",
        delivery.calls()
    );
}

/// Asserts the guest error is `InvalidConfig` mentioning every `needle`, and nothing was sent.
pub fn assert_invalid_config(delivery: &Delivery, needles: &[&str]) {
    match delivery.guest_error() {
        GuestError::InvalidConfig(message) => assert_mentions(message, needles),
        other => panic!("expected InvalidConfig mentioning {needles:?}, got {other:?}"),
    }
    assert!(
        delivery.requests.is_empty(),
        "calls made: {:?}",
        delivery.calls()
    );
}

/// Asserts `message` contains every needle (case-insensitive).
pub fn assert_mentions(message: &str, needles: &[&str]) {
    let lower = message.to_lowercase();
    for needle in needles {
        assert!(
            lower.contains(&needle.to_lowercase()),
            "`{message}` does not mention `{needle}`"
        );
    }
}

/// The retry-after of a `Retryable` guest error; panics on any other result.
pub fn retryable(delivery: &Delivery) -> Option<u32> {
    match delivery.guest_error() {
        GuestError::Retryable {
            retry_after_seconds,
            ..
        } => *retry_after_seconds,
        other => panic!("expected Retryable, got {other:?}"),
    }
}

/// Status and message of a `Rejected` guest error; panics on any other result.
pub fn rejected(delivery: &Delivery) -> (u16, String) {
    match delivery.guest_error() {
        GuestError::Rejected { status, message } => (*status, message.clone()),
        other => panic!("expected Rejected, got {other:?}"),
    }
}
