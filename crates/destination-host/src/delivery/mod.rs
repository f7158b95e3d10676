//! The delivery engine shared by every source (a file, stdin, a queue): one attempt's lifecycle
//! ([`Engine`]), what a finished attempt means for its event ([`settle`]) under the time-based
//! [`RetryPolicy`](crate::RetryPolicy), the [`DeadLetter`] record, and per-key order with
//! parking ([`KeyedQueue`], [`OrderKey`]).
//!
//! A source owns only its queue and acknowledgements: it hands [`Engine::attempt`] the events
//! of one tenant, then acts on each [`Settlement`] (acknowledge, requeue after the wait, store
//! the dead letter). `examples/channel_source.rs` is a complete one, delivering from an
//! in-memory channel.

mod dead_letter;
mod engine;
mod input;
mod keyed_queue;
mod order_key;
mod tenant_gate;

pub use dead_letter::{DeadLetter, INTERRUPTED, MALFORMED_INPUT, event_type, now_ms};
pub use engine::{Attempt, Attempted, Call, Engine, EventResult, PACING_PARK};
pub use input::{EventLine, MalformedLine, parse_line, parse_line_any_tenant};
pub use keyed_queue::{KeyedQueue, TenantLimit};
pub use order_key::{OrderKey, fnv1a64};
pub use tenant_gate::{TenantGate, TenantPermit};

use std::time::Duration;

use crate::report::{CallError, GuestError, Outcome};
use crate::retry::{Decision, RetryPolicy};

/// How events are grouped into `transform-batch` calls: per tenant, at most `size` events (one
/// per order key), waiting at most `wait` for a batch to fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batching {
    pub size: usize,
    pub wait: Duration,
}

impl Batching {
    /// One event per call.
    pub const OFF: Batching = Batching {
        size: 1,
        wait: Duration::ZERO,
    };

    pub fn is_on(&self) -> bool {
        self.size > 1
    }
}

impl Default for Batching {
    fn default() -> Self {
        Batching::OFF
    }
}

/// Where an attempt leaves its event.
#[derive(Clone, Debug, PartialEq)]
pub enum Settlement {
    Delivered(Outcome),
    /// Deliberately not forwarded, with the reason (an allow-list, an unsupported event type).
    Skipped(String),
    /// Never going to succeed, or out of retry budget: to the dead letters.
    DeadLetter(CallError),
    /// Try again after this long.
    RetryAfter(Duration),
}

/// What one attempt's result means, `attempts` (>= 1) attempts in, the first `elapsed` ago.
/// Non-retryable errors (invalid event or config, 401, 403, 422, traps) are dead letters at
/// once; retryable ones wait as `policy` says, until its budget ends.
pub fn settle(
    result: Result<Outcome, CallError>,
    attempts: u32,
    elapsed: Duration,
    policy: &RetryPolicy,
    jitter: f64,
) -> Settlement {
    match result {
        Ok(outcome) => match outcome.skipped {
            Some(reason) => Settlement::Skipped(reason),
            None => Settlement::Delivered(outcome),
        },
        Err(CallError::Guest(GuestError::UnsupportedEvent(reason))) => Settlement::Skipped(reason),
        Err(error) if error.is_retryable() => {
            match policy.decide(attempts, elapsed, error.retry_after(), jitter) {
                Decision::RetryAfter(wait) => Settlement::RetryAfter(wait),
                Decision::GiveUp => Settlement::DeadLetter(error),
            }
        }
        Err(error) => Settlement::DeadLetter(error),
    }
}
