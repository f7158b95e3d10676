//! Following a plugin file: file-system notifications (inotify, FSEvents...) through `notify`'s
//! debouncer, with polling as the fallback where notifications are unavailable.
//!
//! A change is loaded once the file has stayed quiet for the debounce period, so a writer that
//! writes in pieces is seen once, complete. Writers should still replace the file atomically
//! (write a temp file in the same directory, then rename it over the plugin); a half-written
//! file that slips through fails to load and is rejected, and the old version keeps serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use notify::{PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{
    Config, DebounceEventResult, DebouncedEventKind, Debouncer, new_debouncer_opt,
};

use crate::error::HostError;
use crate::hot_swap::{PluginSlot, SwapEvent};
use crate::runtime::Runtime;

/// How long a change must stay quiet before it is loaded.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// How often the polling fallback looks at the file.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Watches until dropped.
pub struct WatchHandle {
    _watcher: Backend,
}

// The debouncers are held for their Drop, which stops watching.
#[allow(dead_code)]
enum Backend {
    Notify(Debouncer<RecommendedWatcher>),
    Poll(Debouncer<PollWatcher>),
}

impl WatchHandle {
    /// `notify` or `polling`: how the file is being watched.
    pub fn mode(&self) -> &'static str {
        match self._watcher {
            Backend::Notify(_) => "notify",
            Backend::Poll(_) => "polling",
        }
    }
}

/// Watches `path` and reloads `slot` from it whenever it changed and then stayed quiet for the
/// debounce period. Every outcome is reported through `on_event`. Uses file-system
/// notifications, or polling where they cannot be set up; fails only when neither can.
pub fn watch(
    runtime: Arc<Runtime>,
    slot: Arc<PluginSlot>,
    path: impl Into<PathBuf>,
    on_event: impl Fn(SwapEvent) + Send + Sync + 'static,
) -> Result<WatchHandle, HostError> {
    start(runtime, slot, path.into(), on_event, false)
}

/// [`watch`], but always by polling (for file systems without notifications, e.g. some network
/// mounts).
pub fn watch_polling(
    runtime: Arc<Runtime>,
    slot: Arc<PluginSlot>,
    path: impl Into<PathBuf>,
    on_event: impl Fn(SwapEvent) + Send + Sync + 'static,
) -> Result<WatchHandle, HostError> {
    start(runtime, slot, path.into(), on_event, true)
}

fn start(
    runtime: Arc<Runtime>,
    slot: Arc<PluginSlot>,
    path: PathBuf,
    on_event: impl Fn(SwapEvent) + Send + Sync + 'static,
    force_polling: bool,
) -> Result<WatchHandle, HostError> {
    let watch_error = |reason: String| HostError::Watch {
        path: path.display().to_string(),
        reason,
    };
    let absolute = std::path::absolute(&path).map_err(|e| watch_error(e.to_string()))?;
    // The directory is watched, not the file: an atomic rename replaces the file's inode.
    let directory = absolute
        .parent()
        .ok_or_else(|| watch_error("the path has no directory".into()))?
        .to_path_buf();
    // Polling would happily watch a directory that does not exist, and never see anything.
    if !directory.is_dir() {
        return Err(watch_error(format!(
            "{} is not a directory",
            directory.display()
        )));
    }
    let on_event = Arc::new(on_event);
    let handler = |path: PathBuf| {
        let mut reloader = Reloader {
            runtime: Arc::clone(&runtime),
            slot: Arc::clone(&slot),
            loaded: fingerprint(&path),
            path,
        };
        let on_event = Arc::clone(&on_event);
        move |result: DebounceEventResult| {
            if let Some(event) = reloader.on_change(result) {
                on_event(event);
            }
        }
    };
    let config = || {
        Config::default()
            .with_timeout(DEBOUNCE)
            .with_batch_mode(false)
            // The poll watcher compares whole-second mtimes: a same-size file replaced within
            // the second it was written is seen only by its contents (ignored by notify).
            .with_notify_config(
                notify::Config::default()
                    .with_poll_interval(POLL_INTERVAL)
                    .with_compare_contents(true),
            )
    };

    if !force_polling {
        let notify =
            new_debouncer_opt::<_, RecommendedWatcher>(config(), handler(absolute.clone()))
                .and_then(|mut debouncer| {
                    debouncer
                        .watcher()
                        .watch(&directory, RecursiveMode::NonRecursive)?;
                    Ok(debouncer)
                });
        match notify {
            Ok(debouncer) => {
                tracing::info!(path = %absolute.display(), "watching the plugin file (notify)");
                return Ok(WatchHandle {
                    _watcher: Backend::Notify(debouncer),
                });
            }
            Err(error) => tracing::warn!(
                path = %absolute.display(),
                "file notifications unavailable ({error}); falling back to polling"
            ),
        }
    }
    let mut debouncer = new_debouncer_opt::<_, PollWatcher>(config(), handler(absolute.clone()))
        .map_err(|e| watch_error(e.to_string()))?;
    debouncer
        .watcher()
        .watch(&directory, RecursiveMode::NonRecursive)
        .map_err(|e| watch_error(e.to_string()))?;
    tracing::info!(path = %absolute.display(), "watching the plugin file (polling)");
    Ok(WatchHandle {
        _watcher: Backend::Poll(debouncer),
    })
}

/// Turns settled changes of the watched file into reloads.
struct Reloader {
    runtime: Arc<Runtime>,
    slot: Arc<PluginSlot>,
    path: PathBuf,
    /// The version last loaded (or seen at start): events that leave it unchanged are ignored.
    loaded: Fingerprint,
}

impl Reloader {
    fn on_change(&mut self, result: DebounceEventResult) -> Option<SwapEvent> {
        let events = match result {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(path = %self.path.display(), "watch error: {error}");
                return None;
            }
        };
        // `AnyContinuous` means "still being written": wait for the quiet `Any`.
        let settled = events
            .iter()
            .any(|e| e.kind == DebouncedEventKind::Any && e.path == self.path);
        let seen = fingerprint(&self.path);
        if !settled || seen.is_none() || seen == self.loaded {
            return None;
        }
        self.loaded = seen;
        Some(match self.slot.reload_from(&self.runtime, &self.path) {
            Ok(report) => SwapEvent::Swapped(report),
            Err(error) => SwapEvent::Rejected {
                path: self.path.clone(),
                reason: error.to_string(),
            },
        })
    }
}

/// What identifies a version of the file without reading it: modification time, length and
/// (on Unix) inode, so an atomic rename is seen even when size and mtime happen to match.
/// `None`: missing or unreadable (e.g. between the unlink and the rename of a writer).
type Fingerprint = Option<(SystemTime, u64, u64)>;

fn fingerprint(path: &Path) -> Fingerprint {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len(), inode(&metadata)))
}

#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}
