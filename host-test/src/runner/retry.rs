//! The one place that decides whether and when a failed event is tried again.
//!
//! Exponential backoff with full jitter (base 200 ms, doubling per attempt), never sooner than the
//! destination's `Retry-After`, and never longer than the configured cap. The delay is a pure
//! function of (attempt, retry-after, jitter) so it is unit-tested without sleeping.

use std::time::Duration;

/// How many times an event is tried and how long to wait between tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// The backoff ceiling before jitter for the first retry; doubles for each later one.
    pub base: Duration,
    /// No wait is ever longer than this, even when the destination asks for more.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(200),
            max_backoff: Duration::from_millis(30_000),
        }
    }
}

impl RetryPolicy {
    /// Whether another attempt is allowed after `attempts_made` attempts.
    pub fn allows_another(&self, attempts_made: u32) -> bool {
        attempts_made < self.max_attempts
    }

    /// The wait before the next attempt, after `attempts_made` (>= 1) failed attempts.
    ///
    /// `jitter` is a uniform sample from [0, 1): full jitter picks a wait between zero and the
    /// exponential ceiling, which spreads out tenants that failed at the same moment.
    pub fn delay(
        &self,
        attempts_made: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Duration {
        let exponent = attempts_made.saturating_sub(1).min(30);
        let ceiling = self
            .base
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let jittered = ceiling.mul_f64(jitter.clamp(0.0, 1.0));
        let wait = match retry_after {
            Some(asked) => jittered.max(asked),
            None => jittered,
        };
        wait.min(self.max_backoff)
    }
}

/// Where waiting and randomness come from, so tests can run the retry loop without sleeping.
pub trait Backoff: Sync {
    fn jitter(&self) -> f64;
    fn sleep(&self, duration: Duration);
}

/// Real time and real randomness.
pub struct SystemBackoff;

impl Backoff for SystemBackoff {
    fn jitter(&self) -> f64 {
        fastrand::f64()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// Runs `attempt` (given the 1-based attempt number) until it succeeds, fails permanently, or the
/// attempts are used up. `retry_hint` says whether an error is retryable and how long the
/// destination asked to wait. Returns the last result and the number of attempts made.
pub fn with_retries<T, E>(
    policy: &RetryPolicy,
    backoff: &dyn Backoff,
    retry_hint: impl Fn(&E) -> Option<Option<Duration>>,
    mut attempt: impl FnMut(u32) -> Result<T, E>,
) -> (Result<T, E>, u32) {
    let mut attempts_made = 0;
    loop {
        attempts_made += 1;
        let result = attempt(attempts_made);
        let retry_after = match &result {
            Err(error) => match retry_hint(error) {
                Some(retry_after) if policy.allows_another(attempts_made) => retry_after,
                _ => return (result, attempts_made),
            },
            Ok(_) => return (result, attempts_made),
        };
        backoff.sleep(policy.delay(attempts_made, retry_after, backoff.jitter()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ceiling_doubles_per_attempt_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base: ms(200),
            max_backoff: ms(1_000),
        };
        // jitter just below 1.0 shows the ceiling (minus rounding).
        let near_ceiling = |n| policy.delay(n, None, 0.999_999).as_millis();
        assert_eq!(near_ceiling(1), 199);
        assert_eq!(near_ceiling(2), 399);
        assert_eq!(near_ceiling(3), 799);
        assert_eq!(near_ceiling(4), 999);
        assert_eq!(near_ceiling(40), 999);
    }

    #[test]
    fn full_jitter_spans_zero_to_ceiling() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(3, None, 0.0), Duration::ZERO);
        assert_eq!(policy.delay(3, None, 0.5), ms(400));
    }

    #[test]
    fn never_sooner_than_retry_after() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1, Some(ms(5_000)), 0.0), ms(5_000));
        assert_eq!(policy.delay(1, Some(ms(5_000)), 0.99), ms(5_000));
        // A short Retry-After does not shorten a longer backoff.
        assert_eq!(policy.delay(4, Some(ms(10)), 0.5), ms(800));
    }

    #[test]
    fn retry_after_is_capped_by_max_backoff() {
        let policy = RetryPolicy {
            max_backoff: ms(2_000),
            ..RetryPolicy::default()
        };
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(60)), 0.3),
            ms(2_000)
        );
    }

    /// Records waits instead of sleeping; jitter fixed at 0.5.
    struct RecordingBackoff(Mutex<Vec<Duration>>);

    impl Backoff for RecordingBackoff {
        fn jitter(&self) -> f64 {
            0.5
        }
        fn sleep(&self, duration: Duration) {
            self.0.lock().unwrap().push(duration);
        }
    }

    #[derive(Debug, PartialEq)]
    enum Failure {
        Transient(Option<Duration>),
        Permanent,
    }

    fn hint(error: &Failure) -> Option<Option<Duration>> {
        match error {
            Failure::Transient(after) => Some(*after),
            Failure::Permanent => None,
        }
    }

    #[test]
    fn retries_transient_failures_until_success() {
        let backoff = RecordingBackoff(Mutex::new(Vec::new()));
        let policy = RetryPolicy::default();
        let (result, attempts) = with_retries(&policy, &backoff, hint, |n| {
            if n < 3 {
                Err(Failure::Transient(if n == 2 {
                    Some(ms(1_000))
                } else {
                    None
                }))
            } else {
                Ok(n)
            }
        });
        assert_eq!(result, Ok(3));
        assert_eq!(attempts, 3);
        assert_eq!(*backoff.0.lock().unwrap(), vec![ms(100), ms(1_000)]);
    }

    #[test]
    fn stops_at_max_attempts_with_the_last_error() {
        let backoff = RecordingBackoff(Mutex::new(Vec::new()));
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let (result, attempts) = with_retries(&policy, &backoff, hint, |_| {
            Err::<(), _>(Failure::Transient(None))
        });
        assert_eq!(result, Err(Failure::Transient(None)));
        assert_eq!(attempts, 3);
        assert_eq!(backoff.0.lock().unwrap().len(), 2);
    }

    #[test]
    fn permanent_failures_are_not_retried() {
        let backoff = RecordingBackoff(Mutex::new(Vec::new()));
        let (result, attempts) = with_retries(&RetryPolicy::default(), &backoff, hint, |_| {
            Err::<(), _>(Failure::Permanent)
        });
        assert_eq!(result, Err(Failure::Permanent));
        assert_eq!(attempts, 1);
        assert!(backoff.0.lock().unwrap().is_empty());
    }
}
