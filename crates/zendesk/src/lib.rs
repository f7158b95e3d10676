//! The Zendesk destination: maps Segment / RudderStack events onto the Zendesk Support API.
//!
//! Everything here is plain Rust over the [`Host`] trait; `bindings.rs` (wasm32 only) adapts the
//! component's imports and exports to it.

pub mod host;
pub mod outcome;

#[cfg(target_arch = "wasm32")]
mod bindings;

pub use host::{FetchError, Host, HttpRequest, HttpResponse, Level};
pub use outcome::{Description, Error, Operation, Outcome};

/// The plugin's version. A build may override it (`ZENDESK_PLUGIN_VERSION`) so that two builds of
/// the same source are told apart, e.g. in hot-swap tests.
pub const VERSION: &str = match option_env!("ZENDESK_PLUGIN_VERSION") {
    Some(version) => version,
    None => env!("CARGO_PKG_VERSION"),
};

/// Forwards one event (JSON) under one destination config (JSON).
pub fn transform(host: &dyn Host, config: &str, event: &str) -> Result<Outcome, Error> {
    let _ = (host, config, event);
    Err(Error::InvalidConfig("not implemented yet".into()))
}

/// Name, version, event types and settings schema.
pub fn describe() -> Description {
    Description {
        name: "zendesk".into(),
        version: VERSION.into(),
        event_types: vec!["identify".into(), "group".into(), "track".into()],
        settings_schema: "{}".into(),
    }
}

/// Checks a config without calling Zendesk.
pub fn validate_config(config: &str) -> Result<(), Error> {
    let _ = config;
    Ok(())
}
