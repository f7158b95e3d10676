//! The blocking API's bridge to the async one: a future run to completion on the calling thread.
//!
//! On a multi-threaded runtime's thread (a worker or a `spawn_blocking` thread) the future runs
//! on that runtime, whose threads drive its sockets and timers. Elsewhere (a plain thread, or a
//! current-thread runtime's `spawn_blocking` thread, whose runtime only its own thread drives)
//! one small process-wide runtime drives them; it starts on first use, so a purely async
//! embedder never has it.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

/// Runs `future` to completion, blocking the calling thread.
///
/// # Panics
///
/// Inside async code on a current-thread runtime's own thread (e.g. in `#[tokio::test]`'s test
/// body), where blocking would stop the only thread that drives the future (tokio refuses to
/// start a runtime there). Use the async API there.
pub fn block_on<F: Future>(future: F) -> F::Output {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        _ => bridge().block_on(future),
    }
}

fn bridge() -> &'static Runtime {
    static BRIDGE: OnceLock<Runtime> = OnceLock::new();
    BRIDGE.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("destination-host-io")
            .enable_all()
            .build()
            .expect("the blocking bridge's runtime starts (a thread and an epoll instance)")
    })
}
