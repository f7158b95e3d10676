//! Test-only routing: wraps a real transport and sends every request for
//! `https://{account}.zendesk.com` to a loopback server instead, naming the account in a header
//! (how `host-test mock-zendesk` serves many accounts on one port). It lives here, not in the
//! runtime: production never routes.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use destination_host::{FetchFailure, OutboundRequest, Sending, Transport};
use http::Uri;

/// Tells the mock server which account a request is for.
pub const SUBDOMAIN_HEADER: &str = "X-Zendesk-Subdomain";

/// Sends `https://{account}.zendesk.com/...` to `{origin}/...` with the account header set.
pub struct RoutingTransport {
    inner: Arc<dyn Transport>,
    origin: LoopbackOrigin,
}

impl RoutingTransport {
    pub fn new(inner: Arc<dyn Transport>, origin: LoopbackOrigin) -> RoutingTransport {
        RoutingTransport { inner, origin }
    }
}

impl Transport for RoutingTransport {
    fn send<'a>(
        &'a self,
        request: &'a OutboundRequest,
        timeout: Duration,
        max_response_bytes: u64,
    ) -> Sending<'a> {
        Box::pin(async move {
            let routed = self.route(request)?;
            let mut response = self
                .inner
                .send(&routed, timeout, max_response_bytes)
                .await?;
            response.sent_to = Some(routed.url);
            Ok(response)
        })
    }
}

impl RoutingTransport {
    /// The request as sent to the loopback origin.
    fn route(&self, request: &OutboundRequest) -> Result<OutboundRequest, FetchFailure> {
        let uri: Uri = request
            .url
            .parse()
            .map_err(|_| FetchFailure::Connection("routing: not an absolute URL".into()))?;
        let account = uri
            .host()
            .and_then(|host| host.strip_suffix(".zendesk.com"))
            .ok_or_else(|| FetchFailure::Connection("routing: not a Zendesk URL".into()))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut routed = request.clone();
        routed.url = format!("{}{path}", self.origin);
        // The account header is the router's alone: any copy the request carries is replaced.
        routed
            .headers
            .retain(|(name, _)| !name.trim().eq_ignore_ascii_case(SUBDOMAIN_HEADER));
        routed
            .headers
            .push((SUBDOMAIN_HEADER.into(), account.to_string()));
        Ok(routed)
    }
}

/// A loopback origin (`http://127.0.0.1:PORT`). Anything but loopback is refused when parsed:
/// routing must never become a way to send a tenant's requests somewhere real.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopbackOrigin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl fmt::Display for LoopbackOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl FromStr for LoopbackOrigin {
    type Err = String;

    fn from_str(text: &str) -> Result<LoopbackOrigin, String> {
        let usage = "expected a loopback origin such as http://127.0.0.1:8080";
        let uri: Uri = text
            .trim()
            .parse()
            .map_err(|e| format!("`{text}` is not a valid origin ({e}); {usage}"))?;
        let scheme = match uri.scheme_str() {
            Some(s @ ("http" | "https")) => s.to_string(),
            _ => {
                return Err(format!(
                    "`{text}` needs an http:// or https:// scheme; {usage}"
                ));
            }
        };
        let Some(authority) = uri.authority() else {
            return Err(format!("`{text}` has no host; {usage}"));
        };
        if authority.as_str().contains('@') {
            return Err(format!("`{text}` must not contain user info; {usage}"));
        }
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(format!(
                "`{text}` must be an origin without a path; {usage}"
            ));
        }
        let host = authority.host().to_ascii_lowercase();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let loopback =
            host == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(format!(
                "`{text}` is not a loopback address; the origin override only accepts \
                 127.0.0.0/8, [::1] or localhost"
            ));
        }
        Ok(LoopbackOrigin {
            scheme,
            host,
            port: authority.port_u16(),
        })
    }
}

impl LoopbackOrigin {
    /// Whether the server there speaks the origin's scheme. A plain-HTTP server behind an
    /// `https://` origin never answers a TLS handshake (each request would hang until its
    /// timeout), and a TLS server behind `http://` answers with a TLS alert: both are named
    /// here, before anything is sent. Nothing listening, or no answer, is not this check's
    /// business.
    pub fn check_scheme(&self) -> Result<(), String> {
        use std::io::{Read as _, Write as _};
        let port = self
            .port
            .unwrap_or(if self.scheme == "https" { 443 } else { 80 });
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let Ok(mut addrs) = std::net::ToSocketAddrs::to_socket_addrs(&(host, port)) else {
            return Ok(());
        };
        let Some(addr) = addrs.next() else {
            return Ok(());
        };
        let wait = Duration::from_secs(1);
        let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, wait) else {
            return Ok(());
        };
        let _ = stream.set_read_timeout(Some(wait));
        let _ = stream.set_write_timeout(Some(wait));
        if stream.write_all(b"HEAD / HTTP/1.0\r\n\r\n").is_err() {
            return Ok(());
        }
        let mut first = [0u8; 5];
        if stream.read_exact(&mut first).is_err() {
            return Ok(());
        }
        let plain = format!(
            "http://{}{}",
            self.host,
            self.port.map_or(String::new(), |p| format!(":{p}"))
        );
        let tls = plain.replacen("http://", "https://", 1);
        match (self.scheme.as_str(), &first) {
            ("https", b"HTTP/") => Err(format!(
                "{self} answers in plain HTTP, not TLS: use --zendesk-origin {plain}"
            )),
            // A TLS alert record (content type 21, version 3.x) to a plain request.
            ("http", [21, 3, ..]) => Err(format!(
                "{self} speaks TLS, not plain HTTP: use --zendesk-origin {tls}"
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use destination_host::InboundResponse;
    use std::sync::Mutex;

    #[test]
    fn a_scheme_the_server_does_not_speak_is_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                use std::io::Write as _;
                let mut stream = stream;
                let _ = stream.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
            }
        });
        let https: LoopbackOrigin = format!("https://127.0.0.1:{port}").parse().unwrap();
        let error = https.check_scheme().unwrap_err();
        assert!(
            error.contains(&format!("use --zendesk-origin http://127.0.0.1:{port}")),
            "{error}"
        );
        let http: LoopbackOrigin = format!("http://127.0.0.1:{port}").parse().unwrap();
        assert_eq!(http.check_scheme(), Ok(()));
        // Nothing listening: not this check's business.
        let closed: LoopbackOrigin = "https://127.0.0.1:9".parse().unwrap();
        assert_eq!(closed.check_scheme(), Ok(()));
    }

    #[test]
    fn only_loopback_origins_parse() {
        for good in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
            "http://127.1.2.3",
        ] {
            assert!(good.parse::<LoopbackOrigin>().is_ok(), "{good}");
        }
        for bad in [
            "http://10.0.0.1:80",
            "https://acme.zendesk.com",
            "127.0.0.1:80",
            "http://a@127.0.0.1",
            "http://127.0.0.1/x",
        ] {
            assert!(bad.parse::<LoopbackOrigin>().is_err(), "{bad}");
        }
    }

    /// Records what it was asked to send.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<OutboundRequest>>);

    impl Transport for Recorder {
        fn send<'a>(&'a self, request: &'a OutboundRequest, _: Duration, _: u64) -> Sending<'a> {
            self.0.lock().unwrap().push(request.clone());
            Box::pin(std::future::ready(Ok(InboundResponse {
                status: 200,
                ..InboundResponse::default()
            })))
        }
    }

    #[test]
    fn routes_to_the_origin_and_owns_the_account_header() {
        let recorder = Arc::new(Recorder::default());
        let routing =
            RoutingTransport::new(recorder.clone(), "http://127.0.0.1:9".parse().unwrap());
        let request = OutboundRequest {
            method: "GET".into(),
            url: "https://acme.zendesk.com/api/v2/users?x=1".into(),
            headers: vec![("x-zendesk-subdomain".into(), "other".into())],
            body: None,
        };
        let response =
            destination_host::bridge::block_on(routing.send(&request, Duration::from_secs(1), 10))
                .unwrap();
        assert_eq!(
            response.sent_to.as_deref(),
            Some("http://127.0.0.1:9/api/v2/users?x=1")
        );
        let sent = &recorder.0.lock().unwrap()[0];
        assert_eq!(
            sent.headers,
            vec![(SUBDOMAIN_HEADER.to_string(), "acme".to_string())]
        );
    }
}
