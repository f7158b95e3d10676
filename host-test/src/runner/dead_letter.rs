//! Dead letters: one JSONL line per input line that was not delivered and not skipped, with
//! enough to replay it (the event, or the raw text of a malformed line) and the reason.

use serde::Serialize;
use serde_json::Value;

/// Error class of input lines the runner could not read as an event for a known tenant.
pub const MALFORMED_INPUT: &str = "malformed_input";

#[derive(Debug, Serialize)]
pub struct DeadLetter<'a> {
    pub line: usize,
    pub tenant: Option<&'a str>,
    /// The event as read (absent for malformed lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a Value>,
    /// The raw input text (malformed lines only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<&'a str>,
    pub error_class: &'a str,
    pub error: &'a str,
    /// Delivery attempts made (0 when the event was never sent to the plugin).
    pub attempts: u32,
}

impl<'a> DeadLetter<'a> {
    /// The dead letter of an input line that is not an event of a known tenant.
    pub fn malformed(malformed: &'a super::input::MalformedLine) -> DeadLetter<'a> {
        DeadLetter {
            line: malformed.line,
            tenant: malformed.tenant.as_deref(),
            event: None,
            raw: Some(&malformed.raw),
            error_class: MALFORMED_INPUT,
            error: &malformed.reason,
            attempts: 0,
        }
    }
}
