//! Reference wasmtime host for the Zendesk destination plugin.

pub mod cli;
pub mod demo;
pub mod runner;
pub mod runtime;
