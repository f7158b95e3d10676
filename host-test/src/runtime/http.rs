//! The `http-fetch` import: policy check, origin override, time and size limits, transport, and
//! a redacted record of every attempt.

use std::time::{Duration, Instant};

use super::bindings::wit_http;
use super::redact::redact_headers;
use super::report::FetchRecord;
use super::state::CallState;
use super::transport::{FetchFailure, OutboundRequest};

/// Tells the mock server (behind an origin override) which account a request is for.
const SUBDOMAIN_HEADER: &str = "X-Zendesk-Subdomain";

impl wit_http::Host for CallState {
    fn fetch(
        &mut self,
        request: wit_http::Request,
    ) -> Result<wit_http::Response, wit_http::FetchError> {
        let started = Instant::now();
        let mut sent_to = None;
        let result = fetch(self, &request, &mut sent_to);
        let spent = started.elapsed();
        // Time waiting on the network is not the guest's CPU time (it still counts as wall time).
        self.budget.add_host_time(spent);
        let (status, error) = match &result {
            Ok(response) => (Some(response.status), None),
            Err(failure) => (None, Some(describe_failure(failure))),
        };
        self.fetches.push(FetchRecord {
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
        });
        result
    }
}

/// Checks, rewrites and sends one request; `sent_to` is set once it is handed to the transport.
fn fetch(
    state: &mut CallState,
    request: &wit_http::Request,
    sent_to: &mut Option<String>,
) -> Result<wit_http::Response, wit_http::FetchError> {
    // 1. The policy comes first: nothing below may run for a URL the tenant cannot reach.
    let allowed = match state.policy.check(&request.url) {
        Ok(allowed) => allowed,
        Err(denial) => {
            state.logs.host(
                "warn",
                &format!("outbound request denied: {denial}"),
                vec![
                    ("tenant".into(), state.tenant.id.clone()),
                    ("rule".into(), "tenant subdomain".into()),
                ],
            );
            return Err(wit_http::FetchError::Denied(denial));
        }
    };

    // 2. Testing override: same path, loopback origin, account named in a header.
    let mut headers = request.headers.clone();
    let url = match &state.tenant.origin_override {
        Some(origin) => {
            headers.push((SUBDOMAIN_HEADER.into(), allowed.subdomain.clone()));
            origin.join(&allowed.path_and_query)
        }
        None => request.url.clone(),
    };

    // 3. A request may not outlive the call's wall-clock budget.
    let limits = &state.tenant.limits;
    let timeout =
        Duration::from_millis(limits.request_timeout_ms).min(state.budget.wall_remaining());
    if timeout.is_zero() {
        return Err(wit_http::FetchError::Timeout);
    }

    // 4. Send, reading at most the response cap.
    let max_response_bytes = limits.max_response_kib.saturating_mul(1024);
    let outbound = OutboundRequest {
        method: request.method.clone(),
        url,
        headers,
        body: request.body.clone(),
    };
    *sent_to = Some(outbound.url.clone());
    let response = state
        .tenant
        .transport
        .send(&outbound, timeout, max_response_bytes)
        .map_err(|failure| match failure {
            FetchFailure::Timeout => wit_http::FetchError::Timeout,
            FetchFailure::Connection(message) => wit_http::FetchError::Connection(message),
            FetchFailure::TooLarge(cap) => wit_http::FetchError::TooLarge(cap),
        })?;
    // 5. Transports stop reading at the cap; check again so a lax transport cannot bypass it.
    if response.body.len() as u64 > max_response_bytes {
        return Err(wit_http::FetchError::TooLarge(max_response_bytes));
    }
    Ok(wit_http::Response {
        status: response.status,
        headers: response.headers,
        body: response.body,
    })
}

fn describe_failure(failure: &wit_http::FetchError) -> String {
    match failure {
        wit_http::FetchError::Denied(why) => format!("denied: {why}"),
        wit_http::FetchError::Timeout => "timeout".into(),
        wit_http::FetchError::Connection(why) => format!("connection: {why}"),
        wit_http::FetchError::TooLarge(cap) => format!("too large: response exceeded {cap} bytes"),
    }
}
