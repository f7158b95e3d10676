//! Back-pressure for the instance pool: a call waits for a free slot instead of failing when
//! more calls run at once than the pool has instances.

use std::sync::{Condvar, Mutex};

pub struct InstancePermits {
    available: Mutex<u32>,
    freed: Condvar,
}

/// A held slot; released on drop.
pub struct Permit<'a> {
    permits: &'a InstancePermits,
}

impl InstancePermits {
    pub fn new(count: u32) -> InstancePermits {
        InstancePermits {
            available: Mutex::new(count.max(1)),
            freed: Condvar::new(),
        }
    }

    pub fn acquire(&self) -> Permit<'_> {
        let mut available = self.available.lock().unwrap_or_else(|p| p.into_inner());
        while *available == 0 {
            available = self
                .freed
                .wait(available)
                .unwrap_or_else(|p| p.into_inner());
        }
        *available -= 1;
        Permit { permits: self }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut available = self
            .permits
            .available
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *available += 1;
        self.permits.freed.notify_one();
    }
}
