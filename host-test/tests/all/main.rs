//! All integration tests in one binary: wasmtime is linked once, not once per file.

mod batch;
mod budgets;
mod common;
mod contract;
mod delivery;
mod demo;
mod economy;
mod embed;
mod errors;
mod faults;
mod fleet;
mod group;
mod hot_swap;
mod identify;
mod legacy;
mod manifest;
mod memberships;
mod missing_user;
mod policy;
mod primary_email;
mod redaction;
mod runner;
mod sandbox;
mod tickets;
mod track;
mod warehouse;
