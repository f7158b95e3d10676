//! Back-pressure for the instance pool: a call waits (holding no thread) for a free slot instead
//! of failing when more calls run at once than the pool has instances.

use tokio::sync::{Semaphore, SemaphorePermit};

pub struct InstancePermits {
    slots: Semaphore,
}

impl InstancePermits {
    pub fn new(count: u32) -> InstancePermits {
        InstancePermits {
            slots: Semaphore::new(count.max(1) as usize),
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
    pub fn in_use(&self, count: u32) -> usize {
        (count.max(1) as usize).saturating_sub(self.slots.available_permits())
    }
}
