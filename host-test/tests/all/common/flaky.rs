//! A transport wrapper that fails one chosen request, for partial-failure and error tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use destination_host::{FetchFailure, InboundResponse, OutboundRequest, Sending, Transport};

/// What happens to the chosen request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injected {
    /// Zendesk answers 503 with `Retry-After` (the request changes nothing).
    Unavailable { retry_after: u32 },
    /// The request times out before reaching Zendesk (it changes nothing).
    Timeout,
    /// The request reaches Zendesk and changes its state, but the response is lost (timeout):
    /// the nastiest case for idempotency.
    ResponseLost,
}

impl Injected {
    pub fn all() -> [Injected; 3] {
        [
            Injected::Unavailable { retry_after: 2 },
            Injected::Timeout,
            Injected::ResponseLost,
        ]
    }

    /// The retry-after the guest must report for this failure.
    pub fn retry_after(self) -> Option<u32> {
        match self {
            Injected::Unavailable { retry_after } => Some(retry_after),
            Injected::Timeout | Injected::ResponseLost => None,
        }
    }
}

/// What the wrapper does to the armed request.
enum Plan {
    Inject(Injected),
    /// Answer with this status, headers and body instead of asking the mock.
    Respond(u16, Vec<(String, String)>, String),
    /// Fail without a response.
    Fail(FetchFailure),
}

struct Armed {
    /// Requests still to let through before the failing one.
    pass: usize,
    plan: Plan,
}

/// Delegates to the real transport, except for the one request armed with `fail_nth` /
/// `respond_nth` / `fail_with`.
pub struct FlakyTransport {
    inner: Arc<dyn Transport>,
    armed: Mutex<Option<Armed>>,
}

impl FlakyTransport {
    pub fn new(inner: Arc<dyn Transport>) -> Self {
        FlakyTransport {
            inner,
            armed: Mutex::new(None),
        }
    }

    /// The `nth` request from now (1-based) fails as `injected`, once.
    pub fn fail_nth(&self, nth: usize, injected: Injected) {
        self.arm(nth, Plan::Inject(injected));
    }

    /// The `nth` request from now gets this canned answer instead of reaching the mock, once.
    pub fn respond_nth(&self, nth: usize, status: u16, headers: &[(&str, &str)], body: &str) {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.arm(nth, Plan::Respond(status, headers, body.to_string()));
    }

    /// The `nth` request from now fails with this transport failure (not sent), once.
    pub fn fail_with(&self, nth: usize, failure: FetchFailure) {
        self.arm(nth, Plan::Fail(failure));
    }

    fn arm(&self, nth: usize, plan: Plan) {
        assert!(nth >= 1, "requests are counted from 1");
        *self.lock() = Some(Armed {
            pass: nth - 1,
            plan,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Armed>> {
        // A panicking test thread may poison the lock; the plan inside is still meaningful.
        self.armed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the plan when this request is the armed one.
    fn plan_for_this_request(&self) -> Option<Plan> {
        let mut armed = self.lock();
        let current = armed.as_mut()?;
        if current.pass > 0 {
            current.pass -= 1;
            return None;
        }
        armed.take().map(|a| a.plan)
    }
}

impl Transport for FlakyTransport {
    fn send<'a>(
        &'a self,
        request: &'a OutboundRequest,
        timeout: Duration,
        max_response_bytes: u64,
    ) -> Sending<'a> {
        let plan = self.plan_for_this_request();
        Box::pin(async move {
            self.follow(plan, request, timeout, max_response_bytes)
                .await
        })
    }
}

impl FlakyTransport {
    async fn follow(
        &self,
        plan: Option<Plan>,
        request: &OutboundRequest,
        timeout: Duration,
        max_response_bytes: u64,
    ) -> Result<InboundResponse, FetchFailure> {
        match plan {
            None => self.inner.send(request, timeout, max_response_bytes).await,
            Some(Plan::Inject(Injected::Unavailable { retry_after })) => Ok(canned(
                503,
                vec![("Retry-After".into(), retry_after.to_string())],
                r#"{"error":"Unavailable","description":"Service temporarily unavailable"}"#,
            )),
            Some(Plan::Inject(Injected::Timeout)) => Err(FetchFailure::Timeout),
            Some(Plan::Inject(Injected::ResponseLost)) => {
                // Let Zendesk apply the write, then drop its answer.
                let _ = self.inner.send(request, timeout, max_response_bytes).await;
                Err(FetchFailure::Timeout)
            }
            Some(Plan::Respond(status, headers, body)) => Ok(canned(status, headers, &body)),
            Some(Plan::Fail(failure)) => Err(failure),
        }
    }
}

fn canned(status: u16, mut headers: Vec<(String, String)>, body: &str) -> InboundResponse {
    headers.push(("Content-Type".into(), "application/json".into()));
    InboundResponse {
        status,
        headers,
        body: body.as_bytes().to_vec(),
        sent_to: None,
    }
}
