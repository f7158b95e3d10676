//! Host bindings of the WIT contract, and conversions from its types to the host's report types.

use super::plugin::Description;
use super::report::{GuestError, Operation, Outcome};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "destination-plugin",
});

pub use cdp::destination::{cache as wit_cache, http_fetch as wit_http, log as wit_log};
pub use exports::cdp::destination::destination as wit_destination;

impl From<wit_destination::Outcome> for Outcome {
    fn from(outcome: wit_destination::Outcome) -> Outcome {
        Outcome {
            operations: outcome
                .operations
                .into_iter()
                .map(|op| Operation {
                    method: op.method,
                    path: op.path,
                    status: op.status,
                })
                .collect(),
            skipped: outcome.skipped,
        }
    }
}

impl From<wit_destination::Error> for GuestError {
    fn from(error: wit_destination::Error) -> GuestError {
        use wit_destination::Error as E;
        match error {
            E::InvalidConfig(m) => GuestError::InvalidConfig(m),
            E::InvalidEvent(m) => GuestError::InvalidEvent(m),
            E::UnsupportedEvent(m) => GuestError::UnsupportedEvent(m),
            E::Retryable(retry) => GuestError::Retryable {
                message: retry.message,
                retry_after_seconds: retry.retry_after_seconds,
            },
            E::Rejected(rejection) => GuestError::Rejected {
                status: rejection.status,
                message: rejection.message,
            },
        }
    }
}

impl From<wit_destination::Description> for Description {
    fn from(d: wit_destination::Description) -> Description {
        Description {
            name: d.name,
            version: d.version,
            event_types: d.event_types,
            settings_schema: d.settings_schema,
        }
    }
}
