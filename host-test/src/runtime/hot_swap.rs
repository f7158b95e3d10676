//! Hot swap: load a new plugin version off to the side (compile, pre-instantiate, describe),
//! then replace the serving one atomically. Calls in flight finish on the version they started
//! with; a version that fails to load is rejected and the old one keeps serving.
//!
//! Writers should replace a watched file atomically (write a temp file in the same directory,
//! then rename it over the plugin). Non-atomic writers are handled too: a change is only loaded
//! once the file's size and mtime stayed the same for the debounce period, and a half-written
//! file that still slips through fails to load and is rejected.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::Runtime;
use super::plugin::{LoadError, Plugin};

/// How often the watched file is looked at.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long a change must stay unchanged before it is loaded.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// The plugin version currently serving. Readers take a cheap clone per call.
pub struct PluginSlot {
    current: RwLock<Plugin>,
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
    /// The new file failed to load; the previous version keeps serving.
    Rejected {
        path: PathBuf,
        reason: String,
    },
}

impl PluginSlot {
    pub fn new(plugin: Plugin) -> PluginSlot {
        PluginSlot {
            current: RwLock::new(plugin),
        }
    }

    /// The serving version (callers keep it for the whole call).
    pub fn current(&self) -> Plugin {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Puts `plugin` in service; returns the one it replaced.
    pub fn swap(&self, plugin: Plugin) -> Plugin {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::replace(&mut *current, plugin)
    }

    /// Loads `path` and, only if that fully succeeds, swaps it in.
    pub fn reload_from(&self, runtime: &Runtime, path: &Path) -> Result<SwapReport, LoadError> {
        let plugin = runtime.load_plugin_file(path)?;
        let to_version = plugin.version().to_string();
        let load_time = plugin.load_time();
        let previous = self.swap(plugin);
        Ok(SwapReport {
            from_version: previous.version().to_string(),
            to_version,
            load_time,
        })
    }
}

/// Stops the watcher thread when dropped.
pub struct WatchHandle {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Watches `path` and reloads `slot` from it whenever it changed and then stayed stable for the
/// debounce period. Every outcome is reported through `on_event`.
pub fn watch(
    runtime: Arc<Runtime>,
    slot: Arc<PluginSlot>,
    path: impl Into<PathBuf>,
    on_event: impl Fn(SwapEvent) + Send + 'static,
) -> WatchHandle {
    let path = path.into();
    let (stop, stopped) = mpsc::channel::<()>();
    // The baseline is read now, not on the new thread: a change made right after `watch`
    // returns must be seen as a change.
    let mut watcher = FileWatcher::new(fingerprint(&path));
    let thread = std::thread::Builder::new()
        .name("plugin-watch".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(POLL_INTERVAL) {
                if watcher.observe(fingerprint(&path), Instant::now()) {
                    let event = match slot.reload_from(&runtime, &path) {
                        Ok(report) => SwapEvent::Swapped(report),
                        Err(error) => SwapEvent::Rejected {
                            path: path.clone(),
                            reason: error.to_string(),
                        },
                    };
                    on_event(event);
                }
            }
        });
    match thread {
        Ok(thread) => WatchHandle {
            stop: Some(stop),
            thread: Some(thread),
        },
        // Without a thread there is nothing to stop; the caller still gets a handle.
        Err(_) => WatchHandle {
            stop: None,
            thread: None,
        },
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

/// Debounce state: decides when a change has settled.
struct FileWatcher {
    /// The fingerprint last loaded (or seen at start).
    loaded: Fingerprint,
    /// A different fingerprint, and since when it has been seen unchanged.
    pending: Option<(Fingerprint, Instant)>,
}

impl FileWatcher {
    fn new(initial: Fingerprint) -> FileWatcher {
        FileWatcher {
            loaded: initial,
            pending: None,
        }
    }

    /// Feeds one observation; true when the file should be (re)loaded now.
    fn observe(&mut self, seen: Fingerprint, now: Instant) -> bool {
        if seen == self.loaded || seen.is_none() {
            self.pending = None;
            return false;
        }
        match self.pending {
            Some((pending, since)) if pending == seen => {
                if now.duration_since(since) >= DEBOUNCE {
                    self.loaded = seen;
                    self.pending = None;
                    true
                } else {
                    false
                }
            }
            _ => {
                self.pending = Some((seen, now));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(seconds: u64, len: u64) -> Fingerprint {
        Some((
            SystemTime::UNIX_EPOCH + Duration::from_secs(seconds),
            len,
            1,
        ))
    }

    #[test]
    fn a_change_is_loaded_once_it_stayed_stable_for_the_debounce() {
        let start = Instant::now();
        let mut watcher = FileWatcher::new(version(1, 10));
        assert!(!watcher.observe(version(1, 10), start));
        assert!(!watcher.observe(version(2, 20), start));
        assert!(!watcher.observe(version(2, 20), start + Duration::from_millis(100)));
        assert!(watcher.observe(version(2, 20), start + DEBOUNCE));
        // Loaded: no reload while it stays the same.
        assert!(!watcher.observe(version(2, 20), start + DEBOUNCE * 3));
    }

    #[test]
    fn a_file_still_being_written_restarts_the_debounce() {
        let start = Instant::now();
        let mut watcher = FileWatcher::new(version(1, 10));
        assert!(!watcher.observe(version(2, 5), start));
        assert!(!watcher.observe(version(3, 15), start + Duration::from_millis(150)));
        assert!(!watcher.observe(version(3, 15), start + Duration::from_millis(300)));
        assert!(watcher.observe(version(3, 15), start + Duration::from_millis(350)));
    }

    #[test]
    fn a_missing_file_is_not_loaded() {
        let start = Instant::now();
        let mut watcher = FileWatcher::new(version(1, 10));
        assert!(!watcher.observe(None, start));
        assert!(!watcher.observe(None, start + DEBOUNCE * 2));
    }
}
