//! Delivering events through the delivery core: one attempt at a time per order key, settled
//! by the library's retry policy, and each line's fate reported.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::EventObserver;
use super::console::Console;
use super::jsonl::JsonlFile;
use super::summary::{Disposition, LineResult, Summary};
use super::trace::TraceLine;
use super::waiting::Waiting;
use destination_host::delivery::{
    Attempt, Attempted, Batching, DeadLetter, Engine, EventLine, EventResult, INTERRUPTED,
    KeyedQueue, MALFORMED_INPUT, MalformedLine, OrderKey, Settlement,
};
use destination_host::{CallError, FetchRecord, Operation, Tenant};

/// One event line on its way: what the queue holds.
pub(super) struct Job {
    pub event: EventLine,
    pub attempts: u32,
    /// When the first attempt started (the retry budget counts from there).
    pub first_attempt: Option<Instant>,
    /// HTTP requests Zendesk answered, over all attempts so far.
    pub calls: u64,
    /// Requests with no answer (connection failures, timeouts), and requests the host sent
    /// again within a call.
    pub unanswered: u64,
    pub resends: u64,
}

impl Job {
    pub fn new(event: EventLine) -> Job {
        Job {
            event,
            attempts: 0,
            first_attempt: None,
            calls: 0,
            unanswered: 0,
            resends: 0,
        }
    }
}

/// State shared by the worker threads.
pub(super) struct RunContext {
    pub engine: Engine,
    pub tenants: HashMap<String, Tenant>,
    pub batching: Batching,
    pub console: Console,
    pub trace: Option<JsonlFile>,
    pub dead_letters: Option<JsonlFile>,
    /// Where the events come from, named in each dead letter.
    pub source: String,
    pub summary: Mutex<Summary>,
    /// Events parked for a retry, for the operator.
    pub waiting: Waiting,
    pub on_event: Option<EventObserver>,
    /// When the last Zendesk request of a delivered or skipped event finished (for the
    /// head-of-line measurement: how long everything but the dead letters took).
    pub last_success: Mutex<Option<Instant>>,
    /// Batch calls made so far (numbers them for the reports).
    pub batches: std::sync::atomic::AtomicU64,
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
    /// The HTTP requests of the last attempt (in a batch: the ones made for this event, bulk
    /// requests shared with the batch's other events included).
    pub calls: Vec<HttpCall>,
    /// The batch call that served the last attempt (events of one call share its number).
    pub batch: Option<u64>,
    /// How long the last attempt's call took, in µs (a batch's events share its call).
    pub call_us: u64,
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

    fn from_operation(operation: &Operation) -> HttpCall {
        HttpCall {
            method: operation.method.clone(),
            path: operation.path.clone(),
            status: Some(operation.status),
            error: None,
        }
    }
}

/// What the last attempt of an event left for its report.
#[derive(Default)]
struct LastAttempt {
    plugin_version: Option<String>,
    calls: Vec<HttpCall>,
    batch: Option<u64>,
    call_us: u64,
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
    /// One lane: takes events from `queue` until it is closed and empty, one per call or in
    /// batches. A lane waiting on Zendesk holds no thread, so a run keeps many lanes.
    pub async fn work(&self, queue: &KeyedQueue<Job>) {
        if self.batching.is_on() {
            while let Some(batch) = queue
                .next_batch_async(self.batching.size, self.batching.wait)
                .await
            {
                self.attempt_batch(queue, batch).await;
            }
            return;
        }
        while let Some((key, job)) = queue.next_async().await {
            self.attempt_batch(queue, vec![(key, job)]).await;
        }
    }

    fn tenant_of(&self, job: &Job) -> &Tenant {
        match self.tenants.get(&job.event.tenant) {
            Some(tenant) => tenant,
            None => unreachable!("the reader only queues events of known tenants"),
        }
    }

    /// One attempt for events of one tenant (one per key; a single event is one `transform`)
    /// through the delivery engine; then each is finished (delivered, skipped, dead-lettered)
    /// or parked for its retry on its own. A tenant far behind its rate limit waits out the
    /// backlog in the queue, its keys parked, without holding a sandbox.
    async fn attempt_batch(&self, queue: &KeyedQueue<Job>, mut batch: Vec<(OrderKey, Job)>) {
        let tenant = self.tenant_of(&batch[0].1);
        for (_, job) in &batch {
            self.waiting.resume(job.event.line);
        }
        let attempts: Vec<Attempt> = batch
            .iter()
            .map(|(_, job)| Attempt {
                event: job.event.event.to_string(),
                earlier_attempts: job.attempts,
                elapsed: job.first_attempt.map(|at| at.elapsed()).unwrap_or_default(),
            })
            .collect();
        let started = Instant::now();
        let call = match self.engine.attempt_async(tenant, &attempts).await {
            Attempted::Paced(wait) => {
                for (key, job) in batch {
                    queue.retry(key, job, Instant::now() + wait);
                }
                return;
            }
            Attempted::Called(call) => call,
        };
        // The retry budget counts from the start of the first attempt that reached the plugin.
        for (_, job) in &mut batch {
            job.first_attempt.get_or_insert(started);
        }
        let number = (batch.len() > 1).then(|| {
            self.batches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        });
        let first_line = batch[0].1.event.line;
        self.trace(tenant, first_line, call.results[0].attempts, &call.fetches);
        self.console.logs(&tenant.id, first_line, &call.logs);
        for ((key, mut job), result) in batch.into_iter().zip(call.results) {
            job.calls += result.calls;
            job.unanswered += result.unanswered;
            job.resends += result.resends;
            job.attempts = result.attempts;
            // One event: every request it made, failed ones included; in a batch, those its
            // outcome names (the shared bulk requests among them).
            let calls = match number {
                None => call.fetches.iter().map(HttpCall::from_fetch).collect(),
                Some(_) => result
                    .operations
                    .iter()
                    .map(HttpCall::from_operation)
                    .collect(),
            };
            let attempt = LastAttempt {
                plugin_version: call.plugin_version.clone(),
                calls,
                batch: number,
                call_us: micros(call.duration),
            };
            self.conclude(queue, key, job, result, attempt);
        }
    }

    fn trace(&self, tenant: &Tenant, line: usize, attempt: u32, fetches: &[FetchRecord]) {
        if let Some(trace) = &self.trace {
            for fetch in fetches {
                trace.append(&TraceLine::new(&tenant.id, line, attempt, fetch));
            }
        }
    }

    /// What an attempt's settlement means for its event: finished, or parked for its retry.
    fn conclude(
        &self,
        queue: &KeyedQueue<Job>,
        key: OrderKey,
        job: Job,
        result: EventResult,
        attempt: LastAttempt,
    ) {
        let disposition = match result.settlement {
            Settlement::RetryAfter(wait) => {
                self.console.logs(
                    &job.event.tenant,
                    job.event.line,
                    &[retry_log(job.attempts, wait, result.failure.as_deref())],
                );
                let reason = result.failure.as_deref().unwrap_or("a retryable error");
                let until = Instant::now() + wait;
                self.waiting
                    .wait(job.event.line, &job.event.tenant, until, reason);
                queue.retry(key, job, until);
                return;
            }
            Settlement::Delivered(_) => Disposition::Delivered,
            Settlement::Skipped(reason) => Disposition::Skipped { reason },
            Settlement::DeadLetter(error) => {
                self.dead_letter_event(&job.event, &error, job.attempts)
            }
        };
        if !matches!(disposition, Disposition::DeadLettered { .. }) && !attempt.calls.is_empty() {
            *self
                .last_success
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
        }
        self.finish(&job, disposition, attempt);
        queue.done(key);
    }

    fn finish(&self, job: &Job, disposition: Disposition, attempt: LastAttempt) {
        let event = &job.event;
        let event_type = event.event_type();
        self.record(&LineResult {
            tenant: Some(&event.tenant),
            event_type: Some(&event_type),
            disposition: &disposition,
            attempts: job.attempts,
            zendesk_calls: job.calls,
            unanswered: job.unanswered,
            resends: job.resends,
        });
        if let Some(observer) = &self.on_event {
            observer(&EventReport {
                line: event.line,
                tenant: event.tenant.clone(),
                event_type,
                event_name: event.event_name().map(str::to_string),
                disposition,
                attempts: job.attempts,
                plugin_version: attempt.plugin_version,
                calls: attempt.calls,
                batch: attempt.batch,
                call_us: attempt.call_us,
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
        self.dead_letter(&DeadLetter::of_event(
            event.line,
            &event.tenant,
            &event.event,
            error,
            attempts,
        ));
        Disposition::DeadLettered {
            error_class: error.class().to_string(),
            error: message,
        }
    }

    /// Dead-letters the events a stop took out of the queue (`interrupted`: delivering them
    /// again is all they need), so the summary accounts for every line read.
    pub fn dead_letter_interrupted(&self, jobs: Vec<(OrderKey, Job)>) {
        for (_, job) in jobs {
            let event = &job.event;
            let letter =
                DeadLetter::interrupted(event.line, &event.tenant, &event.event, job.attempts);
            self.console.dead_letter(&format!(
                "line {} ({}): not delivered, the run was interrupted ({INTERRUPTED})",
                event.line, event.tenant
            ));
            self.dead_letter(&letter);
            let disposition = Disposition::DeadLettered {
                error_class: INTERRUPTED.to_string(),
                error: letter.error.clone(),
            };
            self.finish(&job, disposition, LastAttempt::default());
        }
    }

    /// Dead-letters an input line that is not an event of a known tenant.
    pub fn dead_letter_malformed(&self, malformed: &MalformedLine) {
        self.console.dead_letter(&format!(
            "line {}: dead-lettered ({MALFORMED_INPUT}): {}",
            malformed.line, malformed.reason
        ));
        self.dead_letter(&DeadLetter::malformed(
            malformed.line,
            malformed.tenant.as_deref(),
            None,
            Some(&malformed.raw),
            &malformed.reason,
            0,
        ));
        self.record(&LineResult {
            tenant: malformed.tenant.as_deref(),
            event_type: None,
            disposition: &Disposition::DeadLettered {
                error_class: MALFORMED_INPUT.to_string(),
                error: malformed.reason.clone(),
            },
            attempts: 0,
            zendesk_calls: 0,
            unanswered: 0,
            resends: 0,
        });
    }

    fn dead_letter(&self, letter: &DeadLetter) {
        if let Some(file) = &self.dead_letters {
            file.append(&letter.clone().from_source(&self.source));
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

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
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
