//! What every command shares: finding the plugin and writing to stdout.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};

/// Writes to stdout and flushes. A closed pipe (`host-test demo | head`) quietly drops the rest
/// instead of panicking like `print!` does.
pub fn print_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// `--plugin`, else the component built alongside this binary.
pub fn plugin_path(plugin: &Option<PathBuf>) -> Result<PathBuf> {
    let path = match plugin {
        Some(path) => path.clone(),
        None => crate::embedded::component_path()?,
    };
    if !path.is_file() {
        bail!(
            "plugin component {} not found (pass --plugin PATH to a zendesk.wasm)",
            path.display()
        );
    }
    Ok(path)
}
