//! Pacing a tenant to its destination account's rate limit.
//!
//! Zendesk limits each account to a number of requests a minute (200 to 2,500 by plan) and
//! answers 429 with `Retry-After` past it. A tenant's requests are spaced evenly at a little
//! under the limit (a virtual schedule: each request gets the next free slot), so a backlog
//! drains at close to the limit with few 429s. The limit starts at the tenant's
//! `requests_per_minute` and follows what the account says (the headers of
//! [`RateLimitHeaders`], e.g. Zendesk's `X-Rate-Limit`); a 429 or an exhausted remaining count
//! pauses the tenant until the window resets. Every sender of a tenant must share one [`RateBudget`]: a process shares
//! one [`LocalRateBudget`], a fleet shares one in its coordination store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The fraction of the limit actually used: the rest absorbs other clients of the account and
/// clock differences between the account's window and ours.
pub const HEADROOM: f64 = 0.95;

/// What a response said about the account's limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateSignal {
    /// Requests a minute the account allows.
    pub limit: Option<u32>,
    /// Requests left in the current window.
    pub remaining: Option<u32>,
    /// When the window resets (or `Retry-After` of a 429).
    pub reset: Option<Duration>,
    /// The request was refused for the rate limit (429).
    pub throttled: bool,
}

/// Which response headers say an account's rate limit, compared case-insensitively. Data,
/// because each destination names them its own way; the default is the IETF draft's
/// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`. A 429's `Retry-After` is
/// always read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// Requests a minute the account allows.
    pub limit: Vec<String>,
    /// Requests left in the current window.
    pub remaining: Vec<String>,
    /// Seconds until the window resets.
    pub reset: Vec<String>,
}

impl Default for RateLimitHeaders {
    fn default() -> Self {
        RateLimitHeaders {
            limit: vec!["ratelimit-limit".into()],
            remaining: vec!["ratelimit-remaining".into()],
            reset: vec!["ratelimit-reset".into()],
        }
    }
}

impl RateSignal {
    /// Reads the rate-limit headers `names` says (case-insensitive).
    pub fn from_headers(
        status: u16,
        headers: &[(String, String)],
        names: &RateLimitHeaders,
    ) -> RateSignal {
        let number = |names: &[String]| -> Option<u64> {
            headers
                .iter()
                .find(|(name, _)| names.iter().any(|n| name.eq_ignore_ascii_case(n)))
                .and_then(|(_, value)| value.trim().parse().ok())
        };
        let limit = number(&names.limit).map(clamp_u32);
        let remaining = number(&names.remaining).map(clamp_u32);
        let throttled = status == 429;
        let reset = if throttled {
            number(&["retry-after".to_string()]).or(number(&names.reset))
        } else {
            number(&names.reset)
        }
        .map(Duration::from_secs);
        RateSignal {
            limit,
            remaining,
            reset,
            throttled,
        }
    }
}

fn clamp_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// A tenant's share of its account's requests, for everything that sends for the tenant.
pub trait RateBudget: Send + Sync {
    /// Reserves the next request slot of `tenant`; returns how long to wait before sending.
    fn take(&self, tenant: &str, requests_per_minute: u32) -> Duration;
    /// How long until `tenant` could send (without reserving): a scheduler waits this out
    /// before starting an event, instead of holding a sandbox.
    fn backlog(&self, tenant: &str) -> Duration;
    /// What a response said about the account's limit.
    fn observe(&self, tenant: &str, signal: RateSignal);
}

/// The schedule of one tenant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// The account's limit when it told us (overrides the configured one).
    pub learned_limit: Option<u32>,
    /// The earliest moment the next request may go out.
    pub next_slot: Instant,
}

impl Schedule {
    pub fn new(now: Instant) -> Schedule {
        Schedule {
            learned_limit: None,
            next_slot: now,
        }
    }

    /// The spacing of requests: under the lower of the configured and the learned limit; none
    /// while neither is known (0 configured means "the account's own limit").
    fn interval(&self, configured: u32) -> Duration {
        let limit = [Some(configured), self.learned_limit]
            .into_iter()
            .flatten()
            .filter(|limit| *limit > 0)
            .min();
        match limit {
            Some(limit) => Duration::from_secs_f64(60.0 / (f64::from(limit) * HEADROOM)),
            None => Duration::ZERO,
        }
    }

    /// Reserves a slot when `senders` processes pace the same account, each at its share.
    pub fn take_share(&mut self, now: Instant, configured: u32, senders: u32) -> Duration {
        let slot = self.next_slot.max(now);
        self.next_slot = slot + self.interval(configured) * senders.max(1);
        slot - now
    }

    pub fn apply(&mut self, now: Instant, signal: RateSignal) {
        if let Some(limit) = signal.limit.filter(|l| *l > 0) {
            self.learned_limit = Some(limit);
        }
        let exhausted = signal.throttled || signal.remaining == Some(0);
        if exhausted {
            let pause = signal.reset.unwrap_or(Duration::from_secs(1));
            self.next_slot = self.next_slot.max(now + pause);
        }
    }
}

/// One process's budgets, by tenant. In a fleet, each of `senders` processes paces at its share
/// of the account's limit (the fleet keeps the count current, e.g. from worker heartbeats).
#[derive(Default)]
pub struct LocalRateBudget {
    schedules: Mutex<HashMap<String, Schedule>>,
    senders: Option<Arc<AtomicU32>>,
}

impl LocalRateBudget {
    pub fn new() -> LocalRateBudget {
        LocalRateBudget::default()
    }

    /// A budget for one of `senders` processes sharing each tenant's account.
    pub fn shared_by(senders: Arc<AtomicU32>) -> LocalRateBudget {
        LocalRateBudget {
            schedules: Mutex::default(),
            senders: Some(senders),
        }
    }

    fn senders(&self) -> u32 {
        self.senders
            .as_ref()
            .map_or(1, |count| count.load(Ordering::Relaxed).max(1))
    }

    fn with<R>(&self, tenant: &str, f: impl FnOnce(&mut Schedule, Instant) -> R) -> R {
        let now = Instant::now();
        let mut schedules = self
            .schedules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let schedule = schedules
            .entry(tenant.to_string())
            .or_insert_with(|| Schedule::new(now));
        f(schedule, now)
    }
}

impl RateBudget for LocalRateBudget {
    fn take(&self, tenant: &str, requests_per_minute: u32) -> Duration {
        let senders = self.senders();
        self.with(tenant, |schedule, now| {
            schedule.take_share(now, requests_per_minute, senders)
        })
    }

    fn backlog(&self, tenant: &str) -> Duration {
        self.with(tenant, |schedule, now| {
            schedule.next_slot.saturating_duration_since(now)
        })
    }

    fn observe(&self, tenant: &str, signal: RateSignal) {
        self.with(tenant, |schedule, now| schedule.apply(now, signal));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nothing_is_paced_until_a_limit_is_known() {
        let start = Instant::now();
        let mut schedule = Schedule::new(start);
        assert_eq!(schedule.take_share(start, 0, 1), Duration::ZERO);
        assert_eq!(schedule.take_share(start, 0, 1), Duration::ZERO);
    }

    #[test]
    fn requests_are_spaced_under_the_limit() {
        let start = Instant::now();
        let mut schedule = Schedule::new(start);
        // 600 a minute at 95%: one every ~105 ms.
        let waits: Vec<u128> = (0..4)
            .map(|_| schedule.take_share(start, 600, 1).as_millis())
            .collect();
        assert_eq!(waits, vec![0, 105, 210, 315]);
        // Time passing frees the slots again.
        assert_eq!(
            schedule.take_share(start + Duration::from_secs(5), 600, 1),
            Duration::ZERO
        );
    }

    #[test]
    fn the_account_s_headers_adapt_and_pause_the_schedule() {
        let start = Instant::now();
        let mut schedule = Schedule::new(start);
        // Zendesk's names, as a host gives them.
        let zendesk = RateLimitHeaders {
            limit: vec!["x-rate-limit".into()],
            remaining: vec!["x-rate-limit-remaining".into()],
            reset: vec!["ratelimit-reset".into()],
        };
        let zendesk_headers = headers(&[("X-Rate-Limit", "60"), ("X-Rate-Limit-Remaining", "10")]);
        let said = RateSignal::from_headers(200, &zendesk_headers, &zendesk);
        assert_eq!(said.limit, Some(60));
        let unnamed = RateSignal::from_headers(200, &zendesk_headers, &RateLimitHeaders::default());
        assert_eq!(
            unnamed.limit, None,
            "names are data: the default reads only RateLimit-*"
        );
        schedule.apply(start, said);
        schedule.take_share(start, 6000, 1);
        // The lower limit wins: the account's 60 a minute over the configured 6,000.
        assert!(schedule.take_share(start, 6000, 1) >= Duration::from_millis(1000));

        let throttled = RateSignal::from_headers(
            429,
            &headers(&[("Retry-After", "7")]),
            &RateLimitHeaders::default(),
        );
        assert_eq!(
            (throttled.throttled, throttled.reset),
            (true, Some(Duration::from_secs(7)))
        );
        let mut schedule = Schedule::new(start);
        schedule.apply(start, throttled);
        assert_eq!(schedule.take_share(start, 600, 1), Duration::from_secs(7));

        let empty = RateSignal::from_headers(
            200,
            &headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "3")]),
            &RateLimitHeaders::default(),
        );
        let mut schedule = Schedule::new(start);
        schedule.apply(start, empty);
        assert_eq!(schedule.take_share(start, 600, 1), Duration::from_secs(3));
    }
}
