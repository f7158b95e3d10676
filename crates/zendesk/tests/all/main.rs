//! All integration tests in one binary: wasmtime is linked once, not once per file.

mod against_mock;
mod audiences;
mod batch;
mod batch_deletes;
mod common;
mod introspection;
mod schema_agrees;
mod warehouse;
mod warehouse_custom_objects;
mod warehouse_matching;
mod warehouse_tags;
