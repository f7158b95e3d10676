//! The loopback server, exercised with a raw HTTP/1.1 client over std::net::TcpStream.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::AUTH;
use crate::server::serve;
use crate::{FaultKind, Faults, MockZendesk};

/// Sends one request with `Connection: close`; returns (status, lower-cased headers, JSON body).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, Value) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut raw = String::new();
    stream
        .read_to_string(&mut raw)
        .unwrap_or_else(|e| panic!("read: {e}"));
    let (head, payload) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(payload).unwrap_or(Value::Null),
    )
}

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[test]
fn round_trip_over_http_with_state_requests_and_reset() {
    let mock = MockZendesk::new();
    let server = serve(mock.clone(), local()).unwrap_or_else(|e| panic!("serve: {e}"));
    let addr = server.addr();
    assert_ne!(addr.port(), 0);

    let body = json!({"user": {"name": "Ann", "email": "ann@x.com"}}).to_string();
    let headers = [
        ("Authorization", AUTH),
        ("X-Zendesk-Subdomain", "acme"),
        ("Content-Type", "application/json"),
    ];
    let (status, head, created) = http(
        addr,
        "POST",
        "/api/v2/users/create_or_update.json",
        &headers,
        &body,
    );
    assert_eq!(status, 201);
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(created["user"]["email"], "ann@x.com");
    assert_eq!(
        created["user"]["url"],
        "https://acme.zendesk.com/api/v2/users/1000.json"
    );

    let (status, _, found) = http(
        addr,
        "GET",
        "/api/v2/users/search?query=email%3A%22ann%40x.com%22",
        &headers,
        "",
    );
    assert_eq!((status, found["count"].clone()), (200, json!(1)));

    let (status, _, state) = http(addr, "GET", "/__mock/state", &[], "");
    assert_eq!(status, 200);
    assert_eq!(state["acme"]["users"][0]["name"], "Ann");
    let (_, _, requests) = http(addr, "GET", "/__mock/requests", &[], "");
    assert_eq!(requests.as_array().map(Vec::len), Some(2));
    assert_eq!(requests[0]["subdomain"], "acme");
    assert_eq!(
        requests[1]["path"],
        "/api/v2/users/search?query=email%3A%22ann%40x.com%22"
    );
    assert!(
        !requests.to_string().contains(AUTH),
        "no credential in the recording"
    );

    let (status, _, _) = http(addr, "POST", "/__mock/reset", &[], "");
    assert_eq!(status, 204);
    assert_eq!(mock.state_json(), json!({}));
    assert!(mock.requests().is_empty());
    server.shutdown();
    // The listener closes with the server's runtime: allow it a moment.
    let deadline = Instant::now() + Duration::from_secs(3);
    while TcpStream::connect(addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the port is still open after shutdown"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_slow_request_does_not_block_others_and_mock_paths_never_fault() {
    let mock = MockZendesk::with_faults(Faults {
        rate: 1.0,
        seed: 3,
        kinds: vec![FaultKind::Slow],
        retry_after_seconds: 1,
        slow_ms: 1500,
    });
    let server = serve(mock.clone(), local()).unwrap_or_else(|e| panic!("serve: {e}"));
    let addr = server.addr();
    let slow = std::thread::spawn(move || {
        http(
            addr,
            "GET",
            "/api/v2/user_fields",
            &[("Authorization", AUTH)],
            "",
        )
        .0
    });
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let (status, _, _) = http(addr, "GET", "/__mock/state", &[], "");
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "not blocked by the slow request"
    );
    assert_eq!(slow.join().unwrap_or(0), 200);
    assert_eq!(mock.requests().len(), 1, "/__mock paths are not recorded");
    drop(server);
}
