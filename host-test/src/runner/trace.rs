//! The HTTP trace: one JSONL line per request the plugin made, across all attempts.

use serde::Serialize;

use destination_host::{FetchRecord, redact_headers};

#[derive(Debug, Serialize)]
pub struct TraceLine<'a> {
    pub tenant: &'a str,
    pub line: usize,
    pub attempt: u32,
    pub method: &'a str,
    pub url: &'a str,
    pub sent_to: Option<&'a str>,
    pub headers: Vec<(String, String)>,
    pub body: Option<&'a str>,
    pub status: Option<u16>,
    pub error: Option<&'a str>,
    pub duration_ms: u64,
}

impl<'a> TraceLine<'a> {
    pub fn new(tenant: &'a str, line: usize, attempt: u32, fetch: &'a FetchRecord) -> Self {
        TraceLine {
            tenant,
            line,
            attempt,
            method: &fetch.method,
            url: &fetch.url,
            sent_to: fetch.sent_to.as_deref(),
            // Already redacted by the runtime; redacting again costs nothing and guards
            // against a runtime regression.
            headers: redact_headers(&fetch.headers),
            body: fetch.body.as_deref(),
            status: fetch.status,
            error: fetch.error.as_deref(),
            duration_ms: fetch.duration_ms,
        }
    }
}
