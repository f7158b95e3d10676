//! A tenant's share of an async source's calls, for sources whose events arrive already pulled
//! (a queue's batch): at most [`TenantLimit::in_flight`] events of one tenant in flight, and
//! [`TenantLimit::until_warm`] until its first call is done, since that call fills the caches
//! the others read (without it, a cold tenant's concurrent first events each look up the same
//! users and organizations). [`KeyedQueue`](super::KeyedQueue) applies the same limit to the
//! sources it schedules.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::TenantLimit;

pub struct TenantGate {
    limit: TenantLimit,
    tenants: Mutex<HashMap<String, Arc<Share>>>,
}

/// One tenant's permits: `until_warm` of them, and the rest of `in_flight` once warm.
struct Share {
    permits: Arc<Semaphore>,
    warm: AtomicBool,
}

/// Events of one tenant let through; [`TenantPermit::done`] when their call is over.
pub struct TenantPermit {
    _permits: OwnedSemaphorePermit,
    share: Arc<Share>,
    limit: TenantLimit,
}

impl TenantGate {
    pub fn new(limit: TenantLimit) -> TenantGate {
        let limit = TenantLimit {
            in_flight: limit.in_flight.clamp(1, Semaphore::MAX_PERMITS),
            until_warm: limit.until_warm.clamp(1, limit.in_flight.max(1)),
        };
        TenantGate {
            limit,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until `events` more events of `tenant` may be in flight (a call of more events
    /// than the tenant's limit waits for the whole limit).
    pub async fn enter(&self, tenant: &str, events: usize) -> TenantPermit {
        let share = {
            let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
            let share = tenants.entry(tenant.to_string()).or_insert_with(|| {
                Arc::new(Share {
                    permits: Arc::new(Semaphore::new(self.limit.until_warm)),
                    warm: AtomicBool::new(false),
                })
            });
            Arc::clone(share)
        };
        let cap = match share.warm.load(Ordering::Acquire) {
            true => self.limit.in_flight,
            false => self.limit.until_warm,
        };
        let wanted = u32::try_from(events.clamp(1, cap)).unwrap_or(u32::MAX);
        let permits = Arc::clone(&share.permits)
            .acquire_many_owned(wanted)
            .await
            .expect("a tenant's semaphore is never closed");
        TenantPermit {
            _permits: permits,
            share,
            limit: self.limit,
        }
    }
}

impl TenantPermit {
    /// The call is over: the tenant is warm, and has its whole limit from now on.
    pub fn done(self) {
        if !self.share.warm.swap(true, Ordering::AcqRel) {
            let more = self.limit.in_flight - self.limit.until_warm;
            self.share.permits.add_permits(more);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn gate() -> TenantGate {
        TenantGate::new(TenantLimit {
            in_flight: 3,
            until_warm: 1,
        })
    }

    async fn admits(gate: &TenantGate, tenant: &str) -> Option<TenantPermit> {
        tokio::time::timeout(Duration::from_millis(20), gate.enter(tenant, 1))
            .await
            .ok()
    }

    #[tokio::test]
    async fn a_cold_tenant_has_one_call_until_it_is_done_then_its_whole_limit() {
        let gate = gate();
        let first = admits(&gate, "a").await.expect("the first call goes");
        assert!(
            admits(&gate, "a").await.is_none(),
            "a second waits while cold"
        );
        let other = admits(&gate, "b").await;
        assert!(other.is_some(), "another tenant does not wait for it");
        first.done();
        let held: Vec<_> = [
            admits(&gate, "a").await,
            admits(&gate, "a").await,
            admits(&gate, "a").await,
        ]
        .into_iter()
        .map(|permit| permit.expect("warm: three at once"))
        .collect();
        assert!(admits(&gate, "a").await.is_none(), "never more than three");
        drop(held);
        assert!(
            admits(&gate, "a").await.is_some(),
            "a finished call frees its place"
        );
    }

    #[tokio::test]
    async fn a_call_larger_than_the_limit_waits_for_the_whole_limit_not_forever() {
        let gate = gate();
        gate.enter("a", 1).await.done();
        let whole = tokio::time::timeout(Duration::from_millis(20), gate.enter("a", 50)).await;
        let whole = whole.expect("a 50-event call takes the 3 places");
        assert!(admits(&gate, "a").await.is_none());
        whole.done();
        assert!(admits(&gate, "a").await.is_some());
    }
}
