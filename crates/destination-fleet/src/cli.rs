//! The fleet's commands (`produce`, `worker`, `dead-letters`), shared by the production binary
//! `destination-fleet` and the test host, which adds its test routing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use destination_host::delivery::Batching;
use destination_host::{OriginTemplate, RetryPolicy, RuntimeOptions, Transport};

pub use crate::authorize::AuthorizeArgs;
use crate::authorize::authorize;
use crate::worker::{WorkerOptions, run_worker};
use crate::{Fleet, dead_letters, produce};

/// Calls in flight by default, for `worker` and `run`: a real account answers in 50 to 300 ms,
/// so a host is bounded by what it keeps in flight. A call waiting on Zendesk holds no thread,
/// only its sandbox's memory (about 250 KiB), so the bound is memory: 512 calls keep `run`
/// under 300 MiB. The accounts' rate limits and [`DEFAULT_PER_TENANT`] still bound each account.
pub const DEFAULT_CONCURRENCY: u32 = 512;

/// The most calls `run` and `worker` keep in flight for one tenant: a Zendesk account allows 200 to 2,500
/// requests a minute, which 8 calls of 100 ms already exceed, and a tenant's events running
/// side by side would each look up what the first one is about to cache.
pub const DEFAULT_PER_TENANT: u32 = 8;

/// The most calls in flight `--concurrency` accepts.
pub const MAX_CONCURRENCY: i64 = 16_384;

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Publishes a JSONL event stream (the `run` format) to NATS JetStream for the workers.
    Produce(ProduceArgs),
    /// Delivers events from NATS JetStream: run any number, anywhere; SIGTERM drains.
    Worker(WorkerArgs),
    /// Lists the fleet's open dead letters as JSONL (filters: --tenant, --class, --since, --seq);
    /// `--replay`, `--resolve` or `--purge` acts on the selection.
    DeadLetters(DeadLettersArgs),
    /// Gets a tenant's first OAuth tokens: prints the authorization URL (PKCE), reads back the
    /// code on stdin, stores the tokens (the fleet's bucket, or a `run` credential file).
    Authorize(AuthorizeArgs),
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// The NATS server, e.g. nats://127.0.0.1:4222.
    #[arg(long)]
    pub nats: String,
    /// JSONL, one {"tenant": "<id>", "event": {...}} per line; `-` reads stdin.
    #[arg(long)]
    pub events: PathBuf,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The NATS server, e.g. nats://127.0.0.1:4222.
    #[arg(long)]
    pub nats: String,
    /// The tenant manifest: {"tenants": {"<id>": <plugin config>}, "limits": {...}, ...}
    #[arg(long)]
    pub tenants: PathBuf,
    /// The plugin component (a .wasm file).
    #[arg(long)]
    pub plugin: Option<PathBuf>,
    /// Hot-swap the plugin when the --plugin file changes (write it atomically: temp + rename).
    #[arg(long, requires = "plugin")]
    pub watch: bool,
    /// How long after its first publish an event is still retried (e.g. 90s, 10m, 4h).
    #[arg(long, default_value = "4h", value_parser = destination_host::parse_duration)]
    pub retry_for: Duration,
    /// How long SIGTERM's drain may take (finishing and acknowledging the calls in flight,
    /// handing the partitions back) before the worker exits anyway with status 1, e.g. when
    /// NATS is gone; match the platform's grace period (Kubernetes: 30 s).
    #[arg(long, default_value = "25s", value_parser = destination_host::parse_duration)]
    pub drain_timeout: Duration,
    /// Serve /metrics (Prometheus) and /healthz on this address, e.g. 127.0.0.1:9100.
    #[arg(long)]
    pub metrics: Option<SocketAddr>,
    /// Plugin calls at the same time (a call waiting on Zendesk holds no thread, only its
    /// sandbox's memory; the accounts' rate limits still pace them).
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u32).range(1..=MAX_CONCURRENCY))]
    pub concurrency: u32,
    /// Calls in flight for one tenant at most, so that many tenants share the worker fairly
    /// (a batch counts as one call).
    #[arg(long, default_value_t = DEFAULT_PER_TENANT, value_parser = clap::value_parser!(u32).range(1..))]
    pub per_tenant: u32,
    #[command(flatten)]
    pub batch: BatchArgs,
}

#[derive(Debug, Args)]
pub struct DeadLettersArgs {
    /// The NATS server, e.g. nats://127.0.0.1:4222.
    #[arg(long)]
    pub nats: String,
    /// Only this tenant's.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only this `error_class` (e.g. auth, rejected, malformed-input).
    #[arg(long)]
    pub class: Option<String>,
    /// Only those dead-lettered within this long (e.g. 30m, 2h).
    #[arg(long, value_parser = destination_host::parse_duration)]
    pub since: Option<Duration>,
    /// Only these sequences (the `seq` a listing prints), e.g. 12,15.
    #[arg(long, value_delimiter = ',')]
    pub seq: Vec<u64>,
    /// Replayed and resolved ones too (by default only open ones).
    #[arg(long)]
    pub all: bool,
    /// Publish the selected letters' events again, once each (after fixing what failed).
    #[arg(long, group = "action")]
    pub replay: bool,
    /// Mark the selected letters resolved: no longer listed as open.
    #[arg(long, group = "action")]
    pub resolve: bool,
    /// Delete the selected letters.
    #[arg(long, group = "action")]
    pub purge: bool,
}

/// Batch delivery: events of one tenant (one per user) in each `transform-batch` call.
#[derive(Debug, Args, Clone, Copy)]
pub struct BatchArgs {
    /// Events per plugin call (1: one call per event). Events of one user are never in the same
    /// batch, so a later one cannot overtake an earlier one still in flight.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch_size: u32,
    /// How long a batch waits to fill before it is sent anyway, in ms.
    #[arg(long, default_value_t = 200)]
    pub batch_wait_ms: u64,
}

impl BatchArgs {
    pub fn batching(&self) -> Batching {
        Batching {
            size: self.batch_size as usize,
            wait: Duration::from_millis(self.batch_wait_ms),
        }
    }
}

/// What the binary running the commands decides: how requests leave, and its defaults.
pub struct Setup {
    pub transport: Arc<dyn Transport>,
    pub runtime: RuntimeOptions,
    /// Origins a tenant may reach when its manifest names none.
    pub default_origins: Vec<OriginTemplate>,
    /// The plugin used without `--plugin` (none: `--plugin` is required).
    pub default_plugin: Option<PathBuf>,
}

/// Runs one command; the exit status: 0 success, 1 some events were dead-lettered.
pub fn run(command: FleetCommand, setup: Setup) -> Result<u8> {
    match command {
        FleetCommand::Produce(args) => run_produce(args),
        FleetCommand::Worker(args) => worker(args, setup),
        FleetCommand::DeadLetters(args) => run_dead_letters(args),
        FleetCommand::Authorize(args) => authorize(
            args,
            &setup.transport,
            &setup.default_origins,
            crate::zendesk::TOKEN_PATH,
        ),
    }
}

fn async_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run_produce(args: ProduceArgs) -> Result<u8> {
    let reader: Box<dyn std::io::BufRead> = match args.events.to_str() {
        Some("-") => Box::new(std::io::BufReader::new(std::io::stdin())),
        _ => Box::new(std::io::BufReader::new(
            std::fs::File::open(&args.events).with_context(|| {
                format!("cannot read the events file {}", args.events.display())
            })?,
        )),
    };
    let source = match args.events.to_str() {
        Some("-") => format!("stdin@{}", crate::worker::hostname()),
        _ => format!(
            "file:{}@{}",
            args.events.display(),
            crate::worker::hostname()
        ),
    };
    let produced = async_runtime()?.block_on(async {
        let fleet = Fleet::connect(&args.nats).await?;
        let produced = produce::produce(&fleet, reader, &source).await?;
        fleet.client.flush().await?;
        anyhow::Ok(produced)
    })?;
    eprintln!(
        "{} lines: {} published, {} already in the stream, {} dead-lettered",
        produced.lines, produced.published, produced.duplicates, produced.dead_lettered
    );
    Ok(produced.exit_code())
}

fn worker(args: WorkerArgs, setup: Setup) -> Result<u8> {
    let plugin = match args.plugin.or(setup.default_plugin) {
        Some(path) if path.is_file() => path,
        Some(path) => bail!(
            "plugin component {} not found (pass --plugin PATH to the .wasm)",
            path.display()
        ),
        None => bail!("--plugin is required: the plugin component (.wasm) to run"),
    };
    run_worker(WorkerOptions {
        nats: args.nats,
        tenants_json: read(&args.tenants, "tenants")?,
        default_origins: setup.default_origins,
        plugin,
        watch: args.watch,
        transport: setup.transport,
        runtime: setup.runtime,
        retry: RetryPolicy {
            retry_for: args.retry_for,
            ..RetryPolicy::default()
        },
        metrics: args.metrics,
        concurrency: args.concurrency as usize,
        per_tenant: args.per_tenant as usize,
        drain_limit: args.drain_timeout,
        batching: args.batch.batching(),
        credential_key: destination_host::credentials::CredentialKey::from_env()?,
        token_path: crate::zendesk::TOKEN_PATH.to_string(),
    })
}

fn run_dead_letters(args: DeadLettersArgs) -> Result<u8> {
    let selection = dead_letters::Selection {
        tenant: args.tenant,
        class: args.class,
        since: args.since,
        sequences: args.seq.into_iter().collect(),
        all: args.all,
    };
    let action = match (args.replay, args.resolve, args.purge) {
        (true, _, _) => dead_letters::Action::Replay,
        (_, true, _) => dead_letters::Action::Resolve,
        (_, _, true) => dead_letters::Action::Purge,
        _ => dead_letters::Action::List,
    };
    let report = async_runtime()?.block_on(async {
        let fleet = Fleet::connect(&args.nats).await?;
        let mut stdout = std::io::stdout().lock();
        let report = dead_letters::run(&fleet, &mut stdout, &selection, action).await?;
        fleet.client.flush().await?;
        anyhow::Ok(report)
    })?;
    eprintln!("{}", report.render(action));
    Ok(0)
}

fn read(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))
}
