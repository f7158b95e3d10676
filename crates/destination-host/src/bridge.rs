//! The blocking API's bridge to the async one: a future run to completion on the calling thread.
//!
//! Inside a tokio runtime (a `spawn_blocking` thread, or a multi-threaded runtime's worker) the
//! future runs on that runtime, whose threads drive its sockets and timers. Elsewhere (a plain
//! thread) one small process-wide runtime drives them; it starts on first use, so a purely async
//! embedder never has it.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

/// Runs `future` to completion, blocking the calling thread.
///
/// # Panics
///
/// On a current-thread runtime's own thread (e.g. inside `#[tokio::test]`'s test body): there
/// blocking would stop the only thread that drives the future. Use the async API there.
pub fn block_on<F: Future>(future: F) -> F::Output {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        Ok(_) => panic!(
            "destination-host's blocking API was called on a current-thread tokio runtime: use \
             the async API (`*_async`) there"
        ),
        Err(_) => bridge().block_on(future),
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
