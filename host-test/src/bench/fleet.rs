//! The fleet under a benchmark: `n` worker processes over a real `nats-server`, delivering a
//! produced stream to the HTTP mock. The clock runs from the first publish to the last event's
//! outcome, as the workers' own metrics count them (they are up, and own every partition,
//! before anything is published).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::nats::{NatsServer, free_port};
use crate::runner::summary::peak_rss_mib_of;

/// What the workers did with the stream.
#[derive(Debug)]
pub struct FleetRun {
    pub events: u64,
    pub seconds: f64,
    pub zendesk_calls: u64,
    pub retries: u64,
    pub dead_lettered: u64,
    /// The highest peak RSS of the worker processes.
    pub peak_rss_mib: f64,
}

/// Worker processes of `binary` (`host-test`), killed when dropped.
struct Workers(Vec<(Child, u16)>);

impl Drop for Workers {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

type Sums = HashMap<String, f64>;

impl Workers {
    /// Each worker's metrics: each name summed over its labels, and `cdp_events_total` also
    /// per `outcome`, as `cdp_events_total{outcome}`.
    fn each(&self) -> Result<Vec<Sums>> {
        self.0.iter().map(|(_, port)| sums(*port)).collect()
    }

    /// [`Workers::each`], summed over the workers.
    fn metrics(&self) -> Result<Sums> {
        let mut total = Sums::new();
        for sums in self.each()? {
            for (name, value) in sums {
                *total.entry(name).or_default() += value;
            }
        }
        Ok(total)
    }
}

fn get(sums: &Sums, name: &str) -> f64 {
    sums.get(name).copied().unwrap_or(0.0)
}

/// Delivers `events` (a JSON-lines file of `count` lines) for `tenants` through `workers`
/// worker processes to the mock at `origin`, with the plugin at `plugin`.
pub fn deliver(
    binary: &Path,
    workers: usize,
    plugin: &Path,
    tenants: &Path,
    events: &Path,
    count: u64,
    origin: &str,
) -> Result<FleetRun> {
    let nats = NatsServer::start()?;
    let mut children = Workers(Vec::new());
    for n in 0..workers {
        let port = free_port()?;
        let log = std::fs::File::create(nats.dir().join(format!("worker-{n}.log")))?;
        let child = Command::new(binary)
            .args(["worker", "--nats", &nats.url, "--zendesk-origin", origin])
            .arg("--tenants")
            .arg(tenants)
            .arg("--plugin")
            .arg(plugin)
            .args(["--metrics", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start a worker")?;
        children.0.push((child, port));
    }
    // Up, every partition owned and shared out, before the clock starts.
    wait_for(
        Duration::from_secs(60),
        "the workers to share the partitions",
        || {
            // A worker not listening yet owns nothing.
            let each = children.each().unwrap_or_default();
            let owned: Vec<f64> = each
                .iter()
                .map(|m| get(m, "cdp_partitions_owned"))
                .collect();
            Ok(owned.len() == workers
                && owned.iter().all(|&n| n > 0.0)
                && owned.iter().sum::<f64>() == f64::from(destination_fleet::PARTITIONS))
        },
    )?;
    let started = Instant::now();
    let produced = Command::new(binary)
        .args(["produce", "--nats", &nats.url, "--events"])
        .arg(events)
        .stderr(Stdio::null())
        .status()
        .context("cannot start `produce`")?;
    ensure!(produced.success(), "`produce` ended with {produced}");
    let finished = |metrics: &Sums| get(metrics, "cdp_events_total") >= count as f64;
    wait_for(Duration::from_secs(600), "the workers to finish", || {
        Ok(finished(&children.metrics()?))
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let metrics = children.metrics()?;
    let peak_rss_mib = children
        .0
        .iter()
        .map(|(child, _)| peak_rss_mib_of(&child.id().to_string()))
        .fold(0.0, f64::max);
    let total = |name: &str| get(&metrics, name) as u64;
    Ok(FleetRun {
        events: total("cdp_events_total"),
        seconds,
        zendesk_calls: total("cdp_zendesk_calls_total"),
        retries: total("cdp_retries_total"),
        dead_lettered: total("cdp_events_total{dead_lettered}"),
        peak_rss_mib,
    })
}

fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let started = Instant::now();
    while !done()? {
        if started.elapsed() > limit {
            bail!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// One worker's metrics (see [`Workers::each`]).
fn sums(port: u16) -> Result<Sums> {
    let mut sums = Sums::new();
    for (name, labels, value) in scrape(port)? {
        *sums.entry(name.clone()).or_default() += value;
        if let Some(outcome) = label(&labels, "outcome") {
            *sums.entry(format!("{name}{{{outcome}}}")).or_default() += value;
        }
    }
    Ok(sums)
}

/// The Prometheus text on `127.0.0.1:port/metrics`, as (name, labels, value) samples.
fn scrape(port: u16) -> Result<Vec<(String, String, f64)>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok(body
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            Some((name.to_string(), labels.to_string(), value.parse().ok()?))
        })
        .collect())
}

/// The value of `key` in a Prometheus label set (`a="x",b="y"`).
fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    labels.split(',').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| v.trim_matches('"'))
    })
}
