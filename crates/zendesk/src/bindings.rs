//! The only file that knows about wit-bindgen: adapts the component's imports to [`Host`] and
//! exports the business logic.

use crate::host::{FetchError, Host, HttpRequest, HttpResponse, Level};

wit_bindgen::generate!({
    path: "../../wit",
    world: "destination-plugin",
});

use cdp::destination::{cache, http_fetch, log, timer};
use exports::cdp::destination::destination as wit;

/// The host as seen from inside the component.
struct ComponentHost;

impl Host for ComponentHost {
    fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let request = http_fetch::Request {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            idempotent: request.idempotent,
        };
        match http_fetch::fetch(&request) {
            Ok(r) => Ok(HttpResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(http_fetch::FetchError::Denied(why)) => Err(FetchError::Denied(why)),
            Err(http_fetch::FetchError::Timeout) => Err(FetchError::Timeout),
            Err(http_fetch::FetchError::Connection(why)) => Err(FetchError::Connection(why)),
            Err(http_fetch::FetchError::TooLarge(cap)) => Err(FetchError::TooLarge(cap)),
        }
    }

    fn cache_get(&self, key: &str) -> Option<String> {
        cache::get(key)
    }

    fn cache_set(&self, key: &str, value: &str, ttl_seconds: u32) {
        cache::set(key, value, ttl_seconds)
    }

    fn cache_remove(&self, key: &str) {
        cache::remove(key)
    }

    fn log(&self, level: Level, message: &str, fields: &[(&str, &str)]) {
        let level = match level {
            Level::Trace => log::Level::Trace,
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
            Level::Error => log::Level::Error,
        };
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        log::log(level, message, &fields)
    }

    fn wait(&self, millis: u32) -> bool {
        timer::wait(millis)
    }
}

struct Component;

impl wit::Guest for Component {
    fn transform(config: String, event: String) -> Result<wit::Outcome, wit::Error> {
        crate::transform(&ComponentHost, &config, &event)
            .map(outcome_to_wit)
            .map_err(error_to_wit)
    }

    fn transform_batch(
        config: String,
        events: Vec<String>,
    ) -> Result<Vec<Result<wit::Outcome, wit::Error>>, wit::Error> {
        crate::transform_batch(&ComponentHost, &config, &events)
            .map(|results| {
                results
                    .into_iter()
                    .map(|result| result.map(outcome_to_wit).map_err(error_to_wit))
                    .collect()
            })
            .map_err(error_to_wit)
    }

    fn describe() -> wit::Description {
        let d = crate::describe();
        wit::Description {
            name: d.name,
            version: d.version,
            event_types: d.event_types,
            settings_schema: d.settings_schema,
            max_batch_size: d.max_batch_size,
        }
    }

    fn list_fields(
        config: String,
        object: wit::ObjectType,
    ) -> Result<Vec<wit::FieldInfo>, wit::Error> {
        let object = match object {
            wit::ObjectType::Users => crate::ObjectType::Users,
            wit::ObjectType::Organizations => crate::ObjectType::Organizations,
            wit::ObjectType::Tickets => crate::ObjectType::Tickets,
            wit::ObjectType::OrganizationMemberships => crate::ObjectType::OrganizationMemberships,
            wit::ObjectType::TicketComments => crate::ObjectType::TicketComments,
            wit::ObjectType::CustomObjects => crate::ObjectType::CustomObjects,
        };
        crate::list_fields(&ComponentHost, &config, object)
            .map(|fields| {
                fields
                    .into_iter()
                    .map(|f| wit::FieldInfo {
                        key: f.key,
                        id: f.id,
                        title: f.title,
                        field_type: f.field_type,
                        options: f
                            .options
                            .into_iter()
                            .map(|(name, value)| wit::FieldOption { name, value })
                            .collect(),
                        required: f.required,
                        active: f.active,
                        custom: f.custom,
                    })
                    .collect()
            })
            .map_err(error_to_wit)
    }

    fn validate_config(config: String) -> Result<wit::ConfigFacts, wit::Error> {
        crate::validate_config(&config)
            .map(|facts| wit::ConfigFacts {
                origin_values: facts.origin_values,
                secrets: facts.secrets,
            })
            .map_err(error_to_wit)
    }
}

fn outcome_to_wit(outcome: crate::Outcome) -> wit::Outcome {
    wit::Outcome {
        operations: outcome
            .operations
            .into_iter()
            .map(|op| wit::Operation {
                method: op.method,
                path: op.path,
                status: op.status,
            })
            .collect(),
        skipped: outcome.skipped,
    }
}

fn error_to_wit(error: crate::Error) -> wit::Error {
    match error {
        crate::Error::InvalidConfig(m) => wit::Error::InvalidConfig(m),
        crate::Error::InvalidEvent(m) => wit::Error::InvalidEvent(m),
        crate::Error::UnsupportedEvent(m) => wit::Error::UnsupportedEvent(m),
        crate::Error::Retryable {
            message,
            retry_after_seconds,
        } => wit::Error::Retryable(wit::Retry {
            message,
            retry_after_seconds,
        }),
        crate::Error::Rejected { status, message } => {
            wit::Error::Rejected(wit::Rejection { status, message })
        }
    }
}

export!(Component);
