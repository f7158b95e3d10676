//! The mock over loopback HTTP (hyper on a small tokio runtime of its own). A request waiting
//! out its [`Latency`] holds no thread, so the server keeps thousands in flight; with slow faults
//! on, the mock's work runs on tokio's blocking pool, so a slow response never blocks the others.
//! Besides the Zendesk API it serves: `GET /__mock/state` (state_json), `GET /__mock/requests`
//! (requests), `POST /__mock/reset`.
//!
//! [`Latency`] makes every API answer wait as a real account's would (Zendesk answers in 50 to
//! 300 ms), so that a host is measured by how many requests it keeps in flight.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::sync::oneshot;

use crate::{MockZendesk, Request, Response};

/// A running server; `shutdown` (or dropping it) stops accepting requests and joins its thread.
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Microseconds spent answering API requests, summed over requests (waits included).
    busy_us: Arc<AtomicU64>,
    open: Arc<OpenRequests>,
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

    /// The most API requests of `account` (its subdomain) this server was answering at once.
    pub fn peak_in_flight(&self, account: &str) -> usize {
        self.open.peak(account)
    }

    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        // Dropping the sender ends the accept loop; the runtime then drops the connections.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A panicked server has nothing left to clean up.
            let _ = thread.join();
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("mock-zendesk")
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind(addr))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let busy_us = Arc::new(AtomicU64::new(0));
    let open = Arc::new(OpenRequests::default());
    let server = Arc::new(Server {
        mock,
        latency,
        answered: AtomicU64::new(0),
        busy_us: Arc::clone(&busy_us),
        open: Arc::clone(&open),
    });
    let thread = std::thread::Builder::new()
        .name("mock-zendesk-server".to_string())
        .spawn(move || {
            runtime.block_on(accept_loop(listener, server, stopped));
            // Connections still open are dropped with the runtime.
            runtime.shutdown_background();
        })?;
    Ok(ServerHandle {
        addr,
        stop: Some(stop),
        thread: Some(thread),
        busy_us,
        open,
    })
}

/// Per account, the API requests being answered now and the most at once.
#[derive(Default)]
struct OpenRequests(Mutex<HashMap<String, (usize, usize)>>);

impl OpenRequests {
    fn open(self: &Arc<Self>, account: String) -> OpenRequest {
        let mut accounts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (now, peak) = accounts.entry(account.clone()).or_default();
        *now += 1;
        *peak = (*peak).max(*now);
        OpenRequest(Arc::clone(self), account)
    }

    fn peak(&self, account: &str) -> usize {
        let accounts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        accounts.get(account).map_or(0, |(_, peak)| *peak)
    }
}

/// One request being answered; closed when dropped.
struct OpenRequest(Arc<OpenRequests>, String);

impl Drop for OpenRequest {
    fn drop(&mut self) {
        let mut accounts = (self.0).0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((now, _)) = accounts.get_mut(&self.1) {
            *now -= 1;
        }
    }
}

struct Server {
    mock: MockZendesk,
    latency: Latency,
    /// API requests answered so far (numbers each one's latency sample).
    answered: AtomicU64,
    busy_us: Arc<AtomicU64>,
    open: Arc<OpenRequests>,
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    server: Arc<Server>,
    mut stopped: oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Per-connection errors (e.g. the client went away): keep serving.
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let server = Arc::clone(&server);
                async move { Ok::<_, Infallible>(server.answer(request).await) }
            });
            // The client may close at any time; nothing to do then.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

impl Server {
    async fn answer(&self, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let started = Instant::now();
        let (parts, body) = request.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        let api = !path.starts_with("/__mock/");
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), value)
            })
            .collect();
        let method = parts.method.as_str().to_ascii_uppercase();
        let _open = api.then(|| {
            let header = |name: &str| {
                let value = parts.headers.get(name)?;
                value.to_str().ok()
            };
            let host = header("host").unwrap_or_default();
            let host = host.split(':').next().unwrap_or_default();
            self.open
                .open(crate::account_of(host, header("x-zendesk-subdomain")))
        });
        let response = match body.collect().await {
            Ok(body) => {
                if api && !self.latency.base.is_zero() {
                    let n = self.answered.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.latency.sample(n)).await;
                }
                let mock = self.mock.clone();
                let body = body.to_bytes().to_vec();
                if mock.may_stall() {
                    // An injected slow fault sleeps: on the blocking pool, not a server thread.
                    tokio::task::spawn_blocking(move || {
                        dispatch(&mock, &method, &path, headers, body)
                    })
                    .await
                    .unwrap_or_else(|_| Response::json(500, &json!({"error": "MockPanicked"})))
                } else {
                    dispatch(&mock, &method, &path, headers, body)
                }
            }
            Err(error) => Response::json(
                400,
                &json!({"error": "BadRequest", "description": format!("cannot read the request body: {error}")}),
            ),
        };
        if api {
            let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.busy_us.fetch_add(took, Ordering::Relaxed);
        }
        let mut reply = hyper::Response::builder().status(response.status);
        for (name, value) in &response.headers {
            reply = reply.header(name.as_str(), value.as_str());
        }
        reply
            .body(Full::new(Bytes::from(response.body)))
            .unwrap_or_else(|_| {
                let mut fallback = hyper::Response::new(Full::new(Bytes::from_static(
                    b"{\"error\":\"MockBadHeader\"}",
                )));
                *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                fallback
            })
    }
}

fn dispatch(
    mock: &MockZendesk,
    method: &str,
    path: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Response {
    let path_only = path.split('?').next().unwrap_or_default();
    match (method, path_only) {
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
    let host = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("Host"))
        .map_or_else(|| "localhost".to_string(), |(_, value)| value.clone());
    mock.handle(&Request {
        method: method.to_string(),
        url: format!("http://{host}{path}"),
        headers,
        body,
    })
}
