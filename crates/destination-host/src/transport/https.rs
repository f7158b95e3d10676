//! Real HTTP(S) through pooled hyper clients, one per thread, shared by every tenant: a request
//! waiting on the network holds no thread.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use thread_local::ThreadLocal;

use super::{FetchFailure, InboundResponse, OutboundRequest, Sending, Transport};

/// Idle connections a thread's pool keeps per origin: enough for the calls a process keeps in
/// flight to one account without a handshake each.
const IDLE_PER_ORIGIN: usize = 256;

/// HTTPS (rustls) client. Redirects are not followed (the policy checked only the first URL),
/// non-2xx statuses are responses, and proxy environment variables are ignored: the host alone
/// decides where requests go. Server certificates are always verified (chain, validity period
/// and host name); only the set of trusted roots can be chosen.
pub struct HttpTransport {
    connector: HttpsConnector<HttpConnector>,
    /// One connection pool per thread. A connection's task runs on the runtime of the thread
    /// that opened it, so a thread driving its own runtime (each of `run`'s lane threads) keeps
    /// its sockets to itself: no other thread is woken to write a request or read an answer.
    clients: ThreadLocal<Client<HttpsConnector<HttpConnector>, Full<Bytes>>>,
}

impl HttpTransport {
    /// Trusts the webpki (Mozilla) root certificates: what reaching a public service such as
    /// Zendesk needs.
    pub fn new() -> HttpTransport {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        HttpTransport::trusting(roots)
    }

    /// Trusts only `der_certs` (DER-encoded X.509 root certificates), not the webpki roots: for a
    /// platform whose servers present certificates from a private CA. Verification is otherwise
    /// the same as [`HttpTransport::new`]. A certificate that does not parse is ignored, so a
    /// wrong encoding (PEM instead of DER, say) shows as every request failing with an unknown
    /// issuer; an empty list trusts nothing.
    pub fn with_root_certificates(der_certs: &[Vec<u8>]) -> HttpTransport {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(
            der_certs
                .iter()
                .map(|der| CertificateDer::from(der.clone())),
        );
        HttpTransport::trusting(roots)
    }

    fn trusting(roots: RootCertStore) -> HttpTransport {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports rustls's default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        HttpTransport {
            connector,
            clients: ThreadLocal::new(),
        }
    }

    /// This thread's client.
    fn client(&self) -> &Client<HttpsConnector<HttpConnector>, Full<Bytes>> {
        self.clients.get_or(|| {
            Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(IDLE_PER_ORIGIN)
                .pool_idle_timeout(Duration::from_secs(60))
                .build(self.connector.clone())
        })
    }

    async fn exchange(
        &self,
        request: &OutboundRequest,
        max_response_bytes: u64,
    ) -> Result<InboundResponse, FetchFailure> {
        let http_request = build_request(request)?;
        let response = self
            .client()
            .request(http_request)
            .await
            .map_err(|e| failure(&e, request))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), value)
            })
            .collect();
        let cap = usize::try_from(max_response_bytes).unwrap_or(usize::MAX);
        let body = Limited::new(response.into_body(), cap)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchFailure::TooLarge(max_response_bytes)
                } else {
                    connection(format!("{}: {}", origin(&request.url), chain(&*e)), request)
                }
            })?
            .to_bytes()
            .to_vec();
        Ok(InboundResponse {
            status,
            headers,
            body,
            sent_to: None,
        })
    }
}

impl Default for HttpTransport {
    fn default() -> Self {
        HttpTransport::new()
    }
}

impl Transport for HttpTransport {
    fn send<'a>(
        &'a self,
        request: &'a OutboundRequest,
        timeout: Duration,
        max_response_bytes: u64,
    ) -> Sending<'a> {
        Box::pin(async move {
            tokio::time::timeout(timeout, self.exchange(request, max_response_bytes))
                .await
                .unwrap_or(Err(FetchFailure::Timeout))
        })
    }
}

fn build_request(request: &OutboundRequest) -> Result<hyper::Request<Full<Bytes>>, FetchFailure> {
    let mut builder = hyper::Request::builder()
        .method(request.method.as_str())
        .uri(request.url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = Full::new(Bytes::from(request.body.clone().unwrap_or_default()));
    // The http crate's error names the offending part but never echoes a header value.
    builder
        .body(body)
        .map_err(|e| connection(format!("invalid request: {e}"), request))
}

/// An error and its sources, as one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

fn failure(error: &hyper_util::client::legacy::Error, request: &OutboundRequest) -> FetchFailure {
    // A TLS failure arrives as a connect error wrapping the rustls error, whose text is the
    // reason: "invalid peer certificate: UnknownIssuer", "... certificate expired: ...",
    // "... certificate not valid for name ...", "received fatal alert: ...".
    let text = chain(error);
    let origin = origin(&request.url);
    if text.contains("InvalidContentType") || text.contains("corrupt message") {
        // What a plain-HTTP server's answer to a TLS handshake looks like.
        let plain = origin.replacen("https://", "http://", 1);
        return FetchFailure::Misconfigured(format!(
            "{origin} answered in plain HTTP, not TLS: should the origin be {plain}? ({text})"
        ));
    }
    connection(format!("{origin}: {text}"), request)
}

/// `scheme://host[:port]` of `url`: names the server without the user info, path or query
/// (which may carry credentials).
fn origin(url: &str) -> String {
    match url.parse::<hyper::Uri>() {
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
        let failure = crate::bridge::block_on(transport.send(&req, Duration::from_secs(1), 1024))
            .unwrap_err();
        let FetchFailure::Connection(message) = failure else {
            panic!("expected a connection failure, got {failure:?}");
        };
        assert!(message.starts_with("invalid request"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}
