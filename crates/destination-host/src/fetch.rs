//! One guest request: per-call budgets, the outbound policy, header stripping, time and size
//! limits, the transport, and a record of the attempt.

use std::time::{Duration, Instant};

use crate::call_state::CallState;
use crate::pacing::RateSignal;
use crate::policy::strip_headers;
use crate::redact::redact_headers;
use crate::report::{FetchRecord, TrapKind};
use crate::retry::Transient;
use crate::transport::{FetchFailure, InboundResponse, OutboundRequest};

/// A request as the guest made it (any contract version).
pub struct GuestRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// The guest says a second send has the effect of one (contract 0.2.0; false before).
    pub idempotent: bool,
}

/// Why a request produced no response (the contract's `fetch-error`).
#[derive(Debug)]
pub enum FetchRefusal {
    Denied(String),
    Timeout,
    Connection(String),
    TooLarge(u64),
    /// Not sent again within the call: it would fail the same way (see
    /// [`FetchFailure::Misconfigured`]).
    Misconfigured(String),
}

/// The `http-fetch` import. `Err` ends the call (a per-call budget was exceeded); `Ok(Err)` is a
/// failed request the guest handles. An idempotent request that fails transiently is sent again
/// here ([`crate::RequestRetry`]), within the call's wall budget; every send is recorded.
pub async fn fetch(
    state: &mut CallState,
    request: GuestRequest,
) -> wasmtime::Result<Result<InboundResponse, FetchRefusal>> {
    let mut sent = 0;
    loop {
        check_budgets(state, &request)?;
        sent += 1;
        let result = send_and_record(state, &request, sent > 1).await;
        let failure = match &result {
            _ if !request.idempotent => None,
            Ok(response) => Transient::of_status(response.status, retry_after(response)),
            Err(FetchRefusal::Timeout | FetchRefusal::Connection(_)) => Some(Transient::Failed),
            Err(_) => None,
        };
        let Some(failure) = failure else {
            return Ok(result);
        };
        // Leave the next send a second of the call's budget.
        let room = state
            .budget
            .wall_remaining()
            .saturating_sub(Duration::from_secs(1));
        let Some(wait) = state
            .options
            .request_retry
            .wait(sent, failure, room, fastrand::f64())
        else {
            return Ok(result);
        };
        state.logs.host(
            "info",
            format!(
                "{} {} failed transiently ({}): sent again in {} ms",
                request.method,
                request.url,
                match &result {
                    Ok(response) => response.status.to_string(),
                    Err(refusal) => describe(refusal),
                },
                wait.as_millis()
            ),
            Vec::new(),
        );
        tokio::time::sleep(wait).await;
        state.budget.add_host_time(wait);
    }
}

/// `Retry-After` in seconds, when the response has one.
fn retry_after(response: &InboundResponse) -> Option<Duration> {
    response
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, value)| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

async fn send_and_record(
    state: &mut CallState,
    request: &GuestRequest,
    resent: bool,
) -> Result<InboundResponse, FetchRefusal> {
    let started = Instant::now();
    let mut sent_to = None;
    let result = send(state, request, &mut sent_to).await;
    let spent = started.elapsed();
    // Time waiting on the network is not the guest's CPU time (it still counts as wall time).
    state.budget.add_host_time(spent);
    let (status, error) = match &result {
        Ok(response) => (Some(response.status), None),
        Err(refusal) => (None, Some(describe(refusal))),
    };
    state.fetches.push(FetchRecord {
        method: request.method.clone(),
        url: request.url.clone(),
        sent_to,
        headers: redact_headers(&request.headers),
        body: request
            .body
            .as_ref()
            .map(|body| String::from_utf8_lossy(body).into_owned()),
        status,
        error,
        duration_ms: u64::try_from(spent.as_millis()).unwrap_or(u64::MAX),
        resent,
    });
    result
}

/// The per-call budgets: request count, request body size and bytes recorded. They are checked
/// before anything is sent, so a call over budget sends nothing more.
fn check_budgets(state: &mut CallState, request: &GuestRequest) -> wasmtime::Result<()> {
    let limits = state.tenant.limits.clone();
    if state.fetches.len() >= limits.max_fetches as usize {
        return Err(state.stop(
            TrapKind::FetchBudget,
            format!(
                "the guest made more than its budget of {} requests (max_fetches)",
                limits.max_fetches
            ),
        ));
    }
    let body_len = request.body.as_ref().map_or(0, Vec::len) as u64;
    if body_len > limits.max_request_kib.saturating_mul(1024) {
        return Err(state.stop(
            TrapKind::RequestSize,
            format!(
                "the guest sent a request body of {body_len} bytes, above its limit of {} KiB \
                 (max_request_kib)",
                limits.max_request_kib
            ),
        ));
    }
    let headers_len: usize = request.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    let record_len = (request.url.len() + headers_len) as u64 + body_len;
    state.recorded_bytes = state.recorded_bytes.saturating_add(record_len);
    if state.recorded_bytes > limits.max_recorded_kib.saturating_mul(1024) {
        return Err(state.stop(
            TrapKind::RecordBudget,
            format!(
                "the guest's requests exceeded the {} KiB the host records per call \
                 (max_recorded_kib)",
                limits.max_recorded_kib
            ),
        ));
    }
    Ok(())
}

/// Checks and sends one request; `sent_to` is set once it is handed to the transport.
async fn send(
    state: &mut CallState,
    request: &GuestRequest,
    sent_to: &mut Option<String>,
) -> Result<InboundResponse, FetchRefusal> {
    // 1. The policy comes first: nothing below may run for a URL the tenant cannot reach.
    if let Err(denial) = state.policy.check(&request.url) {
        tracing::warn!(tenant = %state.tenant.id, "outbound request denied: {denial}");
        state.logs.host(
            "warn",
            format!("outbound request denied: {denial}"),
            vec![
                ("tenant".into(), state.tenant.id.clone()),
                ("rule".into(), "allowed origins".into()),
            ],
        );
        return Err(FetchRefusal::Denied(denial));
    }

    // 2. Hop-by-hop and routing headers are the host's business, never the guest's.
    let mut headers = request.headers.clone();
    let stripped = strip_headers(&mut headers, &state.options.routing_headers);
    if !stripped.is_empty() {
        state.logs.host(
            "warn",
            format!(
                "stripped request headers the guest may not set: {}",
                stripped.join(", ")
            ),
            Vec::new(),
        );
    }

    // 3. A request may not outlive the call's wall-clock budget.
    let limits = &state.tenant.limits;
    let timeout =
        Duration::from_millis(limits.request_timeout_ms).min(state.budget.wall_remaining());
    if timeout.is_zero() {
        return Err(FetchRefusal::Timeout);
    }

    // 4. Pace to the account's rate limit: wait for the tenant's next slot (as long as the
    //    call's budget allows; past it the request goes anyway and a 429 says the rest).
    let pace = state
        .tenant
        .rate
        .take(&state.tenant.id, limits.requests_per_minute)
        .min(timeout.saturating_sub(Duration::from_secs(1)));
    if !pace.is_zero() {
        tokio::time::sleep(pace).await;
    }
    let timeout = timeout.saturating_sub(pace);

    // 5. Send, reading at most the response cap.
    let max_response_bytes = limits.max_response_kib.saturating_mul(1024);
    let outbound = OutboundRequest {
        method: request.method.clone(),
        url: request.url.clone(),
        headers,
        body: request.body.clone(),
    };
    *sent_to = Some(outbound.url.clone());
    let transport = std::sync::Arc::clone(&state.tenant.transport);
    let response = transport
        .send(&outbound, timeout, max_response_bytes)
        .await
        .map_err(|failure| match failure {
            FetchFailure::Timeout => FetchRefusal::Timeout,
            FetchFailure::Connection(message) => FetchRefusal::Connection(message),
            FetchFailure::TooLarge(cap) => FetchRefusal::TooLarge(cap),
            FetchFailure::Misconfigured(message) => FetchRefusal::Misconfigured(message),
        })?;
    // 6. Transports stop reading at the cap; check again so a lax transport cannot bypass it.
    if response.body.len() as u64 > max_response_bytes {
        return Err(FetchRefusal::TooLarge(max_response_bytes));
    }
    state.tenant.rate.observe(
        &state.tenant.id,
        RateSignal::from_headers(
            response.status,
            &response.headers,
            &state.options.rate_limit_headers,
        ),
    );
    if let Some(actual) = &response.sent_to {
        *sent_to = Some(actual.clone());
    }
    Ok(response)
}

fn describe(refusal: &FetchRefusal) -> String {
    match refusal {
        FetchRefusal::Denied(why) => format!("denied: {why}"),
        FetchRefusal::Timeout => "timeout".into(),
        FetchRefusal::Connection(why) => format!("connection: {why}"),
        FetchRefusal::TooLarge(cap) => format!("too large: response exceeded {cap} bytes"),
        FetchRefusal::Misconfigured(why) => format!("misconfigured: {why}"),
    }
}
