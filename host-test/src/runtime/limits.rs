//! The knobs of the sandbox: engine-wide sizing and per-tenant limits.

use serde::{Deserialize, Serialize};

/// Engine-wide sizing of the pooling allocator (fixed up front, shared by every tenant).
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    /// Plugin instances that may run at the same time; further calls wait for a free slot.
    pub max_instances: u32,
    /// The largest linear memory any tenant may be granted, in MiB.
    pub max_memory_mib: u64,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            max_instances: 64,
            max_memory_mib: 256,
        }
    }
}

/// What one call of one tenant may use. Every limit is explicit (no hidden defaults elsewhere).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Linear memory of the plugin instance, in MiB.
    pub memory_mib: u64,
    /// Time the guest itself may run (wall time minus time spent in host imports), in ms.
    pub cpu_ms: u64,
    /// Whole-call budget, including time waiting for HTTP responses, in ms.
    pub wall_ms: u64,
    /// Cap for one outbound request (also capped by what is left of `wall_ms`), in ms.
    pub request_timeout_ms: u64,
    /// Largest accepted response body, in KiB.
    pub max_response_kib: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: 64,
            cpu_ms: 1000,
            wall_ms: 30_000,
            request_timeout_ms: 10_000,
            max_response_kib: 4096,
        }
    }
}
