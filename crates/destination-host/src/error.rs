//! The runtime's own errors (a call's errors are [`crate::CallError`]s in its report).

/// Why the runtime could not be created or a watch could not start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("could not create the wasmtime engine: {0}")]
    Engine(String),
    #[error("could not link the plugin imports: {0}")]
    Linker(String),
    #[error("could not start the {what} thread: {source}")]
    Thread {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("could not watch {path}: {reason}")]
    Watch { path: String, reason: String },
}
