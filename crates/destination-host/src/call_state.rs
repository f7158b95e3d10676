//! What a Store holds for one call: the tenant, a minimal WASI context, the limits and what the
//! call produced so far.

use crate::limits::RuntimeOptions;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::logs::LogBuffer;
use crate::policy::OutboundPolicy;
use crate::report::{FetchRecord, TrapKind};
use crate::tenant::Tenant;

/// Guest stderr kept per call (a panic message fits easily).
const STDERR_CAPACITY: usize = 16 * 1024;

pub struct CallState {
    pub tenant: Tenant,
    pub policy: Arc<OutboundPolicy>,
    /// The runtime's settings: routing headers stripped from guest requests, how idempotent
    /// requests are resent within the call, which headers say the account's rate limit.
    pub options: Arc<RuntimeOptions>,
    pub limiter: CallLimiter,
    pub budget: Budget,
    pub fetches: Vec<FetchRecord>,
    /// Bytes of `fetches` so far (URLs, headers, bodies), against `max_recorded_kib`.
    pub recorded_bytes: u64,
    pub logs: LogBuffer,
    pub stderr: MemoryOutputPipe,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl CallState {
    pub fn new(
        tenant: &Tenant,
        policy: Arc<OutboundPolicy>,
        options: Arc<RuntimeOptions>,
    ) -> CallState {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        // Nothing inherited: no args, env, files, stdin/stdout or network. Stderr is captured so
        // a panic message can be reported with the trap.
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = &tenant.limits;
        CallState {
            policy,
            options,
            limiter: CallLimiter::new(limits.memory_mib),
            budget: Budget::new(
                Duration::from_millis(limits.cpu_ms),
                Duration::from_millis(limits.wall_ms),
            ),
            tenant: tenant.clone(),
            fetches: Vec::new(),
            recorded_bytes: 0,
            logs: LogBuffer::new(limits.max_log_kib.saturating_mul(1024)),
            stderr,
            wasi,
            table: ResourceTable::new(),
        }
    }

    /// Ends the call: the host stops the guest for exceeding the budget `kind`.
    pub fn stop(&mut self, kind: TrapKind, why: String) -> wasmtime::Error {
        tracing::warn!(tenant = %self.tenant.id, class = ?kind, "call stopped: {why}");
        self.budget.stopped = Some(kind);
        self.budget.stop_reason = Some(why.clone());
        wasmtime::Error::msg(why)
    }

    /// A guest log record, within the call's log budget.
    pub fn guest_log(
        &mut self,
        level: &str,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        if self.logs.push(level, "guest", message, fields).is_err() {
            let max = self.tenant.limits.max_log_kib;
            return Err(self.stop(
                TrapKind::LogBudget,
                format!("the guest logged more than its budget of {max} KiB (max_log_kib)"),
            ));
        }
        Ok(())
    }

    /// What the guest wrote to stderr (lossy UTF-8, trimmed).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The call's time budgets. Guest time is wall time minus time spent in host imports, so a
/// slow destination counts against `wall` only.
pub struct Budget {
    cpu: Duration,
    wall: Duration,
    started: Option<Instant>,
    host_time: Duration,
    /// Why the host stopped the guest (a time budget or a per-call budget), if it did.
    pub stopped: Option<TrapKind>,
    /// The message for a per-call budget (time budgets are described by `classify`).
    pub stop_reason: Option<String>,
}

impl Budget {
    fn new(cpu: Duration, wall: Duration) -> Budget {
        Budget {
            cpu,
            wall,
            started: None,
            host_time: Duration::ZERO,
            stopped: None,
            stop_reason: None,
        }
    }

    /// Starts the clocks: called when the guest starts running, not when the Store is made.
    pub fn start(&mut self) {
        self.started = Some(Instant::now());
    }

    pub fn add_host_time(&mut self, spent: Duration) {
        self.host_time += spent;
    }

    pub fn elapsed(&self) -> Duration {
        self.started
            .map_or(Duration::ZERO, |started| started.elapsed())
    }

    /// What is left of the wall-clock budget.
    pub fn wall_remaining(&self) -> Duration {
        self.wall.saturating_sub(self.elapsed())
    }

    /// Whether the guest may wait `wait` (the `timer` import) and still have a reserve of the
    /// wall budget left to finish its call: a fifth of it, at most 5 s.
    pub fn may_wait(&self, wait: Duration) -> bool {
        let reserve = (self.wall / 5).min(Duration::from_secs(5));
        wait.saturating_add(reserve) <= self.wall_remaining()
    }

    /// The budget that is exhausted, if any.
    pub fn exceeded(&self) -> Option<TrapKind> {
        let elapsed = self.elapsed();
        if elapsed.saturating_sub(self.host_time) > self.cpu {
            Some(TrapKind::CpuBudget)
        } else if elapsed > self.wall {
            Some(TrapKind::WallClock)
        } else {
            None
        }
    }

    pub fn cpu(&self) -> Duration {
        self.cpu
    }

    pub fn wall(&self) -> Duration {
        self.wall
    }
}

/// `StoreLimits` that also remembers that a memory limit was hit, so the resulting trap is
/// reported as a memory error rather than an anonymous failure.
pub struct CallLimiter {
    limits: StoreLimits,
    pub memory_mib: u64,
    pub memory_limit_hit: bool,
}

impl CallLimiter {
    fn new(memory_mib: u64) -> CallLimiter {
        let bytes = usize::try_from(memory_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        CallLimiter {
            limits: StoreLimitsBuilder::new()
                .memory_size(bytes)
                .trap_on_grow_failure(true)
                .build(),
            memory_mib,
            memory_limit_hit: false,
        }
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum);
        if !matches!(allowed, Ok(true)) {
            self.memory_limit_hit = true;
        }
        allowed
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_limit_hit = true;
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}
