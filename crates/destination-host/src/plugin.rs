//! Loading a plugin: compile, link against the newest contract version it implements,
//! instantiate once to read `describe`.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use crate::call_state::CallState;
use crate::contract::Pre;
use crate::limits::Limits;
use crate::policy::OutboundPolicy;
use crate::report::Description;
use crate::sandbox::run_call;
use crate::tenant::Tenant;
use crate::transport::NoNetwork;

/// Tells loaded plugins apart (a tenant remembers its config facts per plugin).
static NEXT_PLUGIN_ID: AtomicU64 = AtomicU64::new(1);

/// A loaded, pre-instantiated plugin version. Cheap to clone; calls in flight keep theirs.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<LoadedPlugin>,
}

struct LoadedPlugin {
    id: u64,
    pre: Pre,
    description: Description,
    load_time: Duration,
}

impl Plugin {
    pub fn description(&self) -> &Description {
        &self.inner.description
    }

    /// The plugin's own version, as reported by `describe`.
    pub fn version(&self) -> &str {
        &self.inner.description.version
    }

    /// The `cdp:destination` contract version the component implements, e.g. `0.2.0`.
    pub fn contract_version(&self) -> &'static str {
        self.inner.pre.contract_version()
    }

    /// Compile + pre-instantiate + describe time.
    pub fn load_time(&self) -> Duration {
        self.inner.load_time
    }

    pub(crate) fn id(&self) -> u64 {
        self.inner.id
    }

    pub(crate) fn pre(&self) -> &Pre {
        &self.inner.pre
    }
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.description.name)
            .field("version", &self.inner.description.version)
            .field("contract", &self.contract_version())
            .finish_non_exhaustive()
    }
}

/// Which step of loading (or swapping) failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// The file could not be read.
    Io,
    /// Not a WebAssembly component (garbage, truncated, a core module...).
    InvalidComponent,
    /// A component, but not one of a `cdp:destination` contract version this host links.
    IncompatibleContract,
    /// `describe` trapped or returned nonsense.
    DescribeFailed,
    /// A swap to a component that is another plugin (its `describe().name` differs).
    NameMismatch,
}

/// Why a plugin could not be loaded; the message says what to do about it.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct LoadError {
    kind: LoadErrorKind,
    message: String,
}

impl LoadError {
    pub(crate) fn new(kind: LoadErrorKind, message: impl Into<String>) -> LoadError {
        LoadError {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> LoadErrorKind {
        self.kind
    }
}

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
    let pre = Pre::new(linker, &component).map_err(|error| {
        LoadError::new(
            LoadErrorKind::IncompatibleContract,
            format!(
                "incompatible plugin contract: {error:#} (a plugin must be a component of world \
                 cdp:destination/destination-plugin@0.3.0, @0.2.0 or @0.1.0, exporting \
                 cdp:destination/destination and importing only cdp:destination/* and wasi:*)"
            ),
        )
    })?;
    let description = describe(&pre)?;
    let plugin = Plugin {
        inner: Arc::new(LoadedPlugin {
            id: NEXT_PLUGIN_ID.fetch_add(1, Ordering::Relaxed),
            pre,
            description,
            load_time: started.elapsed(),
        }),
    };
    tracing::info!(
        plugin = %plugin.description().name,
        version = %plugin.version(),
        contract = plugin.contract_version(),
        load_ms = plugin.load_time().as_millis() as u64,
        "plugin loaded"
    );
    Ok(plugin)
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
fn describe(pre: &Pre) -> Result<Description, LoadError> {
    let loader = Tenant::new(
        "(plugin loader)",
        "{}",
        Limits::default(),
        Arc::new(NoNetwork),
    );
    let state = CallState::new(
        &loader,
        Arc::new(OutboundPolicy::deny_all(&loader.id)),
        Arc::new(crate::limits::RuntimeOptions::default()),
    );
    // Loading blocks anyway (compiling takes a CPU for a while): describe on the bridge.
    let output = crate::bridge::block_on(run_call(pre, state, async |instance, store| {
        instance.describe(store).await
    }));
    let description = output.result.map_err(|error| {
        LoadError::new(
            LoadErrorKind::DescribeFailed,
            format!("the plugin's describe() failed: {error}"),
        )
    })?;
    if description.name.trim().is_empty() || description.version.trim().is_empty() {
        return Err(LoadError::new(
            LoadErrorKind::DescribeFailed,
            "the plugin's describe() returned an empty name or version",
        ));
    }
    Ok(description)
}
