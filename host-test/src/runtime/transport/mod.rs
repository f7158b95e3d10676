//! How an allowed request reaches a server: in-process mock or real HTTP.

mod http;
mod mock;

use std::time::Duration;

pub use http::HttpTransport;
pub use mock::MockTransport;

/// A request the policy allowed, already rewritten to where it must go.
#[derive(Clone, Debug)]
pub struct OutboundRequest {
    pub method: String,
    /// Absolute URL.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// A complete response. Any status (2xx or not) is a response.
#[derive(Clone, Debug)]
pub struct InboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request produced no response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchFailure {
    /// No complete response within the timeout.
    Timeout,
    /// DNS, TCP, TLS or protocol failure; the message never contains a header value.
    Connection(String),
    /// The body exceeded the cap (the cap in bytes); reading stopped at the cap.
    TooLarge(u64),
}

/// Sends requests. Shared by many tenants and threads.
pub trait Transport: Send + Sync {
    /// Sends `request`, waiting at most `timeout` for the complete response and reading at most
    /// `max_response_bytes` of body.
    fn send(
        &self,
        request: &OutboundRequest,
        timeout: Duration,
        max_response_bytes: u64,
    ) -> Result<InboundResponse, FetchFailure>;
}
