//! WASI's monotonic clock with its waits bounded by the call's wall budget.
//!
//! A guest that blocks in `wasi:io/poll` on a clock (Rust's `std::thread::sleep` does) would hold
//! its thread for as long as it asks: epoch interruption stops guest code, not a host call. Every
//! clock subscription is clamped to what is left of the call's wall budget, so the wait ends with
//! the budget and the guest's next instructions are stopped as a wall-clock overrun. The
//! contract's own `timer.wait` is the way for a plugin to wait; this closes the side door.

use std::time::Duration;

use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::clocks::{WasiClocksCtxView, WasiClocksView};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock::{self, Duration as Nanos, Instant};

use crate::call_state::CallState;

/// Past the budget's end, so the overrun is certain when the guest runs again.
const GRACE: Duration = Duration::from_millis(5);

struct BoundedClock;

impl HasData for BoundedClock {
    type Data<'a> = BoundedClockView<'a>;
}

struct BoundedClockView<'a> {
    clocks: WasiClocksCtxView<'a>,
    wall_left: Duration,
}

fn view(state: &mut CallState) -> BoundedClockView<'_> {
    let wall_left = state.budget.wall_remaining();
    BoundedClockView {
        clocks: state.clocks(),
        wall_left,
    }
}

impl monotonic_clock::Host for BoundedClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<Instant> {
        self.clocks.now()
    }

    fn resolution(&mut self) -> wasmtime::Result<Instant> {
        self.clocks.resolution()
    }

    fn subscribe_instant(&mut self, when: Instant) -> wasmtime::Result<Resource<DynPollable>> {
        let now = self.clocks.now()?;
        self.subscribe_duration(when.saturating_sub(now))
    }

    fn subscribe_duration(&mut self, wait: Nanos) -> wasmtime::Result<Resource<DynPollable>> {
        let cap = u64::try_from((self.wall_left + GRACE).as_nanos()).unwrap_or(u64::MAX);
        self.clocks.subscribe_duration(wait.min(cap))
    }
}

/// Replaces the linker's `wasi:clocks/monotonic-clock` with the bounded one.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = monotonic_clock::add_to_linker::<CallState, BoundedClock>(linker, view);
    linker.allow_shadowing(false);
    added
}
