//! Real HTTP(S) through one pooled ureq agent shared by every tenant.

use std::io;
use std::time::Duration;

use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

use super::{FetchFailure, InboundResponse, OutboundRequest, Transport};

/// HTTPS (rustls) client. Redirects are not followed (the policy checked only the first URL),
/// non-2xx statuses are responses, and proxy environment variables are ignored: the host alone
/// decides where requests go. Server certificates are always verified (chain, validity period
/// and host name); only the set of trusted roots can be chosen.
pub struct HttpTransport {
    agent: ureq::Agent,
}

impl HttpTransport {
    /// Trusts the webpki (Mozilla) root certificates: what reaching a public service such as
    /// Zendesk needs.
    pub fn new() -> HttpTransport {
        HttpTransport::trusting(RootCerts::WebPki)
    }

    /// Trusts only `der_certs` (DER-encoded X.509 root certificates), not the webpki roots: for a
    /// platform whose servers present certificates from a private CA. Verification is otherwise
    /// the same as [`HttpTransport::new`]. A certificate that does not parse is ignored, so a
    /// wrong encoding (PEM instead of DER, say) shows as every request failing with an unknown
    /// issuer; an empty list trusts nothing.
    pub fn with_root_certificates(der_certs: &[Vec<u8>]) -> HttpTransport {
        let roots: Vec<Certificate<'static>> = der_certs
            .iter()
            .map(|der| Certificate::from_der(der).to_owned())
            .collect();
        HttpTransport::trusting(RootCerts::from(roots))
    }

    fn trusting(roots: RootCerts) -> HttpTransport {
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(roots)
            .disable_verification(false)
            .build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .tls_config(tls)
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
        let mut response = self
            .agent
            .run(http_request)
            .map_err(|e| failure(e, request))?;
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
            .map_err(|e| failure(e, request))?;
        Ok(InboundResponse {
            status,
            headers,
            body,
            sent_to: None,
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
        .map_err(|e| connection(format!("invalid request: {e}"), request))
}

fn failure(error: ureq::Error, request: &OutboundRequest) -> FetchFailure {
    match error {
        ureq::Error::Timeout(_) => FetchFailure::Timeout,
        ureq::Error::BodyExceedsLimit(cap) => FetchFailure::TooLarge(cap),
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => FetchFailure::Timeout,
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock => FetchFailure::Timeout,
        // A TLS failure arrives as an io error wrapping the rustls error, whose text is the
        // reason: "invalid peer certificate: UnknownIssuer", "... certificate expired: ...",
        // "... certificate not valid for name ...", "received fatal alert: ...".
        ureq::Error::Io(e) => {
            let text = e.to_string();
            let origin = origin(&request.url);
            if text.contains("InvalidContentType") || text.contains("corrupt message") {
                // What a plain-HTTP server's answer to a TLS handshake looks like.
                let plain = origin.replacen("https://", "http://", 1);
                return FetchFailure::Misconfigured(format!(
                    "{origin} answered in plain HTTP, not TLS: should the origin be {plain}? ({text})"
                ));
            }
            connection(format!("{origin}: {e}"), request)
        }
        other => connection(format!("{}: {other}", origin(&request.url)), request),
    }
}

/// `scheme://host[:port]` of `url`: names the server without the user info, path or query
/// (which may carry credentials).
fn origin(url: &str) -> String {
    match url.parse::<ureq::http::Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => {
                let host_port = authority.as_str().rsplit('@').next().unwrap_or_default();
                format!("{scheme}://{host_port}")
            }
            _ => "request".to_string(),
        },
        Err(_) => "request".to_string(),
    }
}

/// A connection failure whose message cannot contain a request header value: no error source
/// is known to echo one, and any that did is masked here.
fn connection(mut message: String, request: &OutboundRequest) -> FetchFailure {
    let mut values: Vec<&str> = request
        .headers
        .iter()
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
        .collect();
    // Longest first, so a value that contains another is masked whole.
    values.sort_by_key(|value| std::cmp::Reverse(value.len()));
    for value in values {
        if message.contains(value) {
            message = message.replace(value, "[redacted]");
        }
    }
    FetchFailure::Connection(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str, headers: &[(&str, &str)]) -> OutboundRequest {
        OutboundRequest {
            method: "GET".to_string(),
            url: url.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: None,
        }
    }

    #[test]
    fn origin_drops_user_info_path_and_query() {
        assert_eq!(
            origin("https://user:pw@acme.zendesk.com:8443/api/v2/users?token=s3cret"),
            "https://acme.zendesk.com:8443"
        );
        assert_eq!(
            origin("https://acme.zendesk.com/x"),
            "https://acme.zendesk.com"
        );
        assert_eq!(origin("not a url"), "request");
    }

    #[test]
    fn connection_messages_mask_header_values() {
        let req = request(
            "https://acme.zendesk.com/",
            &[
                ("authorization", "Bearer s3cret-token"),
                ("x-key", "s3cret"),
            ],
        );
        let FetchFailure::Connection(message) =
            connection("echo: Bearer s3cret-token and s3cret".to_string(), &req)
        else {
            panic!("not a connection failure");
        };
        assert_eq!(message, "echo: [redacted] and [redacted]");
    }

    #[test]
    fn an_invalid_header_value_is_refused_without_echoing_it() {
        let transport = HttpTransport::new();
        let req = request(
            "https://acme.zendesk.com/",
            &[("authorization", "s3cret\nvalue")],
        );
        let failure = transport
            .send(&req, Duration::from_secs(1), 1024)
            .unwrap_err();
        let FetchFailure::Connection(message) = failure else {
            panic!("expected a connection failure, got {failure:?}");
        };
        assert!(message.starts_with("invalid request"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}
