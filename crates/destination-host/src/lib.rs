//! An embeddable host for `cdp:destination` plugins: WebAssembly components that forward a
//! customer-data platform's events to a destination's API.
//!
//! One [`Runtime`] per process: one wasmtime Engine (pooling allocator, copy-on-write memory,
//! epoch interruption), one Linker with a minimal WASI (no files, env, sockets) and the
//! contract's imports. Each plugin version is compiled and pre-instantiated once ([`Plugin`]);
//! each call gets a fresh Store with its tenant's [`Limits`], so nothing leaks between calls or
//! tenants. The runtime's promises hold whoever embeds it:
//!
//! - **Outbound policy as data.** A tenant reaches only the origins of its templates (e.g.
//!   `https://{subdomain}.zendesk.com`), filled from the values the plugin reported for the
//!   tenant's config; each value must be one DNS label, so a plugin cannot widen its allow-list.
//!   Hop-by-hop and routing headers the guest sets are stripped.
//! - **Bounded calls.** Memory, CPU time, wall time, request timeout, response size, request
//!   body size, number of requests, log bytes and recorded bytes are per-tenant limits; going
//!   over one ends the call with a classified [`CallError`], and other tenants never notice.
//! - **No credential leaves the runtime.** Every log, fetch record and error in a
//!   [`CallReport`] is scrubbed of the tenant's credentials (and their base64 forms).
//! - **Async calls.** A call runs on a fiber: waiting on the destination (or a timer) it holds
//!   no thread, and busy guest code yields at every epoch tick, so a few threads keep thousands
//!   of calls in flight ([`Runtime::transform_async`] and friends, on tokio; the transport is
//!   async hyper + rustls). The blocking methods ([`Runtime::transform`], ...) are thin wrappers
//!   for threads that are not async ([`bridge`]).
//! - **Hot swap.** [`PluginSlot`] swaps versions atomically; [`watch`] follows a file.
//! - **Contract versions.** Components of `cdp:destination@0.1.0` and `@0.2.0` (frozen) and `@0.3.0` load.
//!
//! # Embedding: load, call, swap
//!
//! ```no_run
//! use std::sync::Arc;
//! use destination_host::{HttpTransport, Limits, PluginSlot, Runtime, RuntimeOptions, Tenant};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = Runtime::new(RuntimeOptions::default())?;
//! let slot = PluginSlot::new(runtime.load_plugin_file("zendesk.wasm".as_ref())?);
//!
//! let limits = Limits::default();
//! runtime.check_limits(&limits)?;
//! let tenant = Tenant::new(
//!     "acme",
//!     r#"{"subdomain": "acme", "email": "admin@acme.com", "apiToken": "..."}"#,
//!     limits,
//!     Arc::new(HttpTransport::new()),
//! )
//! .with_allowed_origins(["https://{subdomain}.zendesk.com".parse()?]);
//!
//! let event = r#"{"type": "identify", "userId": "u1", "traits": {"email": "ann@example.com"}}"#;
//! let report = runtime.transform_async(&slot.current(), &tenant, event).await;
//! match &report.result {
//!     Ok(outcome) => println!("{} calls", outcome.operations.len()),
//!     Err(error) if error.is_retryable() => println!("retry later: {error}"),
//!     Err(error) => println!("dead-letter ({}): {error}", error.class()),
//! }
//!
//! // A new version: loaded off to the side, then swapped in; calls in flight keep theirs.
//! slot.reload_from(&runtime, "zendesk-v2.wasm".as_ref())?;
//! # Ok(())
//! # }
//! ```
//!
//! The crate's `examples/embed.rs` runs the same steps against a real plugin.

pub mod bridge;
mod cache;
mod call_state;
mod contract;
pub mod credentials;
pub mod delivery;
mod engine;
mod error;
mod fetch;
mod hot_swap;
mod imports;
mod limits;
mod logs;
pub mod manifest;
pub mod pacing;
mod permits;
mod plugin;
mod policy;
mod redact;
mod report;
mod retry;
mod runtime;
mod sandbox;
mod tenant;
mod transport;
mod wasi_clock;
mod watch;

// The runtime, plugins and hot swap.
pub use contract::CONTRACT_VERSIONS;
pub use error::HostError;
pub use hot_swap::{PluginSlot, SwapEvent, SwapReport};
pub use plugin::{LoadError, LoadErrorKind, Plugin};
pub use runtime::Runtime;
pub use watch::{WatchHandle, watch, watch_polling};

// Tenants: the manifest, limits, origins, cache.
pub use cache::{CacheStore, TenantCache};
pub use limits::{LimitError, Limits, RuntimeOptions};
pub use manifest::{Manifest, ManifestError, TenantSpec};
pub use policy::{OriginTemplate, TemplateError};
pub use tenant::Tenant;

// What a call returns, already scrubbed of credentials.
pub use redact::{REDACTED, Redactor, redact_headers};
pub use report::{
    BatchResults, CallError, CallReport, ConfigFacts, Description, FetchRecord, FieldInfo,
    GuestError, LogRecord, ObjectType, Operation, Outcome, TrapKind,
};

// Retries: within a call (idempotent requests) and of whole events.
pub use retry::{Decision, RequestRetry, RetryPolicy, Transient, parse_duration};

// How requests leave the sandbox.
#[cfg(feature = "https")]
pub use transport::HttpTransport;
pub use transport::{
    FetchFailure, InboundResponse, NoNetwork, OutboundRequest, Sending, Transport,
};
