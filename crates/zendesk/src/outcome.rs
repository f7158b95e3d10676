//! What `transform` returns: the calls made, or a classified error.

/// One call made to Zendesk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub method: String,
    /// Path and query, e.g. `/api/v2/users/create_or_update`.
    pub path: String,
    pub status: u16,
}

/// The result of an event that did not fail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub operations: Vec<Operation>,
    /// Why the event was deliberately not forwarded, if it was not.
    pub skipped: Option<String>,
}

/// Why an event failed; mirrors the WIT `error` variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    InvalidConfig(String),
    InvalidEvent(String),
    UnsupportedEvent(String),
    Retryable {
        message: String,
        retry_after_seconds: Option<u32>,
    },
    Rejected {
        status: u16,
        message: String,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidConfig(m) => write!(f, "invalid config: {m}"),
            Error::InvalidEvent(m) => write!(f, "invalid event: {m}"),
            Error::UnsupportedEvent(m) => write!(f, "unsupported event: {m}"),
            Error::Retryable {
                message,
                retry_after_seconds: Some(s),
            } => write!(f, "retryable (after {s}s): {message}"),
            Error::Retryable { message, .. } => write!(f, "retryable: {message}"),
            Error::Rejected { status, message } => write!(f, "rejected ({status}): {message}"),
        }
    }
}

impl std::error::Error for Error {}

/// Static facts about the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub name: String,
    pub version: String,
    pub event_types: Vec<String>,
    pub settings_schema: String,
    /// The most events `transform_batch` takes.
    pub max_batch_size: u32,
}

/// What the host needs to know about a valid config; mirrors the WIT `config-facts` record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFacts {
    /// Values for the host's outbound-origin template: `[("subdomain", "acme")]`.
    pub origin_values: Vec<(String, String)>,
    /// Every form the config's credentials take on the wire (the tokens, the Basic base64), for
    /// the host to scrub from logs and errors. Never logged by the guest.
    pub secrets: Vec<String>,
}
