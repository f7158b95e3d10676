//! The knobs of the sandbox: engine-wide sizing and per-tenant limits, and the check that a
//! tenant's limits fit the engine.

use serde::{Deserialize, Serialize};

use crate::pacing::RateLimitHeaders;
use crate::retry::RequestRetry;

/// Engine-wide sizing of the pooling allocator (fixed up front, shared by every tenant).
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    /// Plugin instances that may run at the same time; further calls wait for a free slot.
    pub max_instances: u32,
    /// The largest linear memory any tenant may be granted, in MiB (the pool's slot size).
    pub max_memory_mib: u64,
    /// Memory the instance pool keeps paged in between calls, in MiB, shared by its slots
    /// (at most 2 MiB each): a reused slot whose first pages are resident starts its next
    /// instance without page faults. The rest of a slot is returned to the OS after each call.
    pub pool_resident_mib: u64,
    /// Request headers the platform's own routing layer uses. Stripped from every guest request,
    /// like the hop-by-hop headers, so a guest cannot steer that layer.
    pub routing_headers: Vec<String>,
    /// How the host resends a guest's idempotent request after a transient failure, within the
    /// call (`RequestRetry { attempts: 1, .. }` turns it off).
    pub request_retry: RequestRetry,
    /// Which response headers say the destination account's rate limit (for pacing).
    pub rate_limit_headers: RateLimitHeaders,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            max_instances: 64,
            max_memory_mib: 256,
            pool_resident_mib: 32,
            routing_headers: Vec::new(),
            request_retry: RequestRetry::default(),
            rate_limit_headers: RateLimitHeaders::default(),
        }
    }
}

/// What one call of one tenant may use. Every limit is explicit (no hidden defaults elsewhere).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Linear memory of the plugin instance, in MiB.
    #[schemars(range(min = 1))]
    pub memory_mib: u64,
    /// Time the guest itself may run (wall time minus time spent in host imports), in ms.
    #[schemars(range(min = 1, max = MAX_WALL_MS))]
    pub cpu_ms: u64,
    /// Whole-call budget, including time waiting for HTTP responses, in ms.
    #[schemars(range(min = 1, max = MAX_WALL_MS))]
    pub wall_ms: u64,
    /// Cap for one outbound request (also capped by what is left of `wall_ms`), in ms.
    #[schemars(range(min = 1, max = MAX_WALL_MS))]
    pub request_timeout_ms: u64,
    /// Largest accepted response body, in KiB.
    #[schemars(range(min = 1, max = MAX_KIB))]
    pub max_response_kib: u64,
    /// Largest request body the guest may send, in KiB.
    #[schemars(range(min = 1, max = MAX_KIB))]
    pub max_request_kib: u64,
    /// Outbound requests one call may make.
    #[schemars(range(min = 1))]
    pub max_fetches: u32,
    /// Bytes of log records (messages and fields) one call may produce, in KiB.
    #[schemars(range(min = 1, max = MAX_KIB))]
    pub max_log_kib: u64,
    /// Bytes of fetch records (URLs, headers, request bodies) kept for one call, in KiB.
    #[schemars(range(min = 1, max = MAX_KIB))]
    pub max_recorded_kib: u64,
    /// The destination account's requests a minute for this tenant (0: the account's own
    /// limit, learned from its rate-limit headers). Requests are paced under it.
    pub requests_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: 64,
            cpu_ms: 1000,
            wall_ms: 30_000,
            request_timeout_ms: 10_000,
            max_response_kib: 4096,
            max_request_kib: 1024,
            max_fetches: 200,
            max_log_kib: 256,
            max_recorded_kib: 2048,
            requests_per_minute: 0,
        }
    }
}

/// An impossible limit; the message names the key and what would be possible.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("limit `{key}`: {message}")]
pub struct LimitError {
    pub key: &'static str,
    pub message: String,
}

/// Upper bounds that no tenant may exceed, whatever the engine's sizing.
const MAX_WALL_MS: u64 = 15 * 60 * 1000;
const MAX_KIB: u64 = 1 << 20;

impl Limits {
    /// Checks that every limit can be enforced by an engine sized by `options`.
    pub fn validate(&self, options: &RuntimeOptions) -> Result<(), LimitError> {
        let error = |key, message: String| Err(LimitError { key, message });
        if self.memory_mib == 0 {
            return error("memory_mib", "must be at least 1".into());
        }
        if self.memory_mib > options.max_memory_mib {
            return error(
                "memory_mib",
                format!(
                    "{} MiB is above the pool's slot size of {} MiB (max_memory_mib); \
                     ask for at most {} or size the runtime larger",
                    self.memory_mib, options.max_memory_mib, options.max_memory_mib
                ),
            );
        }
        for (key, value) in [
            ("cpu_ms", self.cpu_ms),
            ("wall_ms", self.wall_ms),
            ("request_timeout_ms", self.request_timeout_ms),
        ] {
            if value == 0 {
                return error(key, "must be at least 1 ms".into());
            }
            if value > MAX_WALL_MS {
                return error(
                    key,
                    format!("{value} ms is above the maximum of {MAX_WALL_MS} ms"),
                );
            }
        }
        for (key, value) in [
            ("max_response_kib", self.max_response_kib),
            ("max_request_kib", self.max_request_kib),
            ("max_log_kib", self.max_log_kib),
            ("max_recorded_kib", self.max_recorded_kib),
        ] {
            if value == 0 {
                return error(key, "must be at least 1 KiB".into());
            }
            if value > MAX_KIB {
                return error(
                    key,
                    format!("{value} KiB is above the maximum of {MAX_KIB} KiB"),
                );
            }
        }
        if self.max_fetches == 0 {
            return error("max_fetches", "must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_fit_the_default_engine() {
        assert_eq!(
            Limits::default().validate(&RuntimeOptions::default()),
            Ok(())
        );
    }

    #[test]
    fn memory_above_the_slot_size_names_memory_mib() {
        let limits = Limits {
            memory_mib: 512,
            ..Limits::default()
        };
        let error = limits.validate(&RuntimeOptions::default()).unwrap_err();
        assert_eq!(error.key, "memory_mib");
        assert!(error.to_string().contains("max_memory_mib"), "{error}");
    }

    #[test]
    fn zero_limits_name_their_key() {
        for (limits, key) in [
            (
                Limits {
                    cpu_ms: 0,
                    ..Limits::default()
                },
                "cpu_ms",
            ),
            (
                Limits {
                    wall_ms: 0,
                    ..Limits::default()
                },
                "wall_ms",
            ),
            (
                Limits {
                    max_fetches: 0,
                    ..Limits::default()
                },
                "max_fetches",
            ),
            (
                Limits {
                    max_log_kib: 0,
                    ..Limits::default()
                },
                "max_log_kib",
            ),
            (
                Limits {
                    memory_mib: 0,
                    ..Limits::default()
                },
                "memory_mib",
            ),
        ] {
            assert_eq!(
                limits.validate(&RuntimeOptions::default()).unwrap_err().key,
                key
            );
        }
    }
}
