//! The plugins' tenant cache in a JetStream key-value bucket, shared by every worker: a field
//! definition or a user id one worker learnt saves the others the lookup. Keys are scoped by
//! tenant (`<tenant>.<key>`, both encoded); an entry carries its own expiry, since the bucket's
//! age limit is one for all.

use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use tokio::runtime::Handle;

use destination_host::CacheStore;
use destination_host::delivery::now_ms;

use crate::kv_token;

/// The bucket's age limit: no entry outlives it, whatever TTL the plugin asked for.
pub const MAX_TTL: Duration = Duration::from_secs(86_400);

/// One tenant's view of the shared bucket. Its methods block (they run on the sandbox's thread,
/// never on the async runtime's).
pub struct KvCache {
    store: kv::Store,
    runtime: Handle,
    prefix: String,
}

impl KvCache {
    pub fn new(store: kv::Store, runtime: Handle, tenant: &str) -> KvCache {
        KvCache {
            store,
            runtime,
            prefix: kv_token(tenant),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}.{}", self.prefix, kv_token(key))
    }
}

impl CacheStore for KvCache {
    fn get(&self, key: &str) -> Option<String> {
        let value = self
            .runtime
            .block_on(self.store.get(self.key(key)))
            .ok()??;
        // "<expires ms> <value>"
        let text = std::str::from_utf8(&value).ok()?;
        let (expires, value) = text.split_once(' ')?;
        (expires.parse::<u64>().ok()? > now_ms()).then(|| value.to_string())
    }

    fn set(&self, key: &str, value: &str, ttl: Duration) {
        let ttl = ttl.min(MAX_TTL);
        if ttl.is_zero() {
            return;
        }
        let expires = now_ms().saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        let entry = Bytes::from(format!("{expires} {value}"));
        // Best effort, like every cache: a failed write is a later miss.
        let _ = self.runtime.block_on(self.store.put(self.key(key), entry));
    }

    fn remove(&self, key: &str) {
        let _ = self.runtime.block_on(self.store.delete(self.key(key)));
    }
}
