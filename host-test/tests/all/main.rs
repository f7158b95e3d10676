//! All integration tests in one binary: wasmtime is linked once, not once per file.

mod absent_user;
mod batch;
mod budgets;
mod channel_source;
mod common;
mod contract;
mod delivery;
mod demo;
mod economy;
mod embed;
mod errors;
mod fairness;
mod faults;
mod fleet;
mod group;
mod hot_swap;
mod identify;
mod in_flight;
mod ingest;
mod legacy;
mod manifest;
mod memberships;
mod oauth;
mod oauth_fleet;

mod policy;
mod primary_email;
mod redaction;
mod runner;
mod sandbox;
mod tickets;
mod track;
mod warehouse;
