//! `host-test bench`: a reproducible benchmark of the plugin on the standard workload
//! ([`StandardStream`]), through the same delivery core as `run`, against the in-process mock.
//!
//! Four modes: one call per event and batches, each with the unchanged window off
//! (`skipUnchangedWithinSeconds: 0`) and at its default. For each: Zendesk calls per event by
//! type and overall, events per second, and the p50 / p99 time of an event's call. Plus the
//! sandbox instantiation time, the component size, the hot-swap time and the peak RSS.

mod attribution;
pub mod fleet;
pub mod latency;
mod report;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use destination_host::{Plugin, PluginSlot, Runtime, Tenant};
use mock_zendesk::workload::StandardStream;
use mock_zendesk::{BulkSettings, MockZendesk};
use serde_json::json;

use crate::runner::{
    self, Batching, EventReport, PluginSource, RetryPolicy, RunOptions, Summary, Target,
};
use attribution::CallsByType;
pub use report::{BenchReport, ModeReport};

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub plugin: PathBuf,
    pub tenants: usize,
    pub stream: StandardStream,
    pub batching: Batching,
    /// Events delivered at the same time.
    pub concurrency: usize,
}

/// Runs every mode and returns the figures.
pub fn run(options: &BenchOptions) -> Result<BenchReport> {
    if options.tenants == 0 {
        bail!("--tenants must be at least 1");
    }
    let runtime = Arc::new(Runtime::new(runner::runtime_options(options.concurrency))?);
    let bytes = std::fs::read(&options.plugin)
        .with_context(|| format!("cannot read {}", options.plugin.display()))?;
    let plugin = runtime
        .load_plugin(&bytes)
        .context("cannot load the plugin")?;
    let hot_swap = median_of(5, || {
        let slot = PluginSlot::new(plugin.clone());
        let started = Instant::now();
        slot.reload_from(&runtime, &options.plugin)
            .map(|_| started.elapsed())
            .context("the plugin does not reload")
    })?;
    let instantiation = instantiation_time(&runtime, &plugin);

    let lines = stream_lines(options);
    let mut modes = Vec::new();
    for batched in [false, true] {
        for dedupe in [false, true] {
            modes.push(run_mode(
                options, &runtime, &plugin, &lines, batched, dedupe,
            )?);
        }
    }
    Ok(BenchReport {
        stream: options.stream.clone(),
        tenants: options.tenants,
        batch_size: options.batching.size,
        modes,
        sandbox_instantiation_us: instantiation.as_secs_f64() * 1e6,
        component_kib: bytes.len() as f64 / 1024.0,
        hot_swap_ms: hot_swap.as_secs_f64() * 1e3,
        peak_rss_mib: crate::runner::summary::peak_rss_mib(),
    })
}

/// The standard stream for every tenant, interleaved (one event of each tenant in turn).
fn stream_lines(options: &BenchOptions) -> Vec<(String, String)> {
    let events = options.stream.generate();
    let mut lines = Vec::with_capacity(events.len() * options.tenants);
    for event in &events {
        for tenant in 0..options.tenants {
            lines.push((format!("bench{tenant}"), event.to_string()));
        }
    }
    lines
}

fn run_mode(
    options: &BenchOptions,
    runtime: &Arc<Runtime>,
    plugin: &Plugin,
    lines: &[(String, String)],
    batched: bool,
    dedupe: bool,
) -> Result<ModeReport> {
    let mock = MockZendesk::new();
    // The accounts have bulk user import enabled (Zendesk Support turns it on on request).
    mock.set_default_bulk(BulkSettings {
        user_import: true,
        ..BulkSettings::default()
    });
    let mut tenants = serde_json::Map::new();
    for tenant in 0..options.tenants {
        let mut config = json!({"subdomain": format!("bench{tenant}"),
            "email": "bench@example.com", "apiToken": "bench-token"});
        if !dedupe {
            config["skipUnchangedWithinSeconds"] = 0.into();
        }
        tenants.insert(format!("bench{tenant}"), config);
    }
    let jsonl: Vec<String> = lines
        .iter()
        .map(|(tenant, event)| format!("{{\"tenant\":\"{tenant}\",\"event\":{event}}}"))
        .collect();
    let mut run = RunOptions::new(
        json!({ "tenants": tenants }).to_string(),
        jsonl.join("\n"),
        Target::Mock(mock.clone()),
    );
    run.plugin = PluginSource::Loaded(Arc::clone(runtime), plugin.clone());
    run.concurrency = options.concurrency;
    run.retry = RetryPolicy::never();
    if batched {
        run.batching = options.batching;
    }
    let reports: Arc<Mutex<Vec<EventReport>>> = Arc::default();
    let collected = Arc::clone(&reports);
    run.on_event = Some(Arc::new(move |report: &EventReport| {
        collected
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(report.clone());
    }));
    let started = Instant::now();
    let summary = runner::run(run)?;
    let elapsed = started.elapsed();
    check_all_delivered(&summary)?;
    let reports = std::mem::take(&mut *reports.lock().unwrap_or_else(|p| p.into_inner()));
    let requests = mock.requests().len();
    Ok(ModeReport::new(
        batched,
        dedupe,
        CallsByType::of(&reports, requests),
        lines.len() as f64 / elapsed.as_secs_f64(),
        &reports,
    ))
}

fn check_all_delivered(summary: &Summary) -> Result<()> {
    if summary.dead_lettered > 0 {
        bail!(
            "{} events of the standard stream were dead-lettered: the benchmark needs every event delivered",
            summary.dead_lettered
        );
    }
    Ok(())
}

/// A fresh sandbox for a new tenant: instantiate and run `validate-config` (mean of 200).
fn instantiation_time(runtime: &Runtime, plugin: &Plugin) -> Duration {
    let mock = MockZendesk::new();
    let transport = runner::transport_for(&Target::Mock(mock));
    let config =
        json!({"subdomain": "bench", "email": "b@example.com", "apiToken": "t"}).to_string();
    let runs = 200;
    let started = Instant::now();
    for n in 0..runs {
        let tenant = Tenant::new(
            format!("fresh{n}"),
            config.clone(),
            destination_host::Limits::default(),
            Arc::clone(&transport),
        );
        let _ = runtime.validate_config(plugin, &tenant);
    }
    started.elapsed() / runs
}

fn median_of(runs: usize, mut f: impl FnMut() -> Result<Duration>) -> Result<Duration> {
    let mut times = (0..runs).map(|_| f()).collect::<Result<Vec<_>>>()?;
    times.sort();
    Ok(times[times.len() / 2])
}
