//! Loading a plugin: compile, link against the contract, instantiate once to read `describe`.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::bindings::{DestinationPlugin, DestinationPluginPre};
use super::limits::Limits;
use super::sandbox::run_call;
use super::state::CallState;
use super::tenant::Tenant;
use super::transport::{FetchFailure, InboundResponse, OutboundRequest, Transport};

/// A loaded, pre-instantiated plugin version. Cheap to clone; calls in flight keep theirs.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<LoadedPlugin>,
}

struct LoadedPlugin {
    pre: DestinationPluginPre<CallState>,
    description: Description,
    load_time: Duration,
}

/// What the plugin says about itself (`describe`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Description {
    pub name: String,
    pub version: String,
    pub event_types: Vec<String>,
    pub settings_schema: String,
}

impl Plugin {
    pub fn description(&self) -> &Description {
        &self.inner.description
    }

    /// The plugin's own version, as reported by `describe`.
    pub fn version(&self) -> &str {
        &self.inner.description.version
    }

    /// Compile + pre-instantiate + describe time.
    pub fn load_time(&self) -> Duration {
        self.inner.load_time
    }

    pub(crate) fn pre(&self) -> &DestinationPluginPre<CallState> {
        &self.inner.pre
    }
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.description.name)
            .field("version", &self.inner.description.version)
            .finish_non_exhaustive()
    }
}

/// Which step of loading failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// The file could not be read.
    Io,
    /// Not a WebAssembly component (garbage, truncated, a core module...).
    InvalidComponent,
    /// A component, but not one of the `cdp:destination@0.1.0` contract.
    IncompatibleContract,
    /// `describe` trapped or returned nonsense.
    DescribeFailed,
}

/// Why a plugin could not be loaded; the message says what to do about it.
#[derive(Clone, Debug)]
pub struct LoadError {
    kind: LoadErrorKind,
    message: String,
}

impl LoadError {
    fn new(kind: LoadErrorKind, message: impl Into<String>) -> LoadError {
        LoadError {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> LoadErrorKind {
        self.kind
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LoadError {}

/// Loads `wasm` (component binary; WAT text is not accepted).
pub fn load(engine: &Engine, linker: &Linker<CallState>, wasm: &[u8]) -> Result<Plugin, LoadError> {
    let started = Instant::now();
    // Compilation must never take the host down, whatever the bytes (Zed hit panics here).
    let compiled = catch_unwind(AssertUnwindSafe(|| Component::from_binary(engine, wasm)));
    let component = match compiled {
        Ok(Ok(component)) => component,
        Ok(Err(error)) => {
            return Err(LoadError::new(
                LoadErrorKind::InvalidComponent,
                format!("not a valid WebAssembly component: {error:#}"),
            ));
        }
        Err(_) => {
            return Err(LoadError::new(
                LoadErrorKind::InvalidComponent,
                "not a valid WebAssembly component: the compiler panicked on these bytes",
            ));
        }
    };
    let incompatible = |error: wasmtime::Error| {
        LoadError::new(
            LoadErrorKind::IncompatibleContract,
            format!(
                "incompatible plugin contract: {error:#} (a plugin must be a component of world \
                 cdp:destination/destination-plugin@0.1.0, exporting cdp:destination/destination \
                 and importing only cdp:destination/* and wasi:*)"
            ),
        )
    };
    let instance_pre = linker.instantiate_pre(&component).map_err(incompatible)?;
    let pre = DestinationPluginPre::new(instance_pre).map_err(incompatible)?;
    let description = describe(&pre)?;
    Ok(Plugin {
        inner: Arc::new(LoadedPlugin {
            pre,
            description,
            load_time: started.elapsed(),
        }),
    })
}

pub fn load_file(
    engine: &Engine,
    linker: &Linker<CallState>,
    path: &Path,
) -> Result<Plugin, LoadError> {
    let wasm = std::fs::read(path).map_err(|error| {
        LoadError::new(
            LoadErrorKind::Io,
            format!("cannot read plugin file {}: {error}", path.display()),
        )
    })?;
    load(engine, linker, &wasm).map_err(|error| LoadError {
        message: format!("{}: {}", path.display(), error.message),
        ..error
    })
}

/// Runs `describe` once in a sandbox with default limits and no network.
fn describe(pre: &DestinationPluginPre<CallState>) -> Result<Description, LoadError> {
    let loader = Tenant::new(
        "(plugin loader)",
        "{}",
        Limits::default(),
        Arc::new(NoNetwork),
        None,
    );
    let output = run_call(pre, &loader, |plugin: &DestinationPlugin, store| {
        plugin.cdp_destination_destination().call_describe(store)
    });
    let description: Description = output
        .result
        .map_err(|error| {
            LoadError::new(
                LoadErrorKind::DescribeFailed,
                format!("the plugin's describe() failed: {error}"),
            )
        })?
        .into();
    if description.name.trim().is_empty() || description.version.trim().is_empty() {
        return Err(LoadError::new(
            LoadErrorKind::DescribeFailed,
            "the plugin's describe() returned an empty name or version",
        ));
    }
    Ok(description)
}

/// The loader's transport: `describe` has no business on the network (the policy of an empty
/// config denies everything before this is reached anyway).
struct NoNetwork;

impl Transport for NoNetwork {
    fn send(
        &self,
        _: &OutboundRequest,
        _: Duration,
        _: u64,
    ) -> Result<InboundResponse, FetchFailure> {
        Err(FetchFailure::Connection(
            "no network while loading a plugin".into(),
        ))
    }
}
