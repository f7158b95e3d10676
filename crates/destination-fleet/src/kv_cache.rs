//! The plugins' tenant cache in a JetStream key-value bucket, shared by every worker: a field
//! definition or a user id one worker learnt saves the others the lookup. Keys are scoped by
//! tenant (`<tenant>.<key>`, both encoded); an entry carries its own expiry, since the bucket's
//! age limit is one for all.
//!
//! Each worker reads a local copy of the bucket ([`KvMirror`]), kept current by one watch: the
//! other workers' writes arrive within milliseconds, and a read costs no round trip (it was one
//! KV request each, about 150 µs under load, several per event). Writes update the copy at once
//! (a worker reads its own writes) and go to the bucket in order, from one writer task, without
//! the sandbox waiting for them. The copy holds the whole bucket: entries expire within a day
//! (the bucket's age limit), so it is bounded by what the tenants cached in the last day.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use destination_host::CacheStore;
use destination_host::delivery::now_ms;

use crate::kv_token;

/// The bucket's age limit: no entry outlives it, whatever TTL the plugin asked for.
pub const MAX_TTL: Duration = Duration::from_secs(86_400);

/// How long start-up waits for the bucket's current entries before reading from the copy.
const INITIAL_LOAD: Duration = Duration::from_secs(5);

/// Bucket key -> (expiry in ms since the epoch, value).
type Entries = HashMap<String, (u64, String)>;

enum Write {
    Put(String, Bytes),
    Delete(String),
}

/// One worker's local copy of the cache bucket.
pub struct KvMirror {
    entries: Arc<RwLock<Entries>>,
    writes: mpsc::UnboundedSender<Write>,
}

impl KvMirror {
    /// Loads the bucket's current entries, then follows its changes; writes go through one task.
    pub async fn start(store: kv::Store) -> anyhow::Result<Arc<KvMirror>> {
        let entries: Arc<RwLock<Entries>> = Arc::default();
        let mut watch = store.watch_with_history(">").await?;
        // The store's own status is what it saw when opened: ask the stream now.
        let mut pending = store.stream.clone().info().await?.state.messages;
        let loading = tokio::time::timeout(INITIAL_LOAD, async {
            while pending > 0 {
                let Some(Ok(entry)) = watch.next().await else {
                    break;
                };
                pending = entry.delta;
                apply(&entries, entry);
            }
        });
        if loading.await.is_err() {
            tracing::warn!("the shared cache's entries did not all load in time: reading on");
        }
        let following = Arc::clone(&entries);
        tokio::spawn(async move {
            while let Some(Ok(entry)) = watch.next().await {
                apply(&following, entry);
            }
            tracing::warn!("the shared cache's watch ended: this worker reads its own writes only");
        });
        let (writes, mut queued) = mpsc::unbounded_channel::<Write>();
        tokio::spawn(async move {
            while let Some(write) = queued.recv().await {
                // Best effort, like every cache: a failed write is a later miss.
                match write {
                    Write::Put(key, value) => {
                        let _ = store.put(key, value).await;
                    }
                    Write::Delete(key) => {
                        let _ = store.delete(key).await;
                    }
                }
            }
        });
        Ok(Arc::new(KvMirror { entries, writes }))
    }

    fn get(&self, key: &str) -> Option<String> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let (expires, value) = entries.get(key)?;
        (*expires > now_ms()).then(|| value.clone())
    }

    fn put(&self, key: String, expires: u64, value: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), (expires, value.to_string()));
        let entry = Bytes::from(format!("{expires} {value}"));
        let _ = self.writes.send(Write::Put(key, entry));
    }

    fn delete(&self, key: String) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        let _ = self.writes.send(Write::Delete(key));
    }
}

/// One change from the watch, applied to the copy.
fn apply(entries: &RwLock<Entries>, entry: kv::Entry) {
    let mut entries = entries.write().unwrap_or_else(|e| e.into_inner());
    match entry.operation {
        kv::Operation::Put => match parse(&entry.value) {
            Some(parsed) => {
                entries.insert(entry.key, parsed);
            }
            None => {
                entries.remove(&entry.key);
            }
        },
        kv::Operation::Delete | kv::Operation::Purge => {
            entries.remove(&entry.key);
        }
    }
}

/// `"<expires ms> <value>"`.
fn parse(value: &[u8]) -> Option<(u64, String)> {
    let text = std::str::from_utf8(value).ok()?;
    let (expires, value) = text.split_once(' ')?;
    Some((expires.parse().ok()?, value.to_string()))
}

/// One tenant's view of the shared cache. Its methods never wait on the network.
pub struct KvCache {
    mirror: Arc<KvMirror>,
    prefix: String,
}

impl KvCache {
    pub fn new(mirror: Arc<KvMirror>, tenant: &str) -> KvCache {
        KvCache {
            mirror,
            prefix: kv_token(tenant),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}.{}", self.prefix, kv_token(key))
    }
}

impl CacheStore for KvCache {
    fn get(&self, key: &str) -> Option<String> {
        self.mirror.get(&self.key(key))
    }

    fn set(&self, key: &str, value: &str, ttl: Duration) {
        let ttl = ttl.min(MAX_TTL);
        if ttl.is_zero() {
            return;
        }
        let expires = now_ms().saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        self.mirror.put(self.key(key), expires, value);
    }

    fn remove(&self, key: &str) {
        self.mirror.delete(self.key(key));
    }
}
