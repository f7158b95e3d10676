//! The dead-letter record: one JSON line per event that was neither delivered nor skipped, with
//! enough to replay it (the event, or the raw text of an unreadable input) and the reason. Every
//! source writes this one format (`run --dead-letter`, the fleet's dead-letter stream).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::report::CallError;

/// Error class of inputs that are not an event of a known tenant.
pub const MALFORMED_INPUT: &str = "malformed-input";
/// Error class of events a source stopped before delivering (Ctrl-C on `run`): delivering
/// them again is all they need.
pub const INTERRUPTED: &str = "interrupted";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The event's line in its input file (0 when it did not come from a file).
    pub line: usize,
    pub tenant: Option<String>,
    /// The event as read (absent for malformed input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
    /// The raw input text (malformed input only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    pub error_class: String,
    pub error: String,
    /// Delivery attempts made (0 when the event never reached the plugin).
    pub attempts: u32,
    /// When it was dead-lettered, in ms since the Unix epoch.
    #[serde(default)]
    pub at_ms: u64,
    /// Where the event came from: its input file, or the subject it was published to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl DeadLetter {
    /// The dead letter of an event that failed for good after `attempts` attempts.
    pub fn of_event(
        line: usize,
        tenant: &str,
        event: &Value,
        error: &CallError,
        attempts: u32,
    ) -> DeadLetter {
        DeadLetter {
            line,
            tenant: Some(tenant.to_string()),
            event: Some(event.clone()),
            raw: None,
            error_class: error.class().to_string(),
            error: error.to_string(),
            attempts,
            at_ms: now_ms(),
            source: None,
        }
    }

    /// This dead letter, naming where its event came from.
    pub fn from_source(mut self, source: &str) -> DeadLetter {
        self.source = Some(source.to_string());
        self
    }

    /// The dead letter of an event its source stopped before it was delivered.
    pub fn interrupted(line: usize, tenant: &str, event: &Value, attempts: u32) -> DeadLetter {
        DeadLetter {
            line,
            tenant: Some(tenant.to_string()),
            event: Some(event.clone()),
            raw: None,
            error_class: INTERRUPTED.to_string(),
            error: "the run was interrupted before this event was delivered: deliver it again"
                .to_string(),
            attempts,
            at_ms: now_ms(),
            source: None,
        }
    }

    /// The dead letter of an input that is not an event of a known tenant (`tenant`: the one it
    /// named, if any; `event`: the event it carried, if any).
    pub fn malformed(
        line: usize,
        tenant: Option<&str>,
        event: Option<&Value>,
        raw: Option<&str>,
        reason: &str,
        attempts: u32,
    ) -> DeadLetter {
        DeadLetter {
            line,
            tenant: tenant.map(str::to_string),
            event: event.cloned(),
            raw: raw.map(str::to_string),
            error_class: MALFORMED_INPUT.to_string(),
            error: reason.to_string(),
            attempts,
            at_ms: now_ms(),
            source: None,
        }
    }
}

/// The event type (`type`, else `action`), lower-cased; "unknown" when absent.
pub fn event_type(event: &Value) -> String {
    ["type", "action"]
        .iter()
        .find_map(|key| event.get(*key).and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| "unknown".into())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}
