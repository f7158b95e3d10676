//! Hot swap: load a new plugin version off to the side (compile, pre-instantiate, describe),
//! then replace the serving one atomically. Calls in flight finish on the version they started
//! with; a version that fails to load, or is another plugin altogether, is refused and the old
//! one keeps serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::plugin::{LoadError, LoadErrorKind, Plugin};
use crate::runtime::Runtime;

/// The plugin version currently serving. Readers take a cheap clone per call, without locks.
pub struct PluginSlot {
    current: ArcSwap<Plugin>,
}

/// A successful swap.
#[derive(Clone, Debug)]
pub struct SwapReport {
    pub from_version: String,
    pub to_version: String,
    /// Compile + pre-instantiate + describe time of the new version.
    pub load_time: Duration,
}

/// What the watcher did about a change of the file.
#[derive(Debug)]
pub enum SwapEvent {
    Swapped(SwapReport),
    /// The new file failed to load or was refused; the previous version keeps serving.
    Rejected {
        path: PathBuf,
        reason: String,
    },
}

impl std::fmt::Display for SwapEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SwapEvent::Swapped(report) => write!(
                f,
                "plugin swapped: {} -> {} (loaded in {} ms)",
                report.from_version,
                report.to_version,
                report.load_time.as_millis()
            ),
            SwapEvent::Rejected { path, reason } => write!(
                f,
                "plugin file {} rejected, the old version keeps serving: {reason}",
                path.display()
            ),
        }
    }
}

impl PluginSlot {
    pub fn new(plugin: Plugin) -> PluginSlot {
        PluginSlot {
            current: ArcSwap::from_pointee(plugin),
        }
    }

    /// The serving version (callers keep it for the whole call).
    pub fn current(&self) -> Plugin {
        Plugin::clone(&self.current.load())
    }

    /// Puts `plugin` in service; returns the one it replaced. Refuses a plugin whose
    /// `describe().name` differs from the serving one: a swap replaces a version, never the
    /// destination.
    pub fn swap(&self, plugin: Plugin) -> Result<Plugin, LoadError> {
        let serving = self.current();
        let (from, to) = (&serving.description().name, &plugin.description().name);
        if from != to {
            return Err(LoadError::new(
                LoadErrorKind::NameMismatch,
                format!(
                    "refusing to swap: the new component is plugin `{to}`, but `{from}` is \
                     serving; a hot swap only replaces a version of the same plugin"
                ),
            ));
        }
        let previous = self.current.swap(Arc::new(plugin));
        Ok(Plugin::clone(&previous))
    }

    /// Loads `path` and, only if that fully succeeds, swaps it in.
    pub fn reload_from(&self, runtime: &Runtime, path: &Path) -> Result<SwapReport, LoadError> {
        let plugin = runtime.load_plugin_file(path)?;
        let to_version = plugin.version().to_string();
        let load_time = plugin.load_time();
        let previous = self.swap(plugin).map_err(|error| {
            tracing::warn!(path = %path.display(), "{error}");
            error
        })?;
        tracing::info!(
            from = %previous.version(),
            to = %to_version,
            load_ms = load_time.as_millis() as u64,
            "plugin swapped"
        );
        Ok(SwapReport {
            from_version: previous.version().to_string(),
            to_version,
            load_time,
        })
    }
}
