//! The wasmtime sandbox that runs destination plugins for many tenants.
//!
//! One [`Runtime`] per process: one Engine (pooling allocator, epoch interruption, a 10 ms epoch
//! ticker), one Linker (minimal WASI + the contract's imports). Each plugin version is compiled
//! and pre-instantiated once ([`Plugin`]); each call gets a fresh Store with the tenant's limits
//! ([`Limits`]), so nothing leaks between calls or tenants.

mod bindings;
mod cache;
mod engine;
mod hot_swap;
mod http;
mod limits;
mod logs;
mod permits;
mod plugin;
mod policy;
mod redact;
mod report;
mod sandbox;
mod state;
mod tenant;
mod transport;

use std::path::Path;

use anyhow::Context;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

pub use cache::TenantCache;
pub use hot_swap::{PluginSlot, SwapEvent, SwapReport, WatchHandle, watch};
pub use limits::{Limits, RuntimeOptions};
pub use plugin::{Description, LoadError, LoadErrorKind, Plugin};
pub use policy::{AllowedUrl, Origin, OutboundPolicy};
pub use redact::{REDACTED, is_secret_header, redact_headers};
pub use report::{
    CallError, CallReport, FetchRecord, GuestError, LogRecord, Operation, Outcome, TrapKind,
};
pub use tenant::Tenant;
pub use transport::{
    FetchFailure, HttpTransport, InboundResponse, MockTransport, OutboundRequest, Transport,
};

use bindings::DestinationPlugin;
use engine::EpochTicker;
use permits::InstancePermits;
use sandbox::run_call;
use state::CallState;

/// The sandbox. `Send + Sync`: share it (e.g. in an `Arc`) between worker threads.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    permits: InstancePermits,
    _ticker: EpochTicker,
}

impl Runtime {
    pub fn new(options: RuntimeOptions) -> anyhow::Result<Runtime> {
        let engine = engine::build_engine(&options)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(anyhow::Error::from)
            .context("could not link WASI")?;
        DestinationPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(anyhow::Error::from)
            .context("could not link the destination imports")?;
        let ticker = EpochTicker::start(engine.clone())?;
        Ok(Runtime {
            engine,
            linker,
            permits: InstancePermits::new(options.max_instances),
            _ticker: ticker,
        })
    }

    /// Compiles, links and describes a plugin (a `wasm32-wasip2` component binary).
    pub fn load_plugin(&self, wasm: &[u8]) -> Result<Plugin, LoadError> {
        // Loading instantiates once (for `describe`): it needs a pool slot like any call.
        let _permit = self.permits.acquire();
        plugin::load(&self.engine, &self.linker, wasm)
    }

    pub fn load_plugin_file(&self, path: &Path) -> Result<Plugin, LoadError> {
        let _permit = self.permits.acquire();
        plugin::load_file(&self.engine, &self.linker, path)
    }

    /// Runs `transform(config, event)` for `tenant` in a fresh sandbox.
    pub fn transform(&self, plugin: &Plugin, tenant: &Tenant, event_json: &str) -> CallReport {
        let _permit = self.permits.acquire();
        let output = run_call(plugin.pre(), tenant, |instance, store| {
            instance
                .cdp_destination_destination()
                .call_transform(store, &tenant.config, event_json)
        });
        CallReport {
            tenant: tenant.id.clone(),
            plugin_version: plugin.version().to_string(),
            result: output.result.and_then(|returned| {
                returned
                    .map(Into::into)
                    .map_err(|e| CallError::Guest(e.into()))
            }),
            fetches: output.fetches,
            logs: output.logs,
            duration: output.duration,
        }
    }

    /// Runs `validate-config(config)` for `tenant` in a fresh sandbox.
    pub fn validate_config(&self, plugin: &Plugin, tenant: &Tenant) -> Result<(), CallError> {
        let _permit = self.permits.acquire();
        let output = run_call(plugin.pre(), tenant, |instance, store| {
            instance
                .cdp_destination_destination()
                .call_validate_config(store, &tenant.config)
        });
        output
            .result
            .and_then(|returned| returned.map_err(|e| CallError::Guest(e.into())))
    }
}
