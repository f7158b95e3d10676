//! The `host-test` command line: `demo`, `run`, `fields`, `mock-zendesk`, `describe`, `bench`,
//! and the fleet's commands (`produce`, `worker`, `dead-letters`) from `destination-fleet`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use mock_zendesk::{BulkSettings, Faults, MockZendesk};

use crate::demo::{self, DemoOptions};
use crate::fields;
use crate::output::{plugin_path, print_stdout};
use crate::runner::{self, Batching, EventSource, PluginSource, RetryPolicy, RunOptions, Target};
use destination_fleet::cli::{BatchArgs, FleetCommand, Setup};
use destination_fleet::logging::{self, LogFormat};
use destination_host::{ObjectType, Runtime, RuntimeOptions};

use crate::transports::LoopbackOrigin;

/// Exit status of a command that could not run (bad arguments or inputs).
pub const USAGE_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "host-test",
    version,
    about = "Runs the Zendesk destination plugin (a wasm component) in a sandbox: a demo, \
             multi-tenant event streams, a mock Zendesk server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Diagnostics on stderr as text lines or JSON lines (level: HOST_TEST_LOG, default warn;
    /// info for the fleet's commands).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs a bundled sample stream for tenant "acme" against an in-process mock Zendesk and
    /// shows what the plugin did and the mock's final state.
    Demo(DemoArgs),
    /// Delivers a multi-tenant JSONL event stream through the plugin.
    Run(RunArgs),
    /// The fleet's `produce` (as `destination-fleet produce`).
    Produce(destination_fleet::cli::ProduceArgs),
    /// The fleet's `worker` (as `destination-fleet worker`), defaulting to the plugin built with
    /// this binary, and able to route to a loopback mock (`--zendesk-origin`).
    Worker(TestWorkerArgs),
    /// The fleet's `dead-letters` (as `destination-fleet dead-letters`).
    DeadLetters(destination_fleet::cli::DeadLettersArgs),
    /// Gets a tenant's first OAuth tokens (as `destination-fleet authorize`): prints the
    /// authorization URL (PKCE), reads back the code on stdin, stores the tokens.
    Authorize(TestAuthorizeArgs),
    /// Lists every field a warehouse `record` of one object type can write (standard attributes
    /// and the account's custom fields), for building a field mapping.
    Fields(FieldsArgs),
    /// Serves the stateful mock Zendesk over HTTP on a loopback address.
    MockZendesk(MockArgs),
    /// Prints the plugin's description (name, version, event types, settings schema) as JSON.
    Describe(DescribeArgs),
    /// Prints the tenant manifest's JSON Schema (the tenants file of `run` and `worker`).
    ManifestSchema,
    /// Benchmarks the plugin on the seeded standard stream against the in-process mock: calls
    /// per event, events per second, latency, sandbox and hot-swap times, in four modes.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The plugin component (default: the one built with this binary).
    #[arg(long)]
    pub plugin: Option<PathBuf>,
    /// Events to run instead of the bundled sample: one event JSON per line, for tenant "acme".
    #[arg(long)]
    pub events: Option<PathBuf>,
    #[command(flatten)]
    pub batch: BatchArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// {"tenants": {"<id>": <plugin config>}, "limits": {"<id>" | "*": limits}}
    #[arg(long)]
    pub tenants: PathBuf,
    /// JSONL, one {"tenant": "<id>", "event": {...}} per line; `-` reads stdin.
    #[arg(long)]
    pub events: PathBuf,
    /// The plugin component (default: the one built with this binary).
    #[arg(long)]
    pub plugin: Option<PathBuf>,
    /// Hot-swap the plugin when the --plugin file changes (write it atomically: temp + rename).
    #[arg(long, requires = "plugin")]
    pub watch: bool,
    /// Send every request to this loopback origin instead (e.g. a `host-test mock-zendesk`).
    #[arg(long, value_name = "http://127.0.0.1:PORT", conflicts_with = "mock")]
    pub zendesk_origin: Option<LoopbackOrigin>,
    /// Use an in-process mock Zendesk and print its final state at the end.
    #[arg(long)]
    pub mock: bool,
    /// The in-process mock's accounts have bulk user import enabled (Zendesk's default is off).
    #[arg(long, requires = "mock")]
    pub mock_bulk_import: bool,
    /// Write every HTTP request (redacted) as JSONL here.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write events that finally failed (and malformed lines) as JSONL here.
    #[arg(long, value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,
    /// Write the summary as JSON here.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Where OAuth tenants' rotated tokens are kept, sealed with CDP_CREDENTIAL_KEY (required
    /// for tenants with a refresh token; reuse it across runs).
    #[arg(long, value_name = "FILE")]
    pub credential_store: Option<PathBuf>,
    /// Calls in flight (events of one user always one after the other; a call waiting on
    /// Zendesk holds no thread, only its sandbox's memory; the accounts' rate limits still pace
    /// them).
    #[arg(long, default_value_t = destination_fleet::cli::DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u32).range(1..=destination_fleet::cli::MAX_CONCURRENCY))]
    pub concurrency: u32,
    /// Calls in flight for one tenant at most, so that many tenants share the process fairly
    /// (a batch counts as one call).
    #[arg(long, default_value_t = destination_fleet::cli::DEFAULT_PER_TENANT, value_parser = clap::value_parser!(u32).range(1..))]
    pub per_tenant: u32,
    /// How long after its first attempt an event is still retried (e.g. 90s, 10m, 4h); Zendesk's
    /// Retry-After is always waited out in full.
    #[arg(long, default_value = "10m", value_parser = destination_host::parse_duration)]
    pub retry_for: Duration,
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// `worker` with the test host's routing to a loopback mock server.
#[derive(Debug, Args)]
pub struct TestWorkerArgs {
    #[command(flatten)]
    pub fleet: destination_fleet::cli::WorkerArgs,
    /// Send every request to this loopback origin instead (e.g. a `host-test mock-zendesk`).
    #[arg(long, value_name = "http://127.0.0.1:PORT")]
    pub zendesk_origin: Option<LoopbackOrigin>,
}

#[derive(Debug, Args)]
pub struct TestAuthorizeArgs {
    #[command(flatten)]
    pub fleet: destination_fleet::cli::AuthorizeArgs,
    /// Exchange the code at this loopback origin instead (e.g. a `host-test mock-zendesk`).
    #[arg(long, value_name = "http://127.0.0.1:PORT")]
    pub zendesk_origin: Option<LoopbackOrigin>,
}

#[derive(Debug, Args)]
pub struct FieldsArgs {
    /// The tenants file (as for `run`).
    #[arg(long, required_unless_present = "demo", conflicts_with = "demo")]
    pub tenants: Option<PathBuf>,
    /// The tenant whose account is read.
    #[arg(long, required_unless_present = "demo", conflicts_with = "demo")]
    pub tenant: Option<String>,
    /// users, organizations, tickets, organization_memberships, ticket_comments or
    /// custom_objects (the tenant's `customObjectKey` names the object).
    #[arg(long)]
    pub object: ObjectType,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The demo account: the in-process mock after the bundled sample stream.
    #[arg(long)]
    pub demo: bool,
    /// The plugin component (default: the one built with this binary).
    #[arg(long)]
    pub plugin: Option<PathBuf>,
    /// Send every request to this loopback origin instead (e.g. a `host-test mock-zendesk`).
    #[arg(long, value_name = "http://127.0.0.1:PORT", conflicts_with = "demo")]
    pub zendesk_origin: Option<LoopbackOrigin>,
    /// Where an OAuth tenant's tokens are kept (as for `run`), sealed with CDP_CREDENTIAL_KEY.
    #[arg(long, value_name = "FILE", conflicts_with = "demo")]
    pub credential_store: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MockArgs {
    /// Loopback address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long)]
    pub listen: SocketAddr,
    /// Inject faults, e.g. "rate=0.3,seed=7,kinds=429|500|503|409|slow,retry_after=1,slow_ms=200".
    #[arg(long)]
    pub faults: Option<Faults>,
    /// On Ctrl-C / SIGTERM, write the final state (JSON) here before exiting.
    #[arg(long, value_name = "FILE")]
    pub state_out: Option<PathBuf>,
    /// Accounts have bulk user import enabled (Zendesk's default is off: 403).
    #[arg(long)]
    pub bulk_import: bool,
    /// Bulk jobs stay queued this long before they run, in ms.
    #[arg(long, default_value_t = 0)]
    pub job_delay_ms: u64,
    /// Every API answer waits this long, in ms, as a real account's would (50 to 300 ms).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// How far each answer's wait varies around `--latency-ms`, in percent.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub jitter_pct: u32,
    /// Registers an OAuth client on an account (repeatable): from then on its bearer tokens
    /// must come from `POST /oauth/tokens` and expire.
    #[arg(long, value_name = "ACCOUNT:CLIENT_ID:CLIENT_SECRET")]
    pub oauth_client: Vec<String>,
    /// Lifetime of the access tokens the OAuth clients get.
    #[arg(long, default_value = "30m", value_parser = destination_host::parse_duration)]
    pub access_ttl: Duration,
    /// Lifetime of their refresh tokens.
    #[arg(long, default_value = "30d", value_parser = destination_host::parse_duration)]
    pub refresh_ttl: Duration,
    /// Writes a first refresh token per OAuth client here (JSON, mode 0600), as a person's
    /// authorization would give: `{"<account>": {"<client id>": "<refresh token>"}}`.
    #[arg(long, value_name = "FILE", requires = "oauth_client")]
    pub oauth_grants: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Tenants, each with its own account and a copy of the stream (interleaved; default 1).
    #[arg(long)]
    pub tenants: Option<usize>,
    /// Events in each tenant's stream (default 10,000).
    #[arg(long)]
    pub events: Option<usize>,
    #[arg(long, default_value_t = 1_000)]
    pub users: usize,
    #[arg(long, default_value_t = 100)]
    pub organizations: usize,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Events per call in the batch modes.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// How long a batch waits to fill, in ms.
    #[arg(long, default_value_t = 20)]
    pub batch_wait_ms: u64,
    /// Events delivered at the same time (default 2; with --latency-ms, `run`'s default).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Real-latency mode instead: `run` (a child process, defaults unless --concurrency)
    /// against the HTTP mock answering after each of these latencies, e.g. 0,50,100,300; the
    /// stream is --events per tenant (default then 30) for --tenants tenants (default then 200).
    #[arg(long, value_delimiter = ',')]
    pub latency_ms: Vec<u64>,
    /// Real-latency mode: also the same stream through this many fleet workers over a real
    /// nats-server, per row (default 1,2 when nats-server is installed; 0 for none).
    #[arg(long, value_delimiter = ',')]
    pub workers: Vec<usize>,
    /// Print the figures as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// The plugin component (default: the one built with this binary).
    #[arg(long)]
    pub plugin: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The plugin component (default: the one built with this binary).
    #[arg(long)]
    pub plugin: Option<PathBuf>,
}

/// Parses the command line, runs the command, and maps the result to the exit status:
/// 0 success, 1 some events were dead-lettered, 2 usage or setup error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_diagnostics(&cli);
    let result = match cli.command {
        Command::Demo(args) => demo::run_demo(&DemoOptions {
            plugin: args.plugin,
            events: args.events,
            batching: args.batch.batching(),
        }),
        Command::Run(args) => run_stream(args, cli.log_format),
        Command::Produce(args) => fleet(FleetCommand::Produce(args), Target::Zendesk),
        Command::Worker(args) => target_for(args.zendesk_origin)
            .and_then(|target| fleet(FleetCommand::Worker(args.fleet), target)),
        Command::DeadLetters(args) => fleet(FleetCommand::DeadLetters(args), Target::Zendesk),
        Command::Authorize(args) => target_for(args.zendesk_origin)
            .and_then(|target| fleet(FleetCommand::Authorize(args.fleet), target)),
        Command::Fields(args) => list_fields(args),
        Command::MockZendesk(args) => serve_mock(args),
        Command::Describe(args) => describe(args),
        Command::ManifestSchema => manifest_schema(),
        Command::Bench(args) => bench(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(USAGE_ERROR)
        }
    }
}

fn read(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))
}

fn run_stream(args: RunArgs, log_format: LogFormat) -> Result<u8> {
    let mock = args.mock.then(MockZendesk::new);
    if let (Some(mock), true) = (&mock, args.mock_bulk_import) {
        mock.set_default_bulk(BulkSettings {
            user_import: true,
            ..BulkSettings::default()
        });
    }
    let target = match &mock {
        Some(mock) => Target::Mock(mock.clone()),
        None => target_for(args.zendesk_origin)?,
    };
    let mut options = RunOptions::new(read(&args.tenants, "tenants")?, "", target);
    options.events = match args.events.to_str() {
        Some("-") => EventSource::Stdin,
        _ => EventSource::File(args.events.clone()),
    };
    options.plugin = PluginSource::File(plugin_path(&args.plugin)?);
    options.watch = args.watch;
    options.trace = args.trace;
    options.dead_letter = args.dead_letter;
    options.summary_json = args.summary_json;
    options.credential_store = args.credential_store;
    options.credential_key = destination_host::credentials::CredentialKey::from_env()?;
    options.concurrency = args.concurrency as usize;
    options.per_tenant = args.per_tenant as usize;
    options.batching = args.batch.batching();
    options.retry = RetryPolicy {
        retry_for: args.retry_for,
        ..RetryPolicy::default()
    };
    options.progress = true;
    // Ctrl-C or SIGTERM drains (the calls in flight finish, the rest is accounted for and the
    // summary written); a second one exits at once.
    let interrupt = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&interrupt);
    ctrlc::set_handler(move || {
        if flag.swap(true, std::sync::atomic::Ordering::Relaxed) {
            std::process::exit(130);
        }
    })
    .context("cannot install the Ctrl-C handler")?;
    options.interrupt = Some(interrupt);
    let summary = runner::run(options)?;
    if let Some(mock) = &mock {
        print_stdout(&runner::state_view::render_mock_state(mock));
    }
    match log_format {
        LogFormat::Text => eprint!("{}", summary.render()),
        // One format per stream: the summary is a JSON line too.
        LogFormat::Json => eprintln!("{}", serde_json::json!({ "summary": summary })),
    }
    Ok(summary.exit_code())
}

/// A fleet command, as the production binary runs it, with the test host's defaults: the plugin
/// built with this binary, and its routing headers stripped.
fn fleet(command: FleetCommand, target: Target) -> Result<u8> {
    let setup = Setup {
        transport: runner::transport_for(&target),
        runtime: runner::runtime_options(1),
        default_origins: crate::zendesk_origins(),
        default_plugin: Some(plugin_path(&None)?),
    };
    destination_fleet::cli::run(command, setup)
}

/// Real Zendesk, or the loopback origin, once it is known to speak the scheme it was given
/// (a mismatch would otherwise cost each request its whole timeout).
fn target_for(origin: Option<LoopbackOrigin>) -> Result<Target> {
    match origin {
        None => Ok(Target::Zendesk),
        Some(origin) => {
            origin.check_scheme().map_err(|e| anyhow::anyhow!(e))?;
            Ok(Target::Loopback(origin))
        }
    }
}

fn list_fields(args: FieldsArgs) -> Result<u8> {
    let plugin = plugin_path(&args.plugin)?;
    let (tenants_json, tenant, target) = if args.demo {
        let (mock, tenants) = fields::demo_account(plugin.clone())?;
        (tenants, demo::TENANT_ID.to_string(), Target::Mock(mock))
    } else {
        let path = args.tenants.context("--tenants is required")?;
        let target = target_for(args.zendesk_origin)?;
        let tenant = args.tenant.context("--tenant is required")?;
        (read(&path, "tenants")?, tenant, target)
    };
    let listed = fields::list(&fields::FieldsOptions {
        tenants_json,
        tenant,
        object: args.object,
        plugin,
        target,
        credential_store: args.credential_store,
    })?;
    let text = match args.json {
        true => fields::render_json(&listed)?,
        false => fields::render_table(&listed),
    };
    print_stdout(&text);
    Ok(0)
}

/// The fleet rows of the real-latency bench: as asked, else 1 and 2 workers if nats-server is
/// installed.
fn fleet_rows(asked: &[usize]) -> Vec<usize> {
    match asked {
        [] if crate::nats::installed() => vec![1, 2],
        [] => {
            eprintln!("no fleet rows: nats-server is not installed");
            Vec::new()
        }
        asked => asked.iter().copied().filter(|&n| n > 0).collect(),
    }
}

fn bench(args: BenchArgs) -> Result<u8> {
    if !args.latency_ms.is_empty() {
        let options = crate::bench::latency::LatencyOptions {
            plugin: plugin_path(&args.plugin)?,
            latencies_ms: args.latency_ms.clone(),
            tenants: args.tenants.unwrap_or(200),
            events_per_tenant: args.events.unwrap_or(30),
            concurrency: args.concurrency,
            workers: fleet_rows(&args.workers),
        };
        let rows = crate::bench::latency::run(&options)?;
        match args.json {
            true => print_stdout(&format!("{}\n", serde_json::to_string_pretty(&rows)?)),
            false => print_stdout(&crate::bench::latency::table(&rows)),
        }
        return Ok(0);
    }
    if args.batch_size < 2 {
        bail!("--batch-size must be at least 2 (the batch modes compare against one per call)");
    }
    let options = crate::bench::BenchOptions {
        plugin: plugin_path(&args.plugin)?,
        tenants: args.tenants.unwrap_or(1),
        stream: mock_zendesk::workload::StandardStream {
            events: args.events.unwrap_or(10_000),
            users: args.users,
            organizations: args.organizations,
            seed: args.seed,
        },
        batching: Batching {
            size: args.batch_size,
            wait: Duration::from_millis(args.batch_wait_ms),
        },
        concurrency: args.concurrency.unwrap_or(2).max(1),
    };
    let report = crate::bench::run(&options)?;
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&report)?));
    } else {
        print_stdout(&report.table());
    }
    Ok(0)
}

fn serve_mock(args: MockArgs) -> Result<u8> {
    if !args.listen.ip().is_loopback() {
        bail!(
            "refusing to listen on {}: the mock Zendesk only serves loopback addresses (127.0.0.1, ::1)",
            args.listen
        );
    }
    let mock = MockZendesk::with_faults(args.faults.unwrap_or_else(Faults::none));
    mock.set_default_bulk(BulkSettings {
        user_import: args.bulk_import,
        job_delay: Duration::from_millis(args.job_delay_ms),
        ..BulkSettings::default()
    });
    let mut grants = serde_json::Map::new();
    for client in &args.oauth_client {
        let [account, id, secret] = client.splitn(3, ':').collect::<Vec<_>>()[..] else {
            bail!("--oauth-client takes ACCOUNT:CLIENT_ID:CLIENT_SECRET");
        };
        mock.register_oauth_client(
            account,
            mock_zendesk::OAuthClient {
                id: id.to_string(),
                secret: secret.to_string(),
                access_ttl: args.access_ttl,
                refresh_ttl: args.refresh_ttl,
            },
        );
        let token = mock.grant_refresh_token(account, id).unwrap_or_default();
        let entry = grants
            .entry(account)
            .or_insert_with(|| serde_json::json!({}));
        entry[id] = token.into();
    }
    if let Some(path) = &args.oauth_grants {
        write_private(path, &serde_json::to_string_pretty(&grants)?)?;
    }
    let latency = mock_zendesk::server::Latency {
        base: Duration::from_millis(args.latency_ms),
        jitter_pct: args.jitter_pct,
    };
    let server = mock_zendesk::server::serve_with_latency(mock.clone(), args.listen, latency)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let (stop_tx, stop_rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .context("cannot install the Ctrl-C handler")?;
    print_stdout(&format!(
        "listening on {addr}\nstate: http://{addr}/__mock/state\n",
        addr = server.addr()
    ));
    // Serves on the server's threads until Ctrl-C or SIGTERM.
    let _ = stop_rx.recv();
    if let Some(path) = &args.state_out {
        let state = serde_json::to_string_pretty(&mock.state_json())?;
        std::fs::write(path, state).with_context(|| format!("cannot write {}", path.display()))?;
    }
    server.shutdown();
    Ok(0)
}

/// Writes a file only its owner can read (it holds tokens).
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The runtime's own diagnostics (`tracing`: plugin loads, swaps, denials, budget stops) on
/// stderr, at the level of `HOST_TEST_LOG` (default `warn`), like the guests' logs.
/// One subscriber for every line on stderr. The fleet's commands report their life (started,
/// metrics address, draining) at info, so that is their default.
fn init_diagnostics(cli: &Cli) {
    let default = match cli.command {
        Command::Produce(_)
        | Command::Worker(_)
        | Command::DeadLetters(_)
        | Command::Authorize(_) => tracing::Level::INFO,
        _ => tracing::Level::WARN,
    };
    let level = logging::level_from_env(runner::console::LOG_LEVEL_VAR, default);
    logging::init(cli.log_format, level, runner::console::ConsoleWriter);
}

fn manifest_schema() -> Result<u8> {
    let schema = destination_host::Manifest::json_schema();
    print_stdout(&format!("{}\n", serde_json::to_string_pretty(&schema)?));
    Ok(0)
}

fn describe(args: DescribeArgs) -> Result<u8> {
    let runtime = Runtime::new(RuntimeOptions::default())?;
    let path = plugin_path(&args.plugin)?;
    let plugin = runtime
        .load_plugin_file(&path)
        .with_context(|| format!("cannot load the plugin {}", path.display()))?;
    print_stdout(&format!(
        "{}\n",
        serde_json::to_string_pretty(&describe_json(&plugin))?
    ));
    Ok(0)
}

/// The plugin's `description` record under the WIT's names, its settings schema as JSON (not
/// a string in a string), and the contract version it implements.
pub fn describe_json(plugin: &destination_host::Plugin) -> serde_json::Value {
    let description = plugin.description();
    let schema: serde_json::Value = serde_json::from_str(&description.settings_schema)
        .unwrap_or_else(|_| description.settings_schema.clone().into());
    serde_json::json!({
        "name": description.name,
        "version": description.version,
        "contract-version": plugin.contract_version(),
        "event-types": description.event_types,
        "max-batch-size": description.max_batch_size,
        "settings-schema": schema,
    })
}
