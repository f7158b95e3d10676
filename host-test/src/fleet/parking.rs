//! Parked keys of one partition: the head event waiting for its retry (a NAK with delay) and
//! until when. Later events of a parked key are NAKed behind it, so they never overtake it, while
//! other keys keep flowing. The map lives in the `cdp_parked` bucket, so the partition's next
//! owner (after a drain or a crash) keeps honouring it.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::kv;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parked {
    /// The stream sequence of the key's waiting head event.
    pub head: u64,
    /// Unix ms when its retry is due.
    pub until_ms: u64,
}

pub struct Parking {
    store: kv::Store,
    partition: u32,
    /// Order key -> its waiting head.
    keys: HashMap<String, Parked>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Parking {
    /// The partition's parked keys as its last owner left them.
    pub async fn load(store: kv::Store, partition: u32) -> Parking {
        let keys = match store.get(format!("p.{partition}")).await {
            Ok(Some(value)) => serde_json::from_slice(&value).unwrap_or_default(),
            _ => HashMap::new(),
        };
        Parking {
            store,
            partition,
            keys,
        }
    }

    pub fn get(&self, key: &str) -> Option<Parked> {
        self.keys.get(key).copied()
    }

    pub async fn park(&mut self, key: &str, head: u64, wait: Duration) {
        let until_ms = now_ms().saturating_add(u64::try_from(wait.as_millis()).unwrap_or(0));
        self.keys.insert(key.to_string(), Parked { head, until_ms });
        self.save().await;
    }

    /// The key's head finished: its later events may go.
    pub async fn release(&mut self, key: &str, head: u64) {
        if self.keys.get(key).is_some_and(|parked| parked.head == head) {
            self.keys.remove(key);
            self.save().await;
        }
    }

    async fn save(&self) {
        if let Ok(value) = serde_json::to_vec(&self.keys) {
            let _ = self
                .store
                .put(format!("p.{}", self.partition), Bytes::from(value))
                .await;
        }
    }
}
