//! The multi-tenant runner: delivers a JSONL event stream for many tenants through the plugin.
//!
//! The stream is read line by line (a file or stdin, memory bounded by the delivery core's
//! queue). Events with the same order key (tenant + user) are delivered in input order; an
//! event waiting for its retry holds back only its own key, and every other key keeps flowing
//! on a pool of worker threads. Every input line ends delivered, skipped (with a reason) or
//! dead-lettered, and [`Summary::check_adds_up`] proves it.

pub mod console;
pub mod jsonl;
pub mod oauth;
pub mod state_view;
pub mod summary;
pub mod trace;
mod waiting;
mod worker;

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mock_zendesk::MockZendesk;

use destination_host::{
    HttpTransport, Manifest, Plugin, PluginSlot, Runtime, RuntimeOptions, SwapEvent, Tenant,
    TenantSpec, Transport, WatchHandle,
};

use crate::transports::{LoopbackOrigin, MockTransport, RoutingTransport};
use console::Console;
use destination_host::Redactor;
pub use destination_host::RetryPolicy;
use destination_host::credentials::CredentialKey;
pub use destination_host::delivery::Batching;
use destination_host::delivery::{Engine, KeyedQueue, OrderKey, TenantLimit};
use jsonl::JsonlFile;
pub use summary::{Disposition, Summary};
pub use worker::{EventReport, HttpCall};

/// Where the plugin's requests go.
#[derive(Clone)]
pub enum Target {
    /// The in-process mock Zendesk (all tenants; one account per subdomain).
    Mock(MockZendesk),
    /// Real HTTP, with every allowed URL rewritten to this loopback origin (a mock server).
    Loopback(LoopbackOrigin),
    /// Real HTTP to `https://{subdomain}.zendesk.com`.
    Zendesk,
}

/// Which plugin serves the run.
#[derive(Clone)]
pub enum PluginSource {
    /// Compile this component file in a runtime of the run's own.
    File(PathBuf),
    /// An already compiled plugin and its runtime (lets tests compile once for many runs).
    Loaded(Arc<Runtime>, Plugin),
}

/// Called once per finished event line (not for malformed lines), from worker threads.
pub type EventObserver = Arc<dyn Fn(&EventReport) + Send + Sync>;

/// Called when `watch` swapped in a new plugin version or rejected a new file.
pub type SwapObserver = Arc<dyn Fn(&SwapEvent) + Send + Sync>;

/// Where the event stream comes from: one `{"tenant": "<id>", "event": {...}}` per line.
#[derive(Clone, Debug)]
pub enum EventSource {
    Text(String),
    File(PathBuf),
    Stdin,
}

/// Events held by the delivery core at once (queued, parked for a retry, in flight): the reader
/// waits when it is full, so memory stays bounded whatever the stream's length.
pub const QUEUE_CAPACITY: usize = 10_000;

/// A tenant without a call for this long gives back what the runtime derived from its config
/// (rebuilt by its next call).
pub const IDLE_TENANT: Duration = Duration::from_secs(300);

pub struct RunOptions {
    /// The tenants file's text: `{"tenants": {...}, "limits": {...}}`.
    pub tenants_json: String,
    pub events: EventSource,
    pub plugin: PluginSource,
    pub target: Target,
    /// Hot-swap the plugin when its file changes (needs `PluginSource::File`).
    pub watch: bool,
    pub trace: Option<PathBuf>,
    pub dead_letter: Option<PathBuf>,
    pub summary_json: Option<PathBuf>,
    /// Where OAuth tenants' rotated tokens are kept (needed for refresh-token grants).
    pub credential_store: Option<PathBuf>,
    /// Seals the stored tokens (the CLI reads it from `CDP_CREDENTIAL_KEY`).
    pub credential_key: Option<CredentialKey>,
    /// Calls in flight at most (async lanes: a call waiting on Zendesk holds no thread).
    pub concurrency: usize,
    /// Calls in flight for one tenant at most (a batch is one call).
    pub per_tenant: usize,
    pub retry: RetryPolicy,
    /// One event per plugin call (the default), or batches per tenant by size and age.
    pub batching: Batching,
    /// Show a progress bar (only ever drawn when stderr is a terminal).
    pub progress: bool,
    pub on_event: Option<EventObserver>,
    /// Told about hot swaps (they are also logged to stderr).
    pub on_swap: Option<SwapObserver>,
    /// Set (by Ctrl-C or SIGTERM) to drain: stop reading, let the calls in flight finish, and
    /// dead-letter what was not delivered as `interrupted`, so the summary accounts for it.
    pub interrupt: Option<Arc<AtomicBool>>,
}

impl RunOptions {
    /// Options with the CLI's defaults, but 8 calls in flight (the in-process mock answers at
    /// once, so more only adds pool slots): the built plugin, retries for 10 minutes.
    /// `events_jsonl` is the stream's text.
    pub fn new(
        tenants_json: impl Into<String>,
        events_jsonl: impl Into<String>,
        target: Target,
    ) -> Self {
        RunOptions {
            tenants_json: tenants_json.into(),
            events: EventSource::Text(events_jsonl.into()),
            plugin: PluginSource::File(
                crate::embedded::component_path().unwrap_or_else(|_| env!("ZENDESK_WASM").into()),
            ),
            target,
            watch: false,
            trace: None,
            dead_letter: None,
            summary_json: None,
            credential_store: None,
            credential_key: None,
            concurrency: 8,
            per_tenant: destination_fleet::cli::DEFAULT_PER_TENANT as usize,
            retry: RetryPolicy::default(),
            batching: Batching::OFF,
            progress: false,
            on_event: None,
            on_swap: None,
            interrupt: None,
        }
    }
}

/// Runs the stream to the end. `Err` only when the run could not happen (bad tenants file,
/// unloadable plugin, unreadable input, unwritable output) or the accounting does not add up;
/// failed events are dead-lettered and counted in the summary instead.
pub fn run(options: RunOptions) -> Result<Summary> {
    let started = Instant::now();
    if options.concurrency == 0 {
        bail!("concurrency must be at least 1");
    }
    let runtime_options = match &options.plugin {
        PluginSource::Loaded(runtime, _) => runtime.options().clone(),
        PluginSource::File(_) => runtime_options(options.concurrency),
    };
    let specs = tenant_specs(&options.tenants_json, &runtime_options)?;
    let secrets = Redactor::from_configs(specs.iter().map(|s| s.config_json.as_str()));
    let (reader, total_lines) = open_events(&options.events)?;

    let (runtime, plugin) = load_plugin(&options.plugin, runtime_options)?;
    let slot = Arc::new(PluginSlot::new(plugin));
    let _watch = match (&options.plugin, options.watch) {
        (PluginSource::File(path), true) => {
            let on_swap = options.on_swap.clone();
            Some(watch_plugin(&runtime, &slot, path.clone(), on_swap)?)
        }
        (PluginSource::Loaded(..), true) => bail!("watching needs a plugin file"),
        (_, false) => None,
    };

    let create = |path: &Option<PathBuf>| -> Result<Option<JsonlFile>> {
        path.as_deref()
            .map(|path| JsonlFile::create(path, secrets.clone()))
            .transpose()
    };
    let transport = transport_for(&options.target);
    let mut tenants: HashMap<String, Tenant> = specs
        .iter()
        .map(|spec| (spec.id.clone(), spec.tenant(Arc::clone(&transport))))
        .collect();
    oauth::attach_token_sources(
        &specs,
        &mut tenants,
        options.credential_store.as_deref(),
        options.credential_key.as_ref(),
        &transport,
    )?;
    let context = worker::RunContext {
        engine: Engine::new(Arc::clone(&runtime), slot, options.retry),
        tenants,
        batching: options.batching,
        console: Console::new(options.progress, total_lines, secrets.clone()),
        trace: create(&options.trace)?,
        dead_letters: create(&options.dead_letter)?,
        source: match &options.events {
            EventSource::File(path) => format!("file:{}", path.display()),
            EventSource::Stdin => "stdin".into(),
            EventSource::Text(_) => "input".into(),
        },
        summary: Mutex::new(Summary::default()),
        waiting: Default::default(),
        on_event: options.on_event.clone(),
        last_success: Mutex::new(None),
        batches: Default::default(),
    };
    let known: HashSet<&str> = specs.iter().map(|s| s.id.as_str()).collect();
    // The queue counts events; a batch call holds up to `batching.size` of them.
    let call = options.batching.size.max(1);
    let limit = TenantLimit {
        in_flight: options.per_tenant.saturating_mul(call),
        until_warm: call,
    };
    let queue = KeyedQueue::with_tenant_limit(QUEUE_CAPACITY, limit);
    let startup = started.elapsed();
    let interrupt = options.interrupt.clone().unwrap_or_default();
    let finished = AtomicBool::new(false);
    let stopped = AtomicBool::new(false);
    // The drain: nothing more is handed out, and what waits is accounted for (once).
    let drain = || {
        if !stopped.swap(true, Ordering::Relaxed) {
            context
                .console
                .line("interrupted: finishing the calls in flight, then the summary");
        }
        context.dead_letter_interrupted(queue.stop());
    };
    // The lanes are futures, not threads: one thread per core polls its share of them on a
    // runtime of its own, which also drives their sockets and timers (the HTTP transport keeps
    // a connection pool per thread), so a call wakes no other thread.
    let threads = std::thread::available_parallelism()
        .map_or(2, usize::from)
        .min(options.concurrency);
    let runtimes = (0..threads)
        .map(|_| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .context("cannot start the run's async runtimes")?;
    let read = std::thread::scope(|scope| {
        for (thread, lane_runtime) in runtimes.into_iter().enumerate() {
            let lanes = (thread..options.concurrency).step_by(threads).count();
            let (context, queue) = (&context, &queue);
            std::thread::Builder::new()
                .name(format!("run-lanes-{thread}"))
                .spawn_scoped(scope, move || {
                    lane_runtime.block_on(futures_util::future::join_all(
                        (0..lanes).map(|_| context.work(queue)),
                    ))
                })
                .expect("a lane thread starts");
        }
        // Shows what the run waits for, and drains at an interrupt even while the reader is
        // blocked on a full queue.
        scope.spawn(|| {
            let (mut said, mut swept) = (Instant::now(), Instant::now());
            while !finished.load(Ordering::Relaxed) {
                if interrupt.load(Ordering::Relaxed) {
                    drain();
                    return;
                }
                if said.elapsed() >= Duration::from_secs(1) {
                    context.console.status(context.waiting.status(), &mut said);
                }
                if swept.elapsed() >= IDLE_TENANT / 5 {
                    for tenant in context.tenants.values() {
                        tenant.evict_if_idle(IDLE_TENANT);
                    }
                    swept = Instant::now();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let read = read_events(reader, &known, &context, &queue, &interrupt);
        // Close even after a read error, so the workers finish what they hold and stop.
        queue.close();
        // Woken by the last event's end (checking for an interrupt every 50 ms).
        while !queue.wait_drained(Duration::from_millis(50)) && !interrupt.load(Ordering::Relaxed) {
        }
        if interrupt.load(Ordering::Relaxed) {
            drain();
        }
        finished.store(true, Ordering::Relaxed);
        read
    });
    // Events whose retry was decided after the stop.
    context.dead_letter_interrupted(queue.stop());
    context.console.finish();
    let (lines, stopped_at) = read?;

    for file in [&context.trace, &context.dead_letters]
        .into_iter()
        .flatten()
    {
        file.finish()?;
    }
    let last_success = *context
        .last_success
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut summary = context
        .summary
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    summary.finish(started.elapsed());
    summary.interrupted_after_line = stopped_at;
    summary.startup_ms = millis(startup);
    summary.last_success_ms = last_success.map(|at| millis(at.duration_since(started)));
    summary.check_adds_up(lines)?;
    if let Some(path) = &options.summary_json {
        let json = serde_json::to_string_pretty(&summary)?;
        std::fs::write(path, secrets.scrub(&json).as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(summary)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The stream's reader and, for the progress bar, its line count (0 when unknown: stdin).
fn open_events(source: &EventSource) -> Result<(Box<dyn BufRead + Send>, u64)> {
    Ok(match source {
        EventSource::Text(text) => (
            Box::new(std::io::Cursor::new(text.clone().into_bytes())),
            text.lines().filter(|l| !l.trim().is_empty()).count() as u64,
        ),
        EventSource::File(path) => {
            let open = || {
                std::fs::File::open(path)
                    .with_context(|| format!("cannot read the events file {}", path.display()))
            };
            // One streaming pass to count, for the progress bar; memory stays flat.
            let mut count = 0u64;
            for line in std::io::BufReader::new(open()?).lines() {
                count += u64::from(!line?.trim().is_empty());
            }
            (Box::new(std::io::BufReader::new(open()?)), count)
        }
        EventSource::Stdin => (Box::new(std::io::BufReader::new(std::io::stdin())), 0),
    })
}

/// Reads the stream line by line into the queue (waiting while it is full); malformed lines are
/// dead-lettered at once. Returns the number of non-blank lines.
fn read_events(
    reader: Box<dyn BufRead + Send>,
    known: &HashSet<&str>,
    context: &worker::RunContext,
    queue: &KeyedQueue<worker::Job>,
    interrupt: &AtomicBool,
) -> Result<(u64, Option<u64>)> {
    let mut lines = 0u64;
    for (index, raw) in reader.lines().enumerate() {
        if interrupt.load(Ordering::Relaxed) {
            return Ok((lines, Some(index as u64)));
        }
        let raw = raw.context("cannot read the event stream")?;
        match destination_host::delivery::parse_line(index + 1, &raw, known) {
            None => continue,
            Some(Ok(event)) => {
                let key = OrderKey::of(&event.tenant, &event.event);
                queue.push(key, worker::Job::new(event));
            }
            Some(Err(malformed)) => context.dead_letter_malformed(&malformed),
        }
        lines += 1;
    }
    Ok((lines, None))
}

/// The tenants of a manifest (the tenants file), with Zendesk's origin as the default.
pub fn tenant_specs(manifest: &str, runtime: &RuntimeOptions) -> Result<Vec<TenantSpec>> {
    Ok(Manifest::parse(manifest)?.tenants(runtime, &crate::zendesk_origins())?)
}

/// The runtime of a run: room for every worker's instance plus hot-swap checks, and the
/// reference host's routing headers stripped from guest requests.
pub fn runtime_options(concurrency: usize) -> RuntimeOptions {
    let defaults = RuntimeOptions::default();
    let wanted = u32::try_from(concurrency.saturating_add(8)).unwrap_or(u32::MAX);
    RuntimeOptions {
        max_instances: defaults.max_instances.max(wanted),
        routing_headers: crate::routing_headers(),
        rate_limit_headers: destination_fleet::zendesk::rate_limit_headers(),
        ..defaults
    }
}

fn load_plugin(source: &PluginSource, options: RuntimeOptions) -> Result<(Arc<Runtime>, Plugin)> {
    match source {
        PluginSource::Loaded(runtime, plugin) => Ok((Arc::clone(runtime), plugin.clone())),
        PluginSource::File(path) => {
            let runtime = Runtime::new(options).context("cannot start the wasm runtime")?;
            let plugin = runtime
                .load_plugin_file(path)
                .with_context(|| format!("cannot load the plugin {}", path.display()))?;
            Ok((Arc::new(runtime), plugin))
        }
    }
}

pub fn transport_for(target: &Target) -> Arc<dyn Transport> {
    match target {
        Target::Mock(mock) => Arc::new(MockTransport::new(mock.clone())),
        Target::Loopback(origin) => Arc::new(RoutingTransport::new(
            Arc::new(HttpTransport::new()),
            origin.clone(),
        )),
        Target::Zendesk => Arc::new(HttpTransport::new()),
    }
}

pub(crate) fn watch_plugin(
    runtime: &Arc<Runtime>,
    slot: &Arc<PluginSlot>,
    path: PathBuf,
    on_swap: Option<SwapObserver>,
) -> Result<WatchHandle> {
    let handle =
        destination_host::watch(Arc::clone(runtime), Arc::clone(slot), path, move |event| {
            tracing::warn!("{event}");
            if let Some(observer) = &on_swap {
                observer(&event);
            }
        })?;
    Ok(handle)
}
