//! Reference wasmtime host for the Zendesk destination plugin.

pub mod runtime;
