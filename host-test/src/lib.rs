//! The reference host for the Zendesk destination plugin: the CLI, the demo, the runner and the
//! mock wiring, over the embeddable [`destination_host`] library.

pub mod bench;
pub mod cli;
pub mod demo;
pub mod embedded;
pub mod fields;
pub mod nats;
pub mod output;
pub mod runner;
pub mod transports;

use std::sync::Arc;

use destination_host::{Limits, OriginTemplate, Tenant, Transport};

/// Where a Zendesk tenant's plugin may send requests: its own account, nothing else.
pub const ZENDESK_ORIGIN: &str = destination_fleet::zendesk::ORIGIN;

/// Headers of the reference host's routing layer (the mock server's account header): stripped
/// from every guest request by the runtime.
pub fn routing_headers() -> Vec<String> {
    vec![transports::SUBDOMAIN_HEADER.to_string()]
}

/// The allowed origins of a Zendesk tenant.
pub fn zendesk_origins() -> Vec<OriginTemplate> {
    destination_fleet::zendesk::origins()
}

/// A tenant of the Zendesk plugin: `https://{subdomain}.zendesk.com` is its one allowed origin.
pub fn zendesk_tenant(
    id: impl Into<String>,
    config_json: impl Into<String>,
    limits: Limits,
    transport: Arc<dyn Transport>,
) -> Tenant {
    Tenant::new(id, config_json, limits, transport).with_allowed_origins(zendesk_origins())
}
