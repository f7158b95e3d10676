//! The mock over loopback HTTP (tiny_http), one thread per request so an injected slow response
//! never blocks the others. Besides the Zendesk API it serves:
//! `GET /__mock/state` (state_json), `GET /__mock/requests` (requests), `POST /__mock/reset`.
//!
//! [`Latency`] makes every API answer wait as a real account's would (Zendesk answers in 50 to
//! 300 ms), so that a host is measured by how many requests it keeps in flight.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::json;

use crate::{MockZendesk, Request, Response};

/// A running server; `shutdown` (or dropping it) stops accepting requests and joins the loop.
pub struct ServerHandle {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    accept_loop: Option<JoinHandle<()>>,
    /// Microseconds spent answering API requests, summed over requests (waits included).
    busy_us: Arc<AtomicU64>,
}

impl ServerHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// "http://127.0.0.1:PORT".
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The time spent answering API requests, summed over requests: divided by a wall time, the
    /// average number of requests in flight over it (Little's law).
    pub fn busy(&self) -> Duration {
        Duration::from_micros(self.busy_us.load(Ordering::Relaxed))
    }

    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(handle) = self.accept_loop.take() {
            // A panicked accept loop has nothing left to clean up.
            let _ = handle.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A simulated round trip: each answer waits `base`, give or take `jitter_pct` percent
/// (uniformly, from a fixed sequence: runs are comparable).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Latency {
    pub base: Duration,
    pub jitter_pct: u32,
}

impl Latency {
    /// The wait of the `n`th answer.
    pub fn sample(&self, n: u64) -> Duration {
        let jitter = f64::from(self.jitter_pct.min(100)) / 100.0;
        // In [-1, 1).
        let unit = (crate::faults::splitmix64(n) >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
        self.base.mul_f64(1.0 + jitter * unit)
    }
}

/// Binds `addr` (use port 0 for a free port) and serves `mock` until shut down.
pub fn serve(mock: MockZendesk, addr: SocketAddr) -> std::io::Result<ServerHandle> {
    serve_with_latency(mock, addr, Latency::default())
}

/// [`serve`], every API answer delayed by `latency` (the `/__mock/` endpoints are not).
pub fn serve_with_latency(
    mock: MockZendesk,
    addr: SocketAddr,
    latency: Latency,
) -> std::io::Result<ServerHandle> {
    let server = tiny_http::Server::http(addr).map_err(std::io::Error::other)?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| std::io::Error::other("the server is not listening on an IP address"))?;
    let server = Arc::new(server);
    let stopping = Arc::new(AtomicBool::new(false));
    let busy_us = Arc::new(AtomicU64::new(0));
    let accept_loop = {
        let server = Arc::clone(&server);
        let stopping = Arc::clone(&stopping);
        let busy_us = Arc::clone(&busy_us);
        std::thread::Builder::new()
            .name("mock-zendesk-accept".to_string())
            .spawn(move || accept_loop(&server, &stopping, &mock, latency, busy_us))?
    };
    Ok(ServerHandle {
        addr,
        server,
        stopping,
        accept_loop: Some(accept_loop),
        busy_us,
    })
}

fn accept_loop(
    server: &tiny_http::Server,
    stopping: &AtomicBool,
    mock: &MockZendesk,
    latency: Latency,
    busy_us: Arc<AtomicU64>,
) {
    let answered = Arc::new(AtomicU64::new(0));
    while !stopping.load(Ordering::SeqCst) {
        // Errors are per-connection (or the unblock at shutdown): keep serving unless stopping.
        let Ok(request) = server.recv() else { continue };
        let mock = mock.clone();
        let api = !request.url().starts_with("/__mock/");
        let wait = (api && !latency.base.is_zero())
            .then(|| latency.sample(answered.fetch_add(1, Ordering::Relaxed)));
        let busy_us = Arc::clone(&busy_us);
        let started = std::time::Instant::now();
        let spawned = std::thread::Builder::new()
            .name("mock-zendesk-request".to_string())
            .spawn(move || {
                if let Some(wait) = wait {
                    std::thread::sleep(wait);
                }
                serve_one(&mock, request);
                if api {
                    let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    busy_us.fetch_add(took, Ordering::Relaxed);
                }
            });
        if let Err(error) = spawned {
            eprintln!("mock-zendesk: cannot spawn a request thread: {error}");
        }
    }
}

fn serve_one(mock: &MockZendesk, mut request: tiny_http::Request) {
    let mut body = Vec::new();
    let response = match request.as_reader().read_to_end(&mut body) {
        Ok(_) => dispatch(mock, &request, body),
        Err(error) => Response::json(
            400,
            &json!({"error": "BadRequest", "description": format!("cannot read the request body: {error}")}),
        ),
    };
    let mut reply = tiny_http::Response::from_data(response.body).with_status_code(response.status);
    for (name, value) in &response.headers {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            reply = reply.with_header(header);
        }
    }
    // The client may have gone away (e.g. it timed out on a slow fault); nothing to do then.
    let _ = request.respond(reply);
}

fn dispatch(mock: &MockZendesk, request: &tiny_http::Request, body: Vec<u8>) -> Response {
    let method = request.method().as_str().to_ascii_uppercase();
    let path = request.url().to_string();
    let path_only = path.split('?').next().unwrap_or_default();
    match (method.as_str(), path_only) {
        ("GET", "/__mock/state") => return Response::json(200, &mock.state_json()),
        ("GET", "/__mock/requests") => {
            let requests = serde_json::to_value(mock.requests()).unwrap_or_default();
            return Response::json(200, &requests);
        }
        ("POST", "/__mock/reset") => {
            mock.reset();
            return Response::no_content();
        }
        _ => {}
    }
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_string(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let host = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("Host"))
        .map_or_else(|| "localhost".to_string(), |(_, value)| value.clone());
    mock.handle(&Request {
        method,
        url: format!("http://{host}{path}"),
        headers,
        body,
    })
}
