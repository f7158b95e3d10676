//! Embedding the host: load a plugin, call it for a tenant, swap in a new version.
//!
//! `cargo run -p destination-host --example embed -- zendesk.wasm zendesk-v2.wasm` sends one
//! identify to the real `acme.zendesk.com` (it fails there without real credentials: the report
//! says why). The reference host's tests run the same `embed` function against the mock.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use destination_host::{
    CallReport, HttpTransport, Limits, PluginSlot, Runtime, RuntimeOptions, Tenant, Transport,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [plugin, next_version] = args.as_slice() else {
        return Err("usage: embed PLUGIN.wasm NEXT_VERSION.wasm".into());
    };
    let reports = embed(
        plugin.as_ref(),
        next_version.as_ref(),
        Arc::new(HttpTransport::new()),
    )
    .await?;
    for report in reports {
        println!(
            "{} {}: {:?}",
            report.tenant, report.plugin_version, report.result
        );
    }
    Ok(())
}

/// Loads `plugin`, delivers one event for tenant `acme`, swaps to `next_version`, delivers
/// another. Returns both reports. Calls are async: one waiting on Zendesk holds no thread, so a
/// few threads keep thousands in flight (`Runtime::transform` is the same call, blocking).
pub async fn embed(
    plugin: &Path,
    next_version: &Path,
    transport: Arc<dyn Transport>,
) -> Result<Vec<CallReport>, Box<dyn Error>> {
    // One runtime per process; share it between tasks and threads.
    let runtime = Runtime::new(RuntimeOptions::default())?;
    // Compile, link and describe once; calls share the result. Compiling keeps a core busy for
    // a while: a busy service does it in `spawn_blocking`.
    let slot = PluginSlot::new(runtime.load_plugin_file(plugin)?);

    // A tenant: its config, its limits, the origins it may reach and how requests are sent.
    let limits = Limits::default();
    runtime.check_limits(&limits)?;
    let config = r#"{"subdomain": "acme", "email": "admin@acme.com", "apiToken": "s3cr3t-t0ken"}"#;
    let tenant = Tenant::new("acme", config, limits, transport)
        .with_allowed_origins(["https://{subdomain}.zendesk.com".parse()?]);

    // Call: each call runs in a fresh sandbox; the report is already free of credentials.
    let identify = r#"{"type": "identify", "userId": "u1",
                       "traits": {"name": "Ann", "email": "ann@example.com"}}"#;
    let first = runtime
        .transform_async(&slot.current(), &tenant, identify)
        .await;

    // Swap: the new version is loaded off to the side, then replaces the old one atomically.
    let swap = slot.reload_from(&runtime, next_version)?;
    println!("swapped {} -> {}", swap.from_version, swap.to_version);
    let track = r#"{"type": "track", "userId": "u1", "event": "Signed Up"}"#;
    let second = runtime
        .transform_async(&slot.current(), &tenant, track)
        .await;
    Ok(vec![first, second])
}
