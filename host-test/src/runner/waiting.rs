//! Events waiting for a retry: what a run is doing while nothing seems to happen (an unknown
//! user's track waits minutes for Zendesk's search). Shown on the progress line, or every
//! [`PRINT_EVERY`] as a line of its own when stderr is not a terminal.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a run without a progress bar says what it waits for.
pub const PRINT_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct Waiting {
    /// By input line: until when, the tenant, and why.
    events: Mutex<BTreeMap<usize, (Instant, String, String)>>,
}

impl Waiting {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<usize, (Instant, String, String)>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The event of `line` waits until `until` because of `reason`.
    pub fn wait(&self, line: usize, tenant: &str, until: Instant, reason: &str) {
        self.lock()
            .insert(line, (until, tenant.to_string(), reason.to_string()));
    }

    /// The event of `line` is being attempted again, or finished.
    pub fn resume(&self, line: usize) {
        self.lock().remove(&line);
    }

    /// "2 events wait for a retry; next: line 7 (acme) in 45 s: <reason>", or `None`.
    pub fn status(&self) -> Option<String> {
        let events = self.lock();
        let (line, (until, tenant, reason)) =
            events.iter().min_by_key(|(_, (until, _, _))| *until)?;
        let left = until.saturating_duration_since(Instant::now()).as_secs();
        Some(format!(
            "{} event(s) wait for a retry; next: line {line} ({tenant}) in {left} s: {reason}",
            events.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_names_the_next_retry() {
        let waiting = Waiting::default();
        assert_eq!(waiting.status(), None);
        let now = Instant::now();
        waiting.wait(
            9,
            "acme",
            now + Duration::from_secs(90),
            "user u1 not found yet",
        );
        waiting.wait(3, "beta", now + Duration::from_secs(30), "503");
        let status = waiting.status().unwrap();
        assert!(
            status.starts_with("2 event(s) wait for a retry; next: line 3 (beta) in "),
            "{status}"
        );
        assert!(status.ends_with(": 503"), "{status}");
        waiting.resume(3);
        waiting.resume(9);
        assert_eq!(waiting.status(), None);
    }
}
