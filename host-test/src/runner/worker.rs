//! Delivering one tenant's events, in order, with retries; and reporting each line's fate.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::EventObserver;
use super::console::Console;
use super::dead_letter::{DeadLetter, MALFORMED_INPUT};
use super::input::{EventLine, MalformedLine};
use super::jsonl::JsonlFile;
use super::retry::{RetryPolicy, SystemBackoff, with_retries};
use super::summary::{Disposition, LineResult, Summary};
use super::trace::TraceLine;
use destination_host::{CallError, FetchRecord, GuestError, PluginSlot, Runtime, Tenant};

/// One tenant's share of the stream.
pub(super) struct TenantWork {
    pub tenant: Tenant,
    pub events: Vec<EventLine>,
}

/// State shared by the worker threads.
pub(super) struct RunContext {
    pub runtime: Arc<Runtime>,
    pub slot: Arc<PluginSlot>,
    pub retry: RetryPolicy,
    pub console: Console,
    pub trace: Option<JsonlFile>,
    pub dead_letters: Option<JsonlFile>,
    pub summary: Mutex<Summary>,
    pub on_event: Option<EventObserver>,
}

/// What happened to one event line (given to [`EventObserver`]s, e.g. the demo's printout).
#[derive(Clone, Debug, Serialize)]
pub struct EventReport {
    pub line: usize,
    pub tenant: String,
    pub event_type: String,
    pub event_name: Option<String>,
    pub disposition: Disposition,
    pub attempts: u32,
    /// The plugin version that served the last attempt (None when the plugin was not called).
    pub plugin_version: Option<String>,
    /// The HTTP requests of the last attempt.
    pub calls: Vec<HttpCall>,
}

/// One request of the plugin, as shown to people: `POST /api/v2/users/create_or_update -> 201`.
#[derive(Clone, Debug, Serialize)]
pub struct HttpCall {
    pub method: String,
    /// Path and query, without scheme and host.
    pub path: String,
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl HttpCall {
    fn from_fetch(fetch: &FetchRecord) -> HttpCall {
        HttpCall {
            method: fetch.method.clone(),
            path: path_and_query(&fetch.url),
            status: fetch.status,
            error: fetch.error.clone(),
        }
    }
}

impl std::fmt::Display for HttpCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.status, &self.error) {
            (Some(status), _) => write!(f, "{} {} -> {status}", self.method, self.path),
            (None, Some(error)) => write!(f, "{} {} -> failed: {error}", self.method, self.path),
            (None, None) => write!(f, "{} {} -> no response", self.method, self.path),
        }
    }
}

/// `https://host/a/b?c` -> `/a/b?c` (the URL unchanged when it is not absolute).
fn path_and_query(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) if uri.scheme().is_some() => uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string()),
        _ => url.to_string(),
    }
}

impl RunContext {
    pub fn deliver_tenant(&self, work: TenantWork) {
        // Checked once before the tenant's first event: a tenant with a bad config dead-letters
        // its events without calling the plugin for each of them.
        let config_error = self
            .runtime
            .validate_config(&self.slot.current(), &work.tenant)
            .err();
        for event in &work.events {
            let (disposition, attempts, calls, report) = match &config_error {
                Some(error) => {
                    let disposition = self.dead_letter_event(event, error, 0);
                    (disposition, 0, 0, (None, Vec::new()))
                }
                None => self.deliver_event(&work.tenant, event),
            };
            let event_type = event.event_type();
            self.record(&LineResult {
                tenant: Some(&event.tenant),
                event_type: Some(&event_type),
                disposition: &disposition,
                attempts,
                zendesk_calls: calls,
            });
            if let Some(observer) = &self.on_event {
                let (plugin_version, fetches) = report;
                observer(&EventReport {
                    line: event.line,
                    tenant: event.tenant.clone(),
                    event_type,
                    event_name: event.event_name().map(str::to_string),
                    disposition,
                    attempts,
                    plugin_version,
                    calls: fetches.iter().map(HttpCall::from_fetch).collect(),
                });
            }
        }
    }

    /// Returns the disposition, the attempts, the HTTP requests made over all attempts, and the
    /// plugin version + requests of the last attempt.
    #[allow(clippy::type_complexity)]
    fn deliver_event(
        &self,
        tenant: &Tenant,
        event: &EventLine,
    ) -> (Disposition, u32, u64, (Option<String>, Vec<FetchRecord>)) {
        let event_json = event.event.to_string();
        let mut calls = 0u64;
        let mut last = (None, Vec::new());
        let retry_hint = |error: &CallError| error.is_retryable().then(|| error.retry_after());
        let (result, attempts) = with_retries(&self.retry, &SystemBackoff, retry_hint, |attempt| {
            // Taken per attempt, so a hot swap applies from the next call on.
            let plugin = self.slot.current();
            let report = self.runtime.transform(&plugin, tenant, &event_json);
            calls += report.fetches.len() as u64;
            if let Some(trace) = &self.trace {
                for fetch in &report.fetches {
                    trace.append(&TraceLine::new(&tenant.id, event.line, attempt, fetch));
                }
            }
            self.console.logs(&tenant.id, event.line, &report.logs);
            if let Err(error) = &report.result
                && error.is_retryable()
            {
                self.console
                    .logs(&tenant.id, event.line, &[retry_log(attempt, error)]);
            }
            last = (Some(report.plugin_version), report.fetches);
            report.result
        });
        let disposition = match result {
            Ok(outcome) => match outcome.skipped {
                Some(reason) => Disposition::Skipped { reason },
                None => Disposition::Delivered,
            },
            Err(CallError::Guest(GuestError::UnsupportedEvent(reason))) => {
                Disposition::Skipped { reason }
            }
            Err(error) => self.dead_letter_event(event, &error, attempts),
        };
        (disposition, attempts, calls, last)
    }

    fn dead_letter_event(
        &self,
        event: &EventLine,
        error: &CallError,
        attempts: u32,
    ) -> Disposition {
        let message = error.to_string();
        self.console.line(&format!(
            "line {} ({}): dead-lettered after {attempts} attempt(s) ({}): {message}",
            event.line,
            event.tenant,
            error.class()
        ));
        self.dead_letter(&DeadLetter {
            line: event.line,
            tenant: Some(&event.tenant),
            event: Some(&event.event),
            raw: None,
            error_class: error.class(),
            error: &message,
            attempts,
        });
        Disposition::DeadLettered {
            error_class: error.class().to_string(),
            error: message,
        }
    }

    /// Dead-letters an input line that is not an event of a known tenant.
    pub fn dead_letter_malformed(&self, malformed: &MalformedLine) {
        self.console.line(&format!(
            "line {}: dead-lettered ({MALFORMED_INPUT}): {}",
            malformed.line, malformed.reason
        ));
        self.dead_letter(&DeadLetter {
            line: malformed.line,
            tenant: malformed.tenant.as_deref(),
            event: None,
            raw: Some(&malformed.raw),
            error_class: MALFORMED_INPUT,
            error: &malformed.reason,
            attempts: 0,
        });
        self.record(&LineResult {
            tenant: malformed.tenant.as_deref(),
            event_type: None,
            disposition: &Disposition::DeadLettered {
                error_class: MALFORMED_INPUT.to_string(),
                error: malformed.reason.clone(),
            },
            attempts: 0,
            zendesk_calls: 0,
        });
    }

    fn dead_letter(&self, letter: &DeadLetter<'_>) {
        if let Some(file) = &self.dead_letters {
            file.append(letter);
        }
    }

    fn record(&self, result: &LineResult<'_>) {
        self.summary
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .record(result);
        self.console.advance();
    }
}

/// An info-level host record for a failed attempt (shown with HOST_TEST_LOG=info or lower).
fn retry_log(attempt: u32, error: &CallError) -> destination_host::LogRecord {
    destination_host::LogRecord {
        level: "info".into(),
        source: "host".into(),
        message: format!("attempt {attempt} failed with a retryable error: {error}"),
        fields: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cut_from_urls() {
        assert_eq!(
            path_and_query("https://acme.zendesk.com/api/v2/users/search?query=a%40b"),
            "/api/v2/users/search?query=a%40b"
        );
        assert_eq!(path_and_query("http://127.0.0.1:9/"), "/");
        assert_eq!(path_and_query("https://acme.zendesk.com"), "/");
        assert_eq!(path_and_query("/relative"), "/relative");
    }
}
