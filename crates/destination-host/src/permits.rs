//! Back-pressure for the instance pool: a call waits (holding no thread) for a free slot instead
//! of failing when more calls run at once than the pool has instances.

use tokio::sync::{Semaphore, SemaphorePermit};

pub struct InstancePermits {
    slots: Semaphore,
    total: usize,
}

impl InstancePermits {
    pub fn new(count: u32) -> InstancePermits {
        let total = count.max(1) as usize;
        InstancePermits {
            slots: Semaphore::new(total),
            total,
        }
    }

    /// A held slot; released on drop.
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        self.slots
            .acquire()
            .await
            .expect("the instance semaphore is never closed")
    }

    /// Slots in use now.
    pub fn in_use(&self) -> usize {
        self.total - self.slots.available_permits()
    }
}
