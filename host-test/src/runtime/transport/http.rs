//! Real HTTP(S) through one pooled ureq agent shared by every tenant.

use std::io;
use std::time::Duration;

use super::{FetchFailure, InboundResponse, OutboundRequest, Transport};

/// HTTPS (rustls) client. Redirects are not followed (the policy checked only the first URL),
/// non-2xx statuses are responses, and proxy environment variables are ignored: the host alone
/// decides where requests go.
pub struct HttpTransport {
    agent: ureq::Agent,
}

impl HttpTransport {
    pub fn new() -> HttpTransport {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .build();
        HttpTransport {
            agent: config.into(),
        }
    }
}

impl Default for HttpTransport {
    fn default() -> Self {
        HttpTransport::new()
    }
}

impl Transport for HttpTransport {
    fn send(
        &self,
        request: &OutboundRequest,
        timeout: Duration,
        max_response_bytes: u64,
    ) -> Result<InboundResponse, FetchFailure> {
        let http_request = build_request(request)?;
        let http_request = self
            .agent
            .configure_request(http_request)
            .timeout_global(Some(timeout))
            .build();
        let mut response = self.agent.run(http_request).map_err(failure)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), value)
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(max_response_bytes)
            .read_to_vec()
            .map_err(failure)?;
        Ok(InboundResponse {
            status,
            headers,
            body,
        })
    }
}

fn build_request(request: &OutboundRequest) -> Result<ureq::http::Request<Vec<u8>>, FetchFailure> {
    let mut builder = ureq::http::Request::builder()
        .method(request.method.as_str())
        .uri(request.url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = request.body.clone().unwrap_or_default();
    // The http crate's error names the offending part but never echoes a header value.
    builder
        .body(body)
        .map_err(|e| FetchFailure::Connection(format!("invalid request: {e}")))
}

fn failure(error: ureq::Error) -> FetchFailure {
    match error {
        ureq::Error::Timeout(_) => FetchFailure::Timeout,
        ureq::Error::BodyExceedsLimit(cap) => FetchFailure::TooLarge(cap),
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => FetchFailure::Timeout,
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock => FetchFailure::Timeout,
        other => FetchFailure::Connection(other.to_string()),
    }
}
