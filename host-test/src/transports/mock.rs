//! In-process transport to the stateful mock Zendesk: no sockets, deterministic, fast.

use std::time::{Duration, Instant};

use mock_zendesk::MockZendesk;

use destination_host::{FetchFailure, InboundResponse, OutboundRequest, Sending, Transport};

/// Hands every request to a [`MockZendesk`] (shared state: clones see the same accounts).
#[derive(Clone)]
pub struct MockTransport {
    mock: MockZendesk,
}

impl MockTransport {
    pub fn new(mock: MockZendesk) -> MockTransport {
        MockTransport { mock }
    }

    /// The mock behind this transport, e.g. to inspect its final state.
    pub fn mock(&self) -> &MockZendesk {
        &self.mock
    }
}

impl Transport for MockTransport {
    fn send<'a>(
        &'a self,
        request: &'a OutboundRequest,
        timeout: Duration,
        max_response_bytes: u64,
    ) -> Sending<'a> {
        // The mock answers at once, unless an injected slow fault may sleep: that answer waits
        // on tokio's blocking pool, so a slow call holds no runtime thread, as over a network.
        if !self.mock.may_stall() {
            return Box::pin(std::future::ready(self.answer(
                request,
                timeout,
                max_response_bytes,
            )));
        }
        let (transport, request) = (self.clone(), request.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                transport.answer(&request, timeout, max_response_bytes)
            })
            .await
            .unwrap_or_else(|joined| std::panic::resume_unwind(joined.into_panic()))
        })
    }
}

impl MockTransport {
    fn answer(
        &self,
        request: &OutboundRequest,
        timeout: Duration,
        max_response_bytes: u64,
    ) -> Result<InboundResponse, FetchFailure> {
        let started = Instant::now();
        let response = self.mock.handle(&mock_zendesk::Request {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone().unwrap_or_default(),
        });
        // The mock answers in-process (possibly after an injected delay): a late answer is a
        // timeout, as it would be over the network.
        if started.elapsed() > timeout {
            return Err(FetchFailure::Timeout);
        }
        if response.body.len() as u64 > max_response_bytes {
            return Err(FetchFailure::TooLarge(max_response_bytes));
        }
        Ok(InboundResponse {
            status: response.status,
            headers: response.headers,
            body: response.body,
            sent_to: None,
        })
    }
}
