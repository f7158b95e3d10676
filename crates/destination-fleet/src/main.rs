//! `destination-fleet`: delivery from NATS JetStream by any number of workers, in production.
//! `produce` publishes a JSONL stream, `worker` delivers (SIGTERM drains), `dead-letters`
//! lists and replays the failures. Requests go to the tenants' own Zendesk accounts over HTTPS.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use destination_fleet::cli::{self, FleetCommand, Setup};
use destination_fleet::logging::{self, LogFormat};
use destination_fleet::zendesk;
use destination_host::{HttpTransport, RuntimeOptions};

#[derive(Debug, Parser)]
#[command(
    name = "destination-fleet",
    version,
    about = "Delivers CDP events to Zendesk through a plugin component, from NATS JetStream"
)]
struct Cli {
    #[command(subcommand)]
    command: FleetCommand,
    /// Diagnostics on stderr as text lines or JSON lines (level: DESTINATION_FLEET_LOG,
    /// default info).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = logging::level_from_env("DESTINATION_FLEET_LOG", tracing::Level::INFO);
    logging::init(cli.log_format, level, std::io::stderr);
    let setup = Setup {
        transport: Arc::new(HttpTransport::new()),
        runtime: RuntimeOptions {
            rate_limit_headers: zendesk::rate_limit_headers(),
            ..RuntimeOptions::default()
        },
        default_origins: zendesk::origins(),
        default_plugin: None,
    };
    match cli::run(cli.command, setup) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
