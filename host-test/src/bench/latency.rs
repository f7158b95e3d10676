//! `host-test bench --latency-ms 0,50,100,300`: `run` against a Zendesk that answers as slowly
//! as a real one (the HTTP mock with `--latency-ms`, 30% jitter), as a child process with the
//! default settings a new user has. A delivery host is then bounded by how many requests it
//! keeps in flight, not by CPU. Per latency: events/s, requests in flight on average (the
//! mock's summed answer times over the wall time: Little's law) and the process's peak RSS.
//! Then the same stream through 1 and 2 fleet workers over a real `nats-server` (see
//! [`super::fleet`]), when one is installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use destination_host::{HttpTransport, OutboundRequest, Transport};

use anyhow::{Context, Result, bail};
use mock_zendesk::MockZendesk;
use mock_zendesk::server::{Latency, ServerHandle, serve_with_latency};
use mock_zendesk::workload::StandardStream;
use serde::Serialize;
use serde_json::{Value, json};

use super::fleet;

pub struct LatencyOptions {
    pub plugin: PathBuf,
    pub latencies_ms: Vec<u64>,
    pub tenants: usize,
    /// Standard-stream events per tenant.
    pub events_per_tenant: usize,
    /// `run --concurrency`; `None`: run's default.
    pub concurrency: Option<usize>,
    /// Fleet rows: this many worker processes each (none when `nats-server` is missing).
    pub workers: Vec<usize>,
}

#[derive(Debug, Serialize)]
pub struct LatencyRow {
    /// `run`, or `N worker(s)`.
    pub host: String,
    pub latency_ms: u64,
    pub events: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    pub zendesk_calls: u64,
    /// Attempts that failed and were tried again, and events dead-lettered: both 0 when the
    /// speed did not cost correctness.
    pub retries: u64,
    pub dead_lettered: u64,
    pub requests_in_flight: f64,
    /// The highest peak RSS of the host's processes.
    pub peak_rss_mib: f64,
    /// The mock's own ceiling at this latency, with no plugin: requests in flight on average
    /// when a plain client keeps [`CEILING_CLIENTS`] requests outstanding (it shares the cores).
    pub mock_alone_in_flight: f64,
    pub mock_alone_requests_per_second: f64,
}

/// Requests a plain client keeps outstanding to find the mock's ceiling.
pub const CEILING_CLIENTS: usize = 2_048;
/// How long the ceiling is measured.
const CEILING_TIME: Duration = Duration::from_secs(3);

pub fn run(options: &LatencyOptions) -> Result<Vec<LatencyRow>> {
    let dir = tempfile::tempdir()?;
    let tenants_path = dir.path().join("tenants.json");
    let events_path = dir.path().join("events.jsonl");
    std::fs::write(&tenants_path, tenants(options.tenants).to_string())?;
    let lines = events(options);
    let count = lines.lines().count() as u64;
    std::fs::write(&events_path, lines)?;
    let exe = std::env::current_exe().context("cannot find this binary")?;
    let mut rows = Vec::new();
    for &latency_ms in &options.latencies_ms {
        let latency = Latency {
            base: Duration::from_millis(latency_ms),
            jitter_pct: 30,
        };
        let ceiling = mock_ceiling(latency)?;
        let row = |host: String, server: &ServerHandle, delivered: Delivered| LatencyRow {
            host,
            latency_ms,
            events: delivered.events,
            seconds: delivered.seconds,
            events_per_second: delivered.events as f64 / delivered.seconds.max(1e-9),
            zendesk_calls: delivered.zendesk_calls,
            retries: delivered.retries,
            dead_lettered: delivered.dead_lettered,
            requests_in_flight: server.busy().as_secs_f64() / delivered.seconds.max(1e-9),
            peak_rss_mib: delivered.peak_rss_mib,
            mock_alone_in_flight: ceiling.0,
            mock_alone_requests_per_second: ceiling.1,
        };
        let server = serve_with_latency(MockZendesk::new(), "127.0.0.1:0".parse()?, latency)?;
        let summary_path = dir.path().join(format!("summary-{latency_ms}.json"));
        let delivered = run_once(
            &exe,
            options,
            &tenants_path,
            &events_path,
            &server,
            &summary_path,
        )
        .with_context(|| format!("`run` at {latency_ms} ms"))?;
        rows.push(row("run".into(), &server, delivered));
        server.shutdown();
        for &workers in &options.workers {
            let server = serve_with_latency(MockZendesk::new(), "127.0.0.1:0".parse()?, latency)?;
            let fleet = fleet::deliver(
                &exe,
                workers,
                &options.plugin,
                &tenants_path,
                &events_path,
                count,
                &server.origin(),
            )
            .with_context(|| format!("{workers} worker(s) at {latency_ms} ms"))?;
            let delivered = Delivered {
                events: fleet.events,
                seconds: fleet.seconds,
                zendesk_calls: fleet.zendesk_calls,
                retries: fleet.retries,
                dead_lettered: fleet.dead_lettered,
                peak_rss_mib: fleet.peak_rss_mib,
            };
            let host = match workers {
                1 => "1 worker".to_string(),
                n => format!("{n} workers"),
            };
            rows.push(row(host, &server, delivered));
            server.shutdown();
        }
    }
    Ok(rows)
}

/// What one host did with the stream.
struct Delivered {
    events: u64,
    seconds: f64,
    zendesk_calls: u64,
    retries: u64,
    dead_lettered: u64,
    peak_rss_mib: f64,
}

/// `run` as a child process with a new user's settings, against `server`.
fn run_once(
    exe: &Path,
    options: &LatencyOptions,
    tenants: &Path,
    events: &Path,
    server: &ServerHandle,
    summary_path: &Path,
) -> Result<Delivered> {
    let mut run = Command::new(exe);
    run.arg("run")
        .arg("--tenants")
        .arg(tenants)
        .arg("--events")
        .arg(events)
        .arg("--plugin")
        .arg(&options.plugin)
        .args(["--zendesk-origin", &server.origin()])
        .arg("--summary-json")
        .arg(summary_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(concurrency) = options.concurrency {
        run.args(["--concurrency", &concurrency.to_string()]);
    }
    let status = run.status().context("cannot start `run`")?;
    if !status.success() {
        bail!("`run` ended with {status}");
    }
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(summary_path)?)?;
    let number = |name: &str| summary[name].as_u64().unwrap_or(0);
    Ok(Delivered {
        events: number("lines"),
        // From the first event on: the plugin's compilation is paid once by a long-running
        // host (the workers' clock, too, starts once they are up).
        seconds: (number("elapsed_ms").saturating_sub(number("startup_ms"))) as f64 / 1e3,
        zendesk_calls: number("zendesk_calls"),
        retries: number("retries"),
        dead_lettered: number("dead_lettered"),
        peak_rss_mib: summary["peak_rss_mib"].as_f64().unwrap_or(0.0),
    })
}

/// The mock alone at `latency`: a plain async client (the host's own transport, no plugin)
/// keeps [`CEILING_CLIENTS`] cheap requests outstanding for a few seconds. Returns the average
/// requests in flight and the requests answered per second.
fn mock_ceiling(latency: Latency) -> Result<(f64, f64)> {
    let mock = MockZendesk::new();
    let server = serve_with_latency(mock, "127.0.0.1:0".parse()?, latency)?;
    let transport = Arc::new(HttpTransport::new());
    let request = Arc::new(OutboundRequest {
        method: "GET".into(),
        url: format!("{}/api/v2/users/me.json", server.origin()),
        headers: vec![
            ("Authorization".into(), "Bearer ceiling".into()),
            ("X-Zendesk-Subdomain".into(), "ceiling".into()),
        ],
        body: None,
    });
    let io = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let answered: u64 = io.block_on(async {
        let clients = (0..CEILING_CLIENTS).map(|_| {
            let (transport, request) = (Arc::clone(&transport), Arc::clone(&request));
            tokio::spawn(async move {
                let mut answered = 0u64;
                while started.elapsed() < CEILING_TIME {
                    let sent = transport.send(&request, Duration::from_secs(30), 1 << 20);
                    if sent.await.is_ok() {
                        answered += 1;
                    }
                }
                answered
            })
        });
        let mut total = 0;
        for client in clients.collect::<Vec<_>>() {
            total += client.await.unwrap_or(0);
        }
        total
    });
    let seconds = started.elapsed().as_secs_f64();
    Ok((
        server.busy().as_secs_f64() / seconds,
        answered as f64 / seconds,
    ))
}

/// The rows as a Markdown table.
pub fn table(rows: &[LatencyRow]) -> String {
    let mut text = String::from(
        "| host | latency | events | seconds | events/s | Zendesk calls | retries | dead letters | requests in flight (avg) | peak RSS | the mock alone: in flight, requests/s |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        text += &format!(
            "| {} | {} ms | {} | {:.1} | {:.0} | {} | {} | {} | {:.1} | {:.0} MiB | {:.0}, {:.0} |\n",
            row.host,
            row.latency_ms,
            row.events,
            row.seconds,
            row.events_per_second,
            row.zendesk_calls,
            row.retries,
            row.dead_lettered,
            row.requests_in_flight,
            row.peak_rss_mib,
            row.mock_alone_in_flight,
            row.mock_alone_requests_per_second
        );
    }
    text
}

fn tenants(count: usize) -> Value {
    let tenants: serde_json::Map<String, Value> = (0..count)
        .map(|t| {
            let id = format!("t{t}");
            let config = json!({"subdomain": id, "email": format!("admin@{id}.example"),
                "apiToken": format!("bench-token-{t}")});
            (id, config)
        })
        .collect();
    json!({ "tenants": tenants })
}

/// Each tenant's standard stream, interleaved one event of each tenant in turn.
fn events(options: &LatencyOptions) -> String {
    let stream = StandardStream {
        events: options.events_per_tenant,
        users: (options.events_per_tenant / 3).max(1),
        organizations: 2,
        seed: 7,
    }
    .generate();
    let mut lines = String::new();
    for event in &stream {
        for t in 0..options.tenants {
            lines += &json!({"tenant": format!("t{t}"), "event": event}).to_string();
            lines.push('\n');
        }
    }
    lines
}
