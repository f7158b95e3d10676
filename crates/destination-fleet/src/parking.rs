//! Parked keys of one partition. A key is parked while its head event waits for a retry (a
//! NAK with delay): the key's later events that arrive meanwhile are NAKed behind it and join
//! its waiting list, and a key's event is delivered only when it is the oldest on that list, so
//! nothing overtakes an earlier event of its key, while other keys keep flowing. The lists live
//! in the `cdp_parked` bucket, so the partition's next owner (after a drain or a crash) keeps
//! honouring them.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use destination_host::delivery::now_ms;

use async_nats::jetstream::kv;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A waiting list older than this past its due time is stale (its events went elsewhere).
const STALE_AFTER: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Waiting {
    /// Stream sequences of the key's events that wait, oldest first.
    sequences: BTreeSet<u64>,
    /// Unix ms when the oldest one's retry is due.
    until_ms: u64,
}

/// What to do with an event of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    /// Deliver it now.
    Go,
    /// NAK it for this long: an older event of its key waits.
    Wait(Duration),
}

pub struct Parking {
    store: kv::Store,
    partition: u32,
    keys: HashMap<String, Waiting>,
}

impl Parking {
    /// The partition's waiting lists as its last owner left them.
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

    /// Whether the event `sequence` of `key` goes now; if not, it joins the key's list.
    pub async fn turn(&mut self, key: &str, sequence: u64) -> Turn {
        let now = now_ms();
        let Some(waiting) = self.keys.get_mut(key) else {
            return Turn::Go;
        };
        let stale = now > waiting.until_ms + STALE_AFTER.as_millis() as u64;
        if stale {
            self.keys.remove(key);
            self.save().await;
            return Turn::Go;
        }
        if waiting.sequences.first() == Some(&sequence) {
            return Turn::Go;
        }
        let added = waiting.sequences.insert(sequence);
        let rank = waiting.sequences.range(..sequence).count() as u64;
        let wait = waiting.until_ms.saturating_sub(now).max(200) + 20 * rank;
        if added {
            self.save().await;
        }
        Turn::Wait(Duration::from_millis(wait))
    }

    /// The event `sequence` of `key` is retried after `wait`: it heads the key's list.
    pub async fn park(&mut self, key: &str, sequence: u64, wait: Duration) {
        let until_ms = now_ms().saturating_add(u64::try_from(wait.as_millis()).unwrap_or(0));
        let waiting = self.keys.entry(key.to_string()).or_default();
        waiting.sequences.insert(sequence);
        waiting.until_ms = until_ms;
        self.save().await;
    }

    /// The event `sequence` of `key` is settled: the next on its list may go.
    pub async fn settled(&mut self, key: &str, sequence: u64) {
        let Some(waiting) = self.keys.get_mut(key) else {
            return;
        };
        waiting.sequences.remove(&sequence);
        if waiting.sequences.is_empty() {
            self.keys.remove(key);
        } else {
            // The next one was NAKed to come back about now.
            waiting.until_ms = now_ms();
        }
        self.save().await;
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
