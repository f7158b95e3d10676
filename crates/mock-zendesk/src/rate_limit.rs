//! Zendesk's account rate limit: at most N requests in any rolling minute. Past it, 429 with
//! `Retry-After` (seconds until the oldest request of the window leaves it). Every answer of a
//! limited account carries the headers Zendesk sends: `X-Rate-Limit`, `X-Rate-Limit-Remaining`,
//! and the draft-standard `ratelimit-limit` / `ratelimit-remaining` / `ratelimit-reset`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::http::Response;

const WINDOW: Duration = Duration::from_secs(60);

pub(crate) struct RateLimit {
    per_minute: u32,
    /// When each request of the current window arrived, oldest first.
    window: VecDeque<Instant>,
}

/// The limit's verdict on one request.
pub(crate) enum Admission {
    /// Served; the headers to add to its answer.
    Admitted(Vec<(String, String)>),
    /// Refused with this 429.
    Throttled(Response),
}

impl RateLimit {
    pub fn new(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute: per_minute.max(1),
            window: VecDeque::new(),
        }
    }

    pub fn admit(&mut self, now: Instant) -> Admission {
        while self
            .window
            .front()
            .is_some_and(|at| now.duration_since(*at) >= WINDOW)
        {
            self.window.pop_front();
        }
        let reset = self.window.front().map_or(Duration::ZERO, |oldest| {
            WINDOW.saturating_sub(now.duration_since(*oldest))
        });
        let reset_seconds = reset.as_secs() + u64::from(reset.subsec_nanos() > 0);
        if self.window.len() as u32 >= self.per_minute {
            let headers = self.headers(0, reset_seconds.max(1));
            let mut response = Response::json(
                429,
                &serde_json::json!({"error": "APIRateLimitExceeded",
                    "description": "Number of allowed API requests per minute exceeded"}),
            )
            .with_header("Retry-After", &reset_seconds.max(1).to_string());
            for (name, value) in headers {
                response = response.with_header(&name, &value);
            }
            return Admission::Throttled(response);
        }
        self.window.push_back(now);
        let remaining = self.per_minute - self.window.len() as u32;
        Admission::Admitted(self.headers(remaining, reset_seconds.max(1)))
    }

    fn headers(&self, remaining: u32, reset_seconds: u64) -> Vec<(String, String)> {
        vec![
            ("X-Rate-Limit".into(), self.per_minute.to_string()),
            ("X-Rate-Limit-Remaining".into(), remaining.to_string()),
            ("ratelimit-limit".into(), self.per_minute.to_string()),
            ("ratelimit-remaining".into(), remaining.to_string()),
            ("ratelimit-reset".into(), reset_seconds.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_rolls_and_retry_after_says_when_a_slot_frees() {
        let mut limit = RateLimit::new(2);
        let start = Instant::now();
        assert!(matches!(limit.admit(start), Admission::Admitted(h) if h[1].1 == "1"));
        let later = start + Duration::from_secs(20);
        assert!(matches!(limit.admit(later), Admission::Admitted(h) if h[1].1 == "0"));
        match limit.admit(later) {
            Admission::Throttled(response) => {
                assert_eq!(response.status, 429);
                assert_eq!(response.header_value("Retry-After"), Some("40"));
            }
            Admission::Admitted(_) => panic!("over the limit"),
        }
        // A minute after the first request, its slot is free again.
        assert!(matches!(
            limit.admit(start + Duration::from_secs(60)),
            Admission::Admitted(_)
        ));
    }
}
