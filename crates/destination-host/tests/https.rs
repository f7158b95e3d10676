//! The production transport over real TLS: a loopback rustls server with certificates from a
//! test CA generated here (rcgen). A certificate the client trusts gets a real response; an
//! untrusted, an expired and a wrong-host certificate are refused before any request byte is
//! sent, with a message that says why.
#![cfg(feature = "https")]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use destination_host::{FetchFailure, HttpTransport, InboundResponse, OutboundRequest, Transport};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const TIMEOUT: Duration = Duration::from_secs(10);
const CAP: u64 = 1 << 20;
const SECRET: &str = "Bearer s3cret-api-token";

/// A certificate authority made for one test.
struct TestCa {
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().clone();
        TestCa {
            der,
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `host`, valid from 2000 on, or only during 2000 if `expired`.
    fn server_cert(&self, host: &str, expired: bool) -> ServerCert {
        let (params, key) = server_params(host, expired);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        ServerCert::new(cert.der().clone(), &key)
    }

    fn transport(&self) -> HttpTransport {
        HttpTransport::with_root_certificates(&[self.der.to_vec()])
    }
}

fn server_params(host: &str, expired: bool) -> (CertificateParams, KeyPair) {
    let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, host);
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = date_time_ymd(2000, 1, 1);
    params.not_after = if expired {
        date_time_ymd(2001, 1, 1)
    } else {
        date_time_ymd(4000, 1, 1)
    };
    (params, KeyPair::generate().unwrap())
}

/// A self-signed certificate for `host`: no CA vouches for it.
fn self_signed(host: &str) -> ServerCert {
    let (params, key) = server_params(host, false);
    let cert = params.self_signed(&key).unwrap();
    ServerCert::new(cert.der().clone(), &key)
}

struct ServerCert {
    der: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl ServerCert {
    fn new(der: CertificateDer<'static>, key: &KeyPair) -> ServerCert {
        ServerCert {
            der,
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }
}

/// What the server does once it has read a request.
enum Reply {
    Send(Vec<u8>),
    /// Never answer (holds the connection for a while).
    Stall,
}

/// A TLS server on 127.0.0.1 that serves one connection.
struct Server {
    port: u16,
    /// The request the server read (head and body), or why it read none.
    outcome: mpsc::Receiver<Result<Vec<u8>, String>>,
}

impl Server {
    fn start(cert: ServerCert, reply: Reply) -> Server {
        // ring, like ureq's client side: no aws-lc-rs in the build.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der], PrivateKeyDer::Pkcs8(cert.key))
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sender, outcome) = mpsc::channel();
        thread::spawn(move || {
            let _ = sender.send(serve_one(&listener, Arc::new(config), reply));
        });
        Server { port, outcome }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    /// The request the server received; panics if it received none.
    fn request(&self) -> String {
        match self.outcome.recv_timeout(TIMEOUT).expect("server finished") {
            Ok(request) => String::from_utf8(request).unwrap(),
            Err(why) => panic!("server received no request: {why}"),
        }
    }

    /// Asserts the server received no request: the handshake failed first. Returns why.
    fn no_request(&self) -> String {
        match self.outcome.recv_timeout(TIMEOUT).expect("server finished") {
            Ok(request) => panic!(
                "server received a request: {:?}",
                String::from_utf8_lossy(&request)
            ),
            Err(why) => why,
        }
    }
}

fn serve_one(
    listener: &TcpListener,
    config: Arc<rustls::ServerConfig>,
    reply: Reply,
) -> Result<Vec<u8>, String> {
    let (tcp, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    tcp.set_write_timeout(Some(TIMEOUT)).unwrap();
    let connection = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = tls.read(&mut buffer).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed before a request".to_string());
        }
        request.extend_from_slice(&buffer[..n]);
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let body_len: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map(|len| len.trim().parse().unwrap())
        .unwrap_or(0);
    while request.len() < head_end + body_len {
        let n = tls.read(&mut buffer).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed inside the request body".to_string());
        }
        request.extend_from_slice(&buffer[..n]);
    }
    match reply {
        Reply::Send(response) => {
            tls.write_all(&response)
                .map_err(|e| format!("write: {e}"))?;
            tls.conn.send_close_notify();
            tls.flush().map_err(|e| format!("flush: {e}"))?;
        }
        Reply::Stall => thread::sleep(Duration::from_secs(3)),
    }
    Ok(request)
}

fn response(status_line: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut out = format!("HTTP/1.1 {status_line}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    Reply::Send(out)
}

fn get(url: String) -> OutboundRequest {
    OutboundRequest {
        method: "GET".to_string(),
        url,
        headers: vec![("authorization".to_string(), SECRET.to_string())],
        body: None,
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Sends `request` and expects a refusal: returns its message, checked not to echo the secret.
fn refused(transport: &HttpTransport, request: &OutboundRequest) -> String {
    match transport.send_now(request, TIMEOUT, CAP) {
        Err(FetchFailure::Connection(message)) => {
            assert!(!message.contains("s3cret"), "secret echoed: {message}");
            println!("refused: {message}");
            message
        }
        other => panic!("expected a connection failure, got {other:?}"),
    }
}

#[test]
fn a_certificate_from_a_trusted_ca_gets_the_real_response() {
    let ca = TestCa::new("test CA");
    let body = br#"{"user":{"id":42,"name":"Ada"}}"#;
    let server = Server::start(
        ca.server_cert("localhost", false),
        response(
            "201 Created",
            &[
                ("Content-Type", "application/json"),
                ("X-Zendesk-Request-Id", "req-123"),
            ],
            body,
        ),
    );
    let request = OutboundRequest {
        method: "POST".to_string(),
        url: server.url("/api/v2/users.json?role=end-user"),
        headers: vec![
            ("authorization".to_string(), SECRET.to_string()),
            ("content-type".to_string(), "application/json".to_string()),
        ],
        body: Some(br#"{"user":{"name":"Ada"}}"#.to_vec()),
    };

    let got = ca.transport().send_now(&request, TIMEOUT, CAP).unwrap();

    assert_eq!(got.status, 201);
    assert_eq!(
        header(&got.headers, "content-type"),
        Some("application/json")
    );
    assert_eq!(
        header(&got.headers, "x-zendesk-request-id"),
        Some("req-123")
    );
    assert_eq!(
        header(&got.headers, "content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(got.body, body);
    let seen = server.request();
    assert!(
        seen.starts_with("POST /api/v2/users.json?role=end-user HTTP/1.1\r\n"),
        "{seen}"
    );
    let seen_lower = seen.to_ascii_lowercase();
    assert!(
        seen_lower.contains(&format!("\r\nhost: localhost:{}\r\n", server.port)),
        "{seen}"
    );
    assert!(
        seen_lower.contains(&format!(
            "\r\nauthorization: {}\r\n",
            SECRET.to_ascii_lowercase()
        )),
        "{seen}"
    );
    assert!(
        seen.ends_with("\r\n\r\n{\"user\":{\"name\":\"Ada\"}}"),
        "{seen}"
    );
}

#[test]
fn over_tls_a_redirect_is_a_response_and_is_not_followed() {
    let ca = TestCa::new("test CA");
    let server = Server::start(
        ca.server_cert("localhost", false),
        response(
            "302 Found",
            &[("Location", "https://localhost:1/elsewhere")],
            b"",
        ),
    );

    let got = ca
        .transport()
        .send_now(&get(server.url("/moved")), TIMEOUT, CAP)
        .unwrap();

    assert_eq!(got.status, 302);
    assert_eq!(
        header(&got.headers, "location"),
        Some("https://localhost:1/elsewhere")
    );
    assert!(got.body.is_empty());
    assert!(server.request().starts_with("GET /moved HTTP/1.1\r\n"));
}

#[test]
fn over_tls_an_error_status_is_a_response() {
    let ca = TestCa::new("test CA");
    let server = Server::start(
        ca.server_cert("localhost", false),
        response(
            "404 Not Found",
            &[("Content-Type", "text/plain")],
            b"no such user",
        ),
    );

    let got = ca
        .transport()
        .send_now(&get(server.url("/missing")), TIMEOUT, CAP)
        .unwrap();

    assert_eq!(got.status, 404);
    assert_eq!(got.body, b"no such user");
    server.request();
}

#[test]
fn over_tls_a_body_over_the_cap_is_too_large() {
    let ca = TestCa::new("test CA");
    let server = Server::start(
        ca.server_cert("localhost", false),
        response("200 OK", &[], &[b'x'; 4096]),
    );

    let got = ca
        .transport()
        .send_now(&get(server.url("/big")), TIMEOUT, 1000);

    assert_eq!(got.unwrap_err(), FetchFailure::TooLarge(1000));
}

#[test]
fn over_tls_no_answer_within_the_timeout_is_a_timeout() {
    let ca = TestCa::new("test CA");
    let server = Server::start(ca.server_cert("localhost", false), Reply::Stall);

    let got = ca
        .transport()
        .send_now(&get(server.url("/slow")), Duration::from_millis(500), CAP);

    assert_eq!(got.unwrap_err(), FetchFailure::Timeout);
}

#[test]
fn a_certificate_from_another_ca_is_refused_as_unknown_issuer() {
    let trusted = TestCa::new("trusted CA");
    let other = TestCa::new("other CA");
    let server = Server::start(
        other.server_cert("localhost", false),
        response("200 OK", &[], b"no"),
    );

    let message = refused(&trusted.transport(), &get(server.url("/")));

    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(
        message.contains(&format!("https://localhost:{}", server.port)),
        "{message}"
    );
    server.no_request();
}

#[test]
fn a_self_signed_certificate_is_refused_as_unknown_issuer() {
    let trusted = TestCa::new("trusted CA");
    let server = Server::start(self_signed("localhost"), response("200 OK", &[], b"no"));

    let message = refused(&trusted.transport(), &get(server.url("/")));

    assert!(message.contains("UnknownIssuer"), "{message}");
    server.no_request();
}

#[test]
fn the_default_transport_does_not_trust_a_private_ca() {
    let ca = TestCa::new("private CA");
    let server = Server::start(
        ca.server_cert("localhost", false),
        response("200 OK", &[], b"no"),
    );

    let message = refused(&HttpTransport::new(), &get(server.url("/")));

    assert!(message.contains("UnknownIssuer"), "{message}");
    server.no_request();
}

#[test]
fn an_expired_certificate_is_refused_as_expired() {
    let ca = TestCa::new("test CA");
    let server = Server::start(
        ca.server_cert("localhost", true),
        response("200 OK", &[], b"no"),
    );

    let message = refused(&ca.transport(), &get(server.url("/")));

    assert!(message.contains("certificate expired"), "{message}");
    server.no_request();
}

#[test]
fn a_certificate_for_another_host_is_refused_as_not_valid_for_name() {
    let ca = TestCa::new("test CA");
    let server = Server::start(
        ca.server_cert("other.example", false),
        response("200 OK", &[], b"no"),
    );

    let message = refused(&ca.transport(), &get(server.url("/")));

    assert!(message.contains("not valid for name"), "{message}");
    assert!(message.contains("other.example"), "{message}");
    server.no_request();
}

#[test]
fn a_plain_http_server_behind_an_https_origin_is_named() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buffer = [0u8; 1024];
        let _ = stream.read(&mut buffer);
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
    });

    let got =
        HttpTransport::new().send_now(&get(format!("https://127.0.0.1:{port}/x")), TIMEOUT, CAP);

    let Err(FetchFailure::Misconfigured(message)) = got else {
        panic!("expected a misconfiguration, got {got:?}");
    };
    assert!(message.contains("plain HTTP"), "{message}");
    assert!(
        message.contains(&format!("http://127.0.0.1:{port}")),
        "{message}"
    );
    server.join().unwrap();
}

/// The transport's send, run to completion (these tests drive it from plain threads).
trait SendNow {
    fn send_now(
        &self,
        request: &OutboundRequest,
        timeout: Duration,
        cap: u64,
    ) -> Result<InboundResponse, FetchFailure>;
}

impl<T: Transport> SendNow for T {
    fn send_now(
        &self,
        request: &OutboundRequest,
        timeout: Duration,
        cap: u64,
    ) -> Result<InboundResponse, FetchFailure> {
        destination_host::bridge::block_on(self.send(request, timeout, cap))
    }
}
