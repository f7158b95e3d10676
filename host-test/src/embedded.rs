//! The Zendesk component built with this binary, inside it: the binary runs from any directory
//! on any machine, without the build tree. Loaders and `--watch` want a file, so the bytes are
//! written once per content to the user's cache directory (mode 0700) and checked byte for
//! byte before every use.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};

/// The component's bytes.
pub const COMPONENT: &[u8] = include_bytes!(env!("ZENDESK_WASM"));

/// A file with exactly [`COMPONENT`]'s bytes.
pub fn component_path() -> Result<PathBuf> {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PATH.get_or_init(|| write_once().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("cannot write the embedded plugin component: {e}"))
}

fn write_once() -> Result<PathBuf> {
    let directory = cache_directory();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&directory)
        .with_context(|| format!("cannot create {}", directory.display()))?;
    let hash = destination_host::delivery::fnv1a64(COMPONENT);
    let path = directory.join(format!("zendesk-{hash:016x}.wasm"));
    if std::fs::read(&path).is_ok_and(|bytes| bytes == COMPONENT) {
        return Ok(path);
    }
    let temp = directory.join(format!("zendesk-{hash:016x}.{}.tmp", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&temp)
        .with_context(|| format!("cannot write {}", temp.display()))?;
    file.write_all(COMPONENT)?;
    file.sync_all()?;
    std::fs::rename(&temp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// `$XDG_CACHE_HOME/host-test`, else `~/.cache/host-test`, else a directory in the temp dir
/// named for this user.
fn cache_directory() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from) {
        Some(cache) if cache.is_absolute() => cache.join("host-test"),
        _ => match home {
            Some(home) if home.is_absolute() => home.join(".cache").join("host-test"),
            _ => std::env::temp_dir().join(format!("host-test-{}", user_id())),
        },
    }
}

/// The user id, from `/proc/self` (no `libc` call needed).
fn user_id() -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_holds_the_embedded_bytes() {
        let path = component_path().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), COMPONENT);
        assert_eq!(component_path().unwrap(), path);
    }
}
