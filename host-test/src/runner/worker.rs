//! Delivering events through the delivery core: one attempt at a time per order key, settled
//! by the library's retry policy, and each line's fate reported.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::EventObserver;
use super::console::Console;
use super::dead_letter::{DeadLetter, MALFORMED_INPUT};
use super::input::{EventLine, MalformedLine};
use super::jsonl::JsonlFile;
use super::summary::{Disposition, LineResult, Summary};
use super::trace::TraceLine;
use destination_host::delivery::{KeyedQueue, OrderKey, Settlement, settle};
use destination_host::{CallError, FetchRecord, PluginSlot, RetryPolicy, Runtime, Tenant};

/// Past this much pacing backlog, an event waits in the queue rather than in its call.
const PACING_PARK: Duration = Duration::from_secs(1);

/// One event line on its way: what the queue holds.
pub(super) struct Job {
    pub event: EventLine,
    pub attempts: u32,
    /// When the first attempt started (the retry budget counts from there).
    pub first_attempt: Option<Instant>,
    /// HTTP requests over all attempts so far.
    pub calls: u64,
}

impl Job {
    pub fn new(event: EventLine) -> Job {
        Job {
            event,
            attempts: 0,
            first_attempt: None,
            calls: 0,
        }
    }
}

/// State shared by the worker threads.
pub(super) struct RunContext {
    pub runtime: Arc<Runtime>,
    pub slot: Arc<PluginSlot>,
    pub tenants: HashMap<String, Tenant>,
    pub retry: RetryPolicy,
    pub console: Console,
    pub trace: Option<JsonlFile>,
    pub dead_letters: Option<JsonlFile>,
    pub summary: Mutex<Summary>,
    pub on_event: Option<EventObserver>,
    /// When the last Zendesk request of a delivered or skipped event finished (for the
    /// head-of-line measurement: how long everything but the dead letters took).
    pub last_success: Mutex<Option<Instant>>,
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
    /// Takes events from `queue` until it is closed and empty.
    pub fn work(&self, queue: &KeyedQueue<Job>) {
        while let Some((key, job)) = queue.next() {
            self.attempt(queue, key, job);
        }
    }

    /// One attempt of `job`; then it is finished (delivered, skipped, dead-lettered) or parked
    /// for its retry.
    fn attempt(&self, queue: &KeyedQueue<Job>, key: OrderKey, mut job: Job) {
        let Some(tenant) = self.tenants.get(&job.event.tenant) else {
            unreachable!("the reader only queues events of known tenants");
        };
        let plugin = self.slot.current();
        // Checked before the first attempt (the runtime keeps the answer per tenant and plugin
        // version): a bad config dead-letters without a call.
        if let Err(error) = self.runtime.validate_config(&plugin, tenant) {
            let disposition = self.dead_letter_event(&job.event, &error, job.attempts);
            self.finish(&job, disposition, (None, Vec::new()));
            queue.done(key);
            return;
        }
        // A tenant far behind its account's rate limit: wait out the backlog without holding a
        // sandbox (the key is parked; other tenants keep flowing).
        let backlog = tenant
            .rate
            .backlog(&tenant.id, tenant.limits.requests_per_minute);
        if backlog > PACING_PARK {
            queue.retry(key, job, Instant::now() + backlog);
            return;
        }
        job.attempts += 1;
        let first = *job.first_attempt.get_or_insert_with(Instant::now);
        let event_json = job.event.event.to_string();
        let report = self.runtime.transform(&plugin, tenant, &event_json);
        job.calls += report.fetches.len() as u64;
        if let Some(trace) = &self.trace {
            for fetch in &report.fetches {
                trace.append(&TraceLine::new(
                    &tenant.id,
                    job.event.line,
                    job.attempts,
                    fetch,
                ));
            }
        }
        self.console.logs(&tenant.id, job.event.line, &report.logs);
        let last = (Some(report.plugin_version), report.fetches);
        let failure = report.result.as_ref().err().map(ToString::to_string);
        let settlement = settle(
            report.result,
            job.attempts,
            first.elapsed(),
            &self.retry,
            fastrand::f64(),
        );
        let disposition = match settlement {
            Settlement::RetryAfter(wait) => {
                self.console.logs(
                    &tenant.id,
                    job.event.line,
                    &[retry_log(job.attempts, wait, failure.as_deref())],
                );
                queue.retry(key, job, Instant::now() + wait);
                return;
            }
            Settlement::Delivered(_) => Disposition::Delivered,
            Settlement::Skipped(reason) => Disposition::Skipped { reason },
            Settlement::DeadLetter(error) => {
                self.dead_letter_event(&job.event, &error, job.attempts)
            }
        };
        if !matches!(disposition, Disposition::DeadLettered { .. }) && !last.1.is_empty() {
            *self
                .last_success
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
        }
        self.finish(&job, disposition, last);
        queue.done(key);
    }

    fn finish(
        &self,
        job: &Job,
        disposition: Disposition,
        (plugin_version, fetches): (Option<String>, Vec<FetchRecord>),
    ) {
        let event = &job.event;
        let event_type = event.event_type();
        self.record(&LineResult {
            tenant: Some(&event.tenant),
            event_type: Some(&event_type),
            disposition: &disposition,
            attempts: job.attempts,
            zendesk_calls: job.calls,
        });
        if let Some(observer) = &self.on_event {
            observer(&EventReport {
                line: event.line,
                tenant: event.tenant.clone(),
                event_type,
                event_name: event.event_name().map(str::to_string),
                disposition,
                attempts: job.attempts,
                plugin_version,
                calls: fetches.iter().map(HttpCall::from_fetch).collect(),
            });
        }
    }

    fn dead_letter_event(
        &self,
        event: &EventLine,
        error: &CallError,
        attempts: u32,
    ) -> Disposition {
        let message = error.to_string();
        self.console.dead_letter(&format!(
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
        self.console.dead_letter(&format!(
            "line {}: dead-lettered ({MALFORMED_INPUT}): {}",
            malformed.line, malformed.reason
        ));
        self.dead_letter(&DeadLetter::malformed(malformed));
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
fn retry_log(attempt: u32, wait: Duration, error: Option<&str>) -> destination_host::LogRecord {
    destination_host::LogRecord {
        level: "info".into(),
        source: "host".into(),
        message: format!(
            "attempt {attempt} failed with a retryable error ({}): tried again in {} ms",
            error.unwrap_or("-"),
            wait.as_millis()
        ),
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
