//! What a call produced: the plugin's outcome or a classified error, plus what it did on the way.
//! Everything here is returned to the embedder already scrubbed of the tenant's credentials.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::redact::Redactor;

/// Everything the host learned from one call: of `transform` (an [`Outcome`]), or of another
/// export (e.g. `list-fields`: a list of [`FieldInfo`]).
#[derive(Clone, Debug, Serialize)]
pub struct CallReport<T = Outcome> {
    pub tenant: String,
    /// The version (from `describe`) of the plugin that served the call.
    pub plugin_version: String,
    pub result: Result<T, CallError>,
    /// Every outbound request the guest attempted, in order (headers redacted).
    pub fetches: Vec<FetchRecord>,
    /// Guest and host log records of this call.
    pub logs: Vec<LogRecord>,
    pub duration: Duration,
}

impl<T> CallReport<T> {
    /// The same report around `f(result)` (`Ok` values only).
    pub fn map<U>(self, f: impl FnOnce(Result<T, CallError>) -> U) -> CallReport<U> {
        CallReport {
            tenant: self.tenant,
            plugin_version: self.plugin_version,
            result: Ok(f(self.result)),
            fetches: self.fetches,
            logs: self.logs,
            duration: self.duration,
        }
    }
}

impl CallReport<BatchResults> {
    /// One report for several calls that served one batch, given as (events, report) in input
    /// order: a call that failed as a whole fails each of its events.
    pub(crate) fn merge(
        tenant: &crate::Tenant,
        plugin: &crate::Plugin,
        reports: impl Iterator<Item = (usize, CallReport<BatchResults>)>,
    ) -> CallReport<BatchResults> {
        let mut merged = CallReport {
            tenant: tenant.id.clone(),
            plugin_version: plugin.version().to_string(),
            result: Ok(Vec::new()),
            fetches: Vec::new(),
            logs: Vec::new(),
            duration: Duration::ZERO,
        };
        let results = merged.result.as_mut().expect("built as Ok");
        for (events, report) in reports {
            match report.result {
                Ok(part) => results.extend(part),
                Err(error) => results.extend(std::iter::repeat_n(Err(error), events)),
            }
            merged.fetches.extend(report.fetches);
            merged.logs.extend(report.logs);
            merged.duration += report.duration;
        }
        merged
    }
}

/// A destination object a warehouse model syncs to (`list-fields`: contract 0.2.0 knows the
/// first three, 0.3.0 all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectType {
    Users,
    Organizations,
    Tickets,
    OrganizationMemberships,
    TicketComments,
    CustomObjects,
}

impl ObjectType {
    pub const ALL: [ObjectType; 6] = [
        ObjectType::Users,
        ObjectType::Organizations,
        ObjectType::Tickets,
        ObjectType::OrganizationMemberships,
        ObjectType::TicketComments,
        ObjectType::CustomObjects,
    ];

    /// As the config's `objectType` names it.
    pub fn name(self) -> &'static str {
        match self {
            ObjectType::Users => "users",
            ObjectType::Organizations => "organizations",
            ObjectType::Tickets => "tickets",
            ObjectType::OrganizationMemberships => "organization_memberships",
            ObjectType::TicketComments => "ticket_comments",
            ObjectType::CustomObjects => "custom_objects",
        }
    }
}

impl std::str::FromStr for ObjectType {
    type Err = String;

    fn from_str(text: &str) -> Result<ObjectType, String> {
        ObjectType::ALL
            .into_iter()
            .find(|object| object.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = ObjectType::ALL.iter().map(|o| o.name()).collect();
                format!("unknown object type {text:?}: use {}", names.join(", "))
            })
    }
}

/// One field a record of an object type can write (`list-fields`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldInfo {
    /// What a field mapping targets; `None` for fields named by `id` only.
    pub key: Option<String>,
    pub id: Option<u64>,
    pub title: String,
    pub field_type: String,
    /// (name, value) of each choice.
    pub options: Vec<(String, String)>,
    pub required: bool,
    pub active: bool,
    pub custom: bool,
}

/// What the plugin did with an event that did not fail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub operations: Vec<Operation>,
    pub skipped: Option<String>,
}

/// One destination API call reported by the plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Operation {
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum CallError {
    /// The plugin returned a classified error.
    Guest(GuestError),
    /// The sandbox stopped the guest (limit hit, panic, other trap).
    Trap { kind: TrapKind, message: String },
    /// No instance could be created for the call (e.g. resources exhausted).
    Instantiate(String),
    /// The tenant's limits cannot be enforced by this runtime (see [`crate::Limits::validate`]).
    InvalidLimits(String),
    /// The plugin's contract version does not have the export called.
    Unsupported(String),
    /// The tenant's OAuth grant is dead (revoked, expired, refused): a person must
    /// re-authorize the tenant. Never retried.
    Auth(String),
    /// No access token could be had for now (the token endpoint or the store failed).
    AuthUnavailable(String),
}

/// The error variants of the contract, as returned by the plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum GuestError {
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

/// Why the sandbox stopped a guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum TrapKind {
    /// The guest ran longer than `cpu_ms`.
    CpuBudget,
    /// The call took longer than `wall_ms`.
    WallClock,
    /// The guest needed more memory than `memory_mib`.
    Memory,
    /// The guest panicked (Rust panics abort with an `unreachable` trap).
    Panic,
    /// The call logged more than `max_log_kib`.
    LogBudget,
    /// The call attempted more than `max_fetches` requests.
    FetchBudget,
    /// The call's fetch records would exceed `max_recorded_kib`.
    RecordBudget,
    /// A request body was larger than `max_request_kib`.
    RequestSize,
    /// Any other trap.
    Other,
}

impl CallError {
    /// Whether the same event may succeed when retried later. A wall-clock overrun usually means
    /// a slow destination; a CPU overrun or a panic will happen again.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CallError::Guest(GuestError::Retryable { .. })
                | CallError::AuthUnavailable(_)
                | CallError::Trap {
                    kind: TrapKind::WallClock,
                    ..
                }
        )
    }

    /// How long the destination asked to wait before retrying, when it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Guest(GuestError::Retryable {
                retry_after_seconds: Some(seconds),
                ..
            }) => Some(Duration::from_secs(u64::from(*seconds))),
            _ => None,
        }
    }

    /// A short stable name for summaries and dead-letter files.
    pub fn class(&self) -> &'static str {
        match self {
            CallError::Guest(GuestError::InvalidConfig(_)) => "invalid-config",
            CallError::Guest(GuestError::InvalidEvent(_)) => "invalid-event",
            CallError::Guest(GuestError::UnsupportedEvent(_)) => "unsupported-event",
            CallError::Guest(GuestError::Retryable { .. }) => "retryable",
            CallError::Guest(GuestError::Rejected { .. }) => "rejected",
            CallError::Trap { kind, .. } => match kind {
                TrapKind::CpuBudget => "trap-cpu-budget",
                TrapKind::WallClock => "trap-wall-clock",
                TrapKind::Memory => "trap-memory",
                TrapKind::Panic => "trap-panic",
                TrapKind::LogBudget => "trap-log-budget",
                TrapKind::FetchBudget => "trap-fetch-budget",
                TrapKind::RecordBudget => "trap-record-budget",
                TrapKind::RequestSize => "trap-request-size",
                TrapKind::Other => "trap",
            },
            CallError::Instantiate(_) => "instantiate",
            CallError::InvalidLimits(_) => "invalid-limits",
            CallError::Unsupported(_) => "unsupported-export",
            CallError::Auth(_) => "auth",
            CallError::AuthUnavailable(_) => "auth-unavailable",
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Guest(error) => write!(f, "{error}"),
            CallError::Trap { kind, message } => write!(f, "guest stopped ({kind:?}): {message}"),
            CallError::Instantiate(message) => write!(f, "could not instantiate plugin: {message}"),
            CallError::InvalidLimits(message) => write!(f, "invalid tenant limits: {message}"),
            CallError::Unsupported(message) => write!(f, "not supported by the plugin: {message}"),
            CallError::Auth(message) | CallError::AuthUnavailable(message) => {
                write!(f, "authorization: {message}")
            }
        }
    }
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestError::InvalidConfig(m) => write!(f, "invalid config: {m}"),
            GuestError::InvalidEvent(m) => write!(f, "invalid event: {m}"),
            GuestError::UnsupportedEvent(m) => write!(f, "unsupported event: {m}"),
            GuestError::Retryable {
                message,
                retry_after_seconds: Some(seconds),
            } => write!(f, "retryable (retry after {seconds} s): {message}"),
            GuestError::Retryable { message, .. } => write!(f, "retryable: {message}"),
            GuestError::Rejected { status, message } => {
                write!(f, "rejected (status {status}): {message}")
            }
        }
    }
}

impl std::error::Error for CallError {}

/// One outbound request attempted by the guest. Never contains a credential.
#[derive(Clone, Debug, Serialize)]
pub struct FetchRecord {
    pub method: String,
    /// The URL as the guest asked for it.
    pub url: String,
    /// Where it was actually sent (differs under an origin override); `None` when not sent.
    pub sent_to: Option<String>,
    /// Request headers, credentials redacted.
    pub headers: Vec<(String, String)>,
    /// Request body as text (lossy UTF-8).
    pub body: Option<String>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// The host sent this request again within the call (a transient failure of the last send).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resent: bool,
}

/// One log record of a call.
#[derive(Clone, Debug, Serialize)]
pub struct LogRecord {
    pub level: String,
    /// `guest` or `host`.
    pub source: String,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

/// What a valid config tells the host (`validate-config`, contract 0.2.0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigFacts {
    /// Values for the tenant's origin templates, e.g. `("subdomain", "acme")`.
    pub origin_values: Vec<(String, String)>,
    /// Credential forms to scrub from every record.
    pub secrets: Vec<String>,
}

/// A call's result, scrubbed of credentials like the rest of its report.
pub trait Scrub {
    fn scrub(&mut self, redactor: &Redactor);
}

impl Scrub for Outcome {
    fn scrub(&mut self, redactor: &Redactor) {
        for op in &mut self.operations {
            redactor.scrub_in_place(&mut op.path);
        }
        if let Some(skipped) = &mut self.skipped {
            redactor.scrub_in_place(skipped);
        }
    }
}

impl Scrub for Vec<FieldInfo> {
    fn scrub(&mut self, redactor: &Redactor) {
        for field in self {
            let texts = [&mut field.title, &mut field.field_type]
                .into_iter()
                .chain(field.key.as_mut());
            for text in texts {
                redactor.scrub_in_place(text);
            }
            for (name, value) in &mut field.options {
                redactor.scrub_in_place(name);
                redactor.scrub_in_place(value);
            }
        }
    }
}

impl<T: Scrub> CallReport<T> {
    /// Scrubs every text of the report that could carry a credential.
    pub(crate) fn scrub(&mut self, redactor: &Redactor) {
        match &mut self.result {
            Ok(value) => value.scrub(redactor),
            Err(error) => error.scrub(redactor),
        }
        for fetch in &mut self.fetches {
            redactor.scrub_in_place(&mut fetch.url);
            for text in [&mut fetch.sent_to, &mut fetch.body, &mut fetch.error]
                .into_iter()
                .flatten()
            {
                redactor.scrub_in_place(text);
            }
            for (name, value) in &mut fetch.headers {
                redactor.scrub_in_place(name);
                redactor.scrub_in_place(value);
            }
        }
        for log in &mut self.logs {
            redactor.scrub_in_place(&mut log.message);
            for (key, value) in &mut log.fields {
                redactor.scrub_in_place(key);
                redactor.scrub_in_place(value);
            }
        }
    }
}

impl CallError {
    pub(crate) fn scrub(&mut self, redactor: &Redactor) {
        match self {
            CallError::Guest(error) => error.scrub(redactor),
            CallError::Trap { message, .. }
            | CallError::Instantiate(message)
            | CallError::InvalidLimits(message)
            | CallError::Unsupported(message)
            | CallError::Auth(message)
            | CallError::AuthUnavailable(message) => redactor.scrub_in_place(message),
        }
    }
}

impl GuestError {
    pub(crate) fn scrub(&mut self, redactor: &Redactor) {
        match self {
            GuestError::InvalidConfig(message)
            | GuestError::InvalidEvent(message)
            | GuestError::UnsupportedEvent(message)
            | GuestError::Retryable { message, .. }
            | GuestError::Rejected { message, .. } => redactor.scrub_in_place(message),
        }
    }
}

/// What the plugin says about itself (`describe`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Description {
    pub name: String,
    pub version: String,
    pub event_types: Vec<String>,
    pub settings_schema: String,
    /// The most events one `transform-batch` call takes (1 for a 0.1.0 plugin, which has none).
    pub max_batch_size: u32,
}

/// One result per event of a batch call, in input order.
pub type BatchResults = Vec<Result<Outcome, CallError>>;

impl Scrub for BatchResults {
    fn scrub(&mut self, redactor: &Redactor) {
        for result in self {
            match result {
                Ok(outcome) => outcome.scrub(redactor),
                Err(error) => error.scrub(redactor),
            }
        }
    }
}
