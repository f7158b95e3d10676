//! Partition leases: a worker delivers a partition only while it holds the partition's entry in
//! the `cdp_leases` bucket, renewed every few seconds (compare-and-set on its revision). A
//! killed worker's leases expire with the bucket's age limit; a draining worker hands its
//! partitions back as `free`. Workers announce themselves in the same bucket and each claims
//! its fair share of the partitions.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use async_nats::jetstream::kv;
use bytes::Bytes;
use futures_util::StreamExt;

use crate::PARTITIONS;

/// An entry not renewed for this long is gone: its partition is free, its worker dead.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often leases and the worker's own heartbeat are renewed.
pub const RENEW_EVERY: Duration = Duration::from_secs(2);
const FREE: &[u8] = b"free";

fn lease_key(partition: u32) -> String {
    format!("p.{partition}")
}

fn worker_key(worker: &str) -> String {
    format!("w.{worker}")
}

/// Whether `worker` holds `partition`'s lease right now: checked before every pull, so a worker
/// whose lease lapsed (a slow renewal) never delivers next to the partition's new owner.
pub async fn holds(store: &kv::Store, partition: u32, worker: &str) -> bool {
    matches!(
        store.get(lease_key(partition)).await,
        Ok(Some(value)) if value.as_ref() == worker.as_bytes()
    )
}

/// How a partition came to this worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Handed back by a draining worker (or never owned): nothing of it is in flight elsewhere.
    Clean,
    /// Its owner stopped renewing (killed): messages it held may still be unacknowledged, so
    /// deliveries wait until JetStream redelivers them.
    Expired,
}

pub struct Leases {
    store: kv::Store,
    worker: String,
    /// Partition -> the revision of our lease entry.
    held: BTreeMap<u32, u64>,
}

impl Leases {
    pub fn new(store: kv::Store, worker: String) -> Leases {
        Leases {
            store,
            worker,
            held: BTreeMap::new(),
        }
    }

    pub fn held(&self) -> Vec<u32> {
        self.held.keys().copied().collect()
    }

    /// Renews what is held (dropping what another worker took) and claims free partitions up to
    /// this worker's share. Returns the partitions newly claimed, and the ones lost.
    pub async fn renew(&mut self) -> Result<(Vec<(u32, Claim)>, Vec<u32>)> {
        let lost = self.renew_held().await?;
        let workers = self.live_workers().await?.max(1);
        let share = PARTITIONS.div_ceil(workers) as usize;
        let mut claimed = Vec::new();
        for partition in 0..PARTITIONS {
            if self.held.len() >= share {
                break;
            }
            if self.held.contains_key(&partition) {
                continue;
            }
            if let Some(claim) = self.try_claim(partition).await? {
                claimed.push((partition, claim));
            }
        }
        Ok((claimed, lost))
    }

    /// Renews the heartbeat and the leases held; returns the partitions another worker took.
    pub async fn renew_held(&mut self) -> Result<Vec<u32>> {
        self.store
            .put(worker_key(&self.worker), Bytes::from_static(b"alive"))
            .await?;
        let mut lost = Vec::new();
        for (partition, revision) in self.held.clone() {
            let mine = Bytes::from(self.worker.clone());
            match self
                .store
                .update(lease_key(partition), mine, revision)
                .await
            {
                Ok(revision) => {
                    self.held.insert(partition, revision);
                }
                Err(_) => {
                    self.held.remove(&partition);
                    lost.push(partition);
                }
            }
        }
        Ok(lost)
    }

    async fn try_claim(&mut self, partition: u32) -> Result<Option<Claim>> {
        let key = lease_key(partition);
        let mine = Bytes::from(self.worker.clone());
        let entry = self.store.entry(&key).await?;
        let result = match entry {
            // Absent or deleted: never owned, or the owner's lease expired.
            None => self
                .store
                .create(&key, mine)
                .await
                .ok()
                .map(|r| (r, Claim::Expired)),
            Some(entry) if entry.operation != kv::Operation::Put => self
                .store
                .create(&key, mine)
                .await
                .ok()
                .map(|r| (r, Claim::Expired)),
            Some(entry) if entry.value.as_ref() == FREE => self
                .store
                .update(&key, mine, entry.revision)
                .await
                .ok()
                .map(|r| (r, Claim::Clean)),
            Some(_) => None,
        };
        Ok(result.map(|(revision, claim)| {
            self.held.insert(partition, revision);
            claim
        }))
    }

    /// Drops every lease held without a word to the store (they could not be renewed).
    pub fn forget(&mut self) {
        self.held.clear();
    }

    /// Hands `partition` back as free (after its deliveries finished).
    pub async fn release(&mut self, partition: u32) {
        if let Some(revision) = self.held.remove(&partition) {
            let _ = self
                .store
                .update(lease_key(partition), Bytes::from_static(FREE), revision)
                .await;
        }
    }

    /// The worker leaves: its heartbeat goes, so the others take a larger share.
    pub async fn leave(&mut self) {
        for partition in self.held() {
            self.release(partition).await;
        }
        let _ = self.store.delete(worker_key(&self.worker)).await;
    }

    /// Partitions over this worker's share (after new workers joined), to hand back.
    pub async fn surplus(&self) -> Result<Vec<u32>> {
        let workers = self.live_workers().await?.max(1);
        let share = PARTITIONS.div_ceil(workers) as usize;
        Ok(self.held.keys().copied().skip(share).collect())
    }

    /// Workers whose heartbeat is fresh.
    pub async fn live_workers(&self) -> Result<u32> {
        let mut keys = self.store.keys().await?;
        let mut workers = 0;
        while let Some(key) = keys.next().await {
            if key?.starts_with("w.") {
                workers += 1;
            }
        }
        Ok(workers)
    }
}
