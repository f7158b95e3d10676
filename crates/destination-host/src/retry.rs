//! The one place that decides when a failure is tried again:
//!
//! - [`RequestRetry`]: one idempotent request inside a call, resent by the host so the guest's
//!   earlier calls of the event are not repeated;
//! - [`RetryPolicy`]: a whole event, between calls, for as long as its time budget lasts.
//!
//! A destination's `Retry-After` is honoured exactly, never cut short: when it does not fit in
//! what is left of a budget, the request goes back to the guest, or the event is given up.
//! Delays are pure functions of their inputs (jitter included), so they are unit-tested.

use std::time::Duration;

/// A transient failure of one request, as the retry rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transient {
    /// 429 or 503, with the wait the destination asked for, when it said.
    Throttled(Option<Duration>),
    /// 409, 500, 502, 504, a timeout or a connection failure.
    Failed,
}

impl Transient {
    /// The transient failure a response status stands for, if any.
    pub fn of_status(status: u16, retry_after: Option<Duration>) -> Option<Transient> {
        match status {
            429 | 503 => Some(Transient::Throttled(retry_after)),
            409 | 500 | 502 | 504 => Some(Transient::Failed),
            _ => None,
        }
    }
}

/// Resending one idempotent request within a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestRetry {
    /// Sends of one request, the first included.
    pub attempts: u32,
    /// The first backoff; doubles per resend (full jitter).
    pub base: Duration,
    /// The longest wait inside a call: a longer `Retry-After` goes back to the guest, and the
    /// event waits for it between calls instead (holding no sandbox).
    pub max_wait: Duration,
}

impl Default for RequestRetry {
    fn default() -> Self {
        RequestRetry {
            attempts: 3,
            base: Duration::from_millis(100),
            max_wait: Duration::from_secs(5),
        }
    }
}

impl RequestRetry {
    /// The wait before resending after `sent` sends failed with `failure`, or `None` when the
    /// answer goes back to the guest. `room` is what the call's wall budget has left for the wait
    /// and the next send together.
    pub fn wait(
        &self,
        sent: u32,
        failure: Transient,
        room: Duration,
        jitter: f64,
    ) -> Option<Duration> {
        if sent >= self.attempts {
            return None;
        }
        let wait = match failure {
            Transient::Throttled(Some(asked)) => asked,
            Transient::Throttled(None) | Transient::Failed => {
                full_jitter(self.base, sent, self.max_wait, jitter)
            }
        };
        (wait <= self.max_wait && wait < room).then_some(wait)
    }
}

/// Retrying a whole event: for `retry_for` after its first attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How long after the first attempt an event may still be retried.
    pub retry_for: Duration,
    /// The first backoff; doubles per attempt (full jitter).
    pub base: Duration,
    /// The longest backoff when the destination gave no `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retry_for: Duration::from_secs(600),
            base: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// What to do with an event whose attempt failed with a retryable error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    RetryAfter(Duration),
    /// The wait would end past the event's retry budget.
    GiveUp,
}

impl RetryPolicy {
    /// A policy that never retries (e.g. to show an event's real first outcome).
    pub fn never() -> RetryPolicy {
        RetryPolicy {
            retry_for: Duration::ZERO,
            ..RetryPolicy::default()
        }
    }

    /// After `attempts` (>= 1) failed attempts, the first of them `elapsed` ago: retry after
    /// the destination's `Retry-After` exactly, else after an exponential backoff with full
    /// jitter; give up when that would end past `retry_for`.
    pub fn decide(
        &self,
        attempts: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Decision {
        let wait = retry_after
            .unwrap_or_else(|| full_jitter(self.base, attempts, self.max_backoff, jitter));
        if elapsed.saturating_add(wait) >= self.retry_for {
            Decision::GiveUp
        } else {
            Decision::RetryAfter(wait)
        }
    }
}

/// A uniform wait in [0, min(base * 2^(n-1), cap)), from `jitter` in [0, 1).
fn full_jitter(base: Duration, attempts: u32, cap: Duration, jitter: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let ceiling = base.saturating_mul(1u32 << exponent).min(cap);
    ceiling.mul_f64(jitter.clamp(0.0, 1.0))
}

/// Parses `retry-for`-style durations: `90s`, `10m`, `4h`, `500ms`, `1d`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 90s, 10m, 4h)"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} (use ms, s, m, h or d)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_request_is_resent_within_its_attempts_and_the_calls_room() {
        let retry = RequestRetry::default();
        let room = Duration::from_secs(20);
        assert_eq!(retry.wait(1, Transient::Failed, room, 0.5), Some(ms(50)));
        assert_eq!(retry.wait(2, Transient::Failed, room, 0.5), Some(ms(100)));
        assert_eq!(retry.wait(3, Transient::Failed, room, 0.5), None);
        // Retry-After exactly, when it fits; otherwise back to the guest.
        let asked = Transient::Throttled(Some(Duration::from_secs(2)));
        assert_eq!(
            retry.wait(1, asked, room, 0.9),
            Some(Duration::from_secs(2))
        );
        assert_eq!(retry.wait(1, asked, Duration::from_secs(1), 0.9), None);
        let long = Transient::Throttled(Some(Duration::from_secs(60)));
        assert_eq!(retry.wait(1, long, room, 0.0), None);
        assert_eq!(
            retry.wait(1, Transient::Throttled(None), room, 0.5),
            Some(ms(50))
        );
    }

    #[test]
    fn transient_statuses() {
        let after = Some(ms(1000));
        assert_eq!(
            Transient::of_status(429, after),
            Some(Transient::Throttled(after))
        );
        assert_eq!(
            Transient::of_status(503, None),
            Some(Transient::Throttled(None))
        );
        for status in [409, 500, 502, 504] {
            assert_eq!(Transient::of_status(status, None), Some(Transient::Failed));
        }
        for status in [200, 201, 400, 401, 403, 404, 422] {
            assert_eq!(Transient::of_status(status, None), None);
        }
    }

    #[test]
    fn an_event_waits_retry_after_exactly_until_its_budget_ends() {
        let policy = RetryPolicy {
            retry_for: Duration::from_secs(90),
            base: ms(500),
            max_backoff: Duration::from_secs(30),
        };
        let asked = Some(Duration::from_secs(60));
        assert_eq!(
            policy.decide(1, Duration::ZERO, asked, 0.0),
            Decision::RetryAfter(Duration::from_secs(60))
        );
        // 60 s more would end past 90 s: give up rather than ask again early.
        assert_eq!(
            policy.decide(2, Duration::from_secs(61), asked, 0.0),
            Decision::GiveUp
        );
        // Without Retry-After: full jitter, doubling, capped.
        assert_eq!(
            policy.decide(1, Duration::ZERO, None, 0.5),
            Decision::RetryAfter(ms(250))
        );
        assert_eq!(
            policy.decide(3, Duration::ZERO, None, 0.5),
            Decision::RetryAfter(ms(1000))
        );
        assert_eq!(
            policy.decide(20, Duration::ZERO, None, 0.5),
            Decision::RetryAfter(Duration::from_secs(15))
        );
        assert_eq!(
            RetryPolicy::never().decide(1, Duration::ZERO, None, 0.0),
            Decision::GiveUp
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("4h"), Ok(Duration::from_secs(14_400)));
        assert_eq!(parse_duration("250ms"), Ok(ms(250)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
