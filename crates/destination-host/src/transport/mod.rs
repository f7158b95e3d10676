//! How an allowed request reaches a server. The runtime only ever calls [`Transport::send`] for
//! requests its policy allowed, with the guest's hop-by-hop and routing headers removed.

#[cfg(feature = "https")]
mod https;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

#[cfg(feature = "https")]
pub use https::HttpTransport;

/// A request the policy allowed.
#[derive(Clone, Debug)]
pub struct OutboundRequest {
    pub method: String,
    /// Absolute URL, on one of the tenant's allowed origins.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// A complete response. Any status (2xx or not) is a response.
#[derive(Clone, Debug, Default)]
pub struct InboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Where the request really went, when a transport sent it elsewhere than its URL (a test
    /// transport routing to a loopback server); shown in the fetch record.
    pub sent_to: Option<String>,
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
    /// The server cannot be spoken to as configured, and sending again will not change that
    /// (a plain-HTTP server behind an `https://` origin). The message says what to fix. The
    /// plugin gets it as `denied`: a dead letter at once, not hours of retries.
    Misconfigured(String),
}

/// A request on its way: the response, or why there is none.
pub type Sending<'a> =
    Pin<Box<dyn Future<Output = Result<InboundResponse, FetchFailure>> + Send + 'a>>;

/// Sends requests. Shared by many tenants and tasks: a request waiting on the network should
/// hold no thread (a transport that answers at once returns `Box::pin(std::future::ready(..))`).
pub trait Transport: Send + Sync {
    /// Sends `request`, waiting at most `timeout` for the complete response and reading at most
    /// `max_response_bytes` of body.
    fn send<'a>(
        &'a self,
        request: &'a OutboundRequest,
        timeout: Duration,
        max_response_bytes: u64,
    ) -> Sending<'a>;
}

/// A transport that sends nothing (e.g. while a plugin is loaded and described).
pub struct NoNetwork;

impl Transport for NoNetwork {
    fn send<'a>(&'a self, _: &'a OutboundRequest, _: Duration, _: u64) -> Sending<'a> {
        Box::pin(std::future::ready(Err(FetchFailure::Connection(
            "this call has no network".into(),
        ))))
    }
}
