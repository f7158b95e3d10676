//! The tenant-scoped cache behind the `cache` import: the [`CacheStore`] trait (one store per
//! tenant), and [`TenantCache`], the in-memory store: TTL honoured, bounded. A fleet plugs in a
//! shared store instead (e.g. a key-value bucket), so all its workers share what plugins learn.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most entries one tenant may keep; the oldest is evicted first.
const MAX_ENTRIES: usize = 10_000;
/// Largest value the `cache` import stores, in bytes; larger values are not stored (the cache
/// is best-effort).
const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Largest key the `cache` import accepts, in bytes.
const MAX_KEY_BYTES: usize = 1024;

/// Whether the `cache` import stores this entry: the limits hold for every [`CacheStore`]
/// behind it (the in-memory one, a fleet's key-value bucket, an embedder's own).
pub(crate) fn storable(key: &str, value: &str, ttl: Duration) -> bool {
    readable(key) && value.len() <= MAX_VALUE_BYTES && !ttl.is_zero()
}

/// Whether the `cache` import looks this key up (a longer one was never stored).
pub(crate) fn readable(key: &str) -> bool {
    key.len() <= MAX_KEY_BYTES
}

/// One tenant's best-effort cache: entries may vanish at any time. Implementations must keep
/// tenants apart (each tenant gets its own store, or a store scoped to it).
pub trait CacheStore: Send + Sync {
    fn get(&self, key: &str) -> Option<String>;
    fn set(&self, key: &str, value: &str, ttl: Duration);
    fn remove(&self, key: &str);
}

impl CacheStore for TenantCache {
    fn get(&self, key: &str) -> Option<String> {
        TenantCache::get(self, key)
    }

    fn set(&self, key: &str, value: &str, ttl: Duration) {
        TenantCache::set(self, key, value, ttl);
    }

    fn remove(&self, key: &str) {
        TenantCache::remove(self, key);
    }
}

/// One tenant's cache. Clones share the entries; tenants never share a `TenantCache`.
#[derive(Clone, Default)]
pub struct TenantCache {
    inner: Arc<Mutex<Entries>>,
}

#[derive(Default)]
struct Entries {
    values: HashMap<String, Entry>,
    /// Insertion order, for eviction. May hold keys that were removed or re-set since (skipped
    /// by comparing the generation).
    order: VecDeque<(String, u64)>,
    next_generation: u64,
}

struct Entry {
    value: String,
    expires: Instant,
    generation: u64,
}

impl TenantCache {
    pub fn new() -> TenantCache {
        TenantCache::default()
    }

    /// The live value under `key`; expired entries are misses (and are dropped).
    pub fn get(&self, key: &str) -> Option<String> {
        let mut entries = self.lock();
        let expired = entries.values.get(key)?.expires <= Instant::now();
        if expired {
            entries.values.remove(key);
            return None;
        }
        entries.values.get(key).map(|entry| entry.value.clone())
    }

    /// Stores `value` for `ttl` (a zero TTL stores nothing).
    pub fn set(&self, key: &str, value: &str, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let expires = Instant::now()
            .checked_add(ttl)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
        let mut entries = self.lock();
        let generation = entries.next_generation;
        entries.next_generation += 1;
        entries.values.insert(
            key.to_string(),
            Entry {
                value: value.to_string(),
                expires,
                generation,
            },
        );
        entries.order.push_back((key.to_string(), generation));
        entries.evict_to(MAX_ENTRIES);
    }

    pub fn remove(&self, key: &str) {
        self.lock().values.remove(key);
    }

    /// Live and expired-but-not-yet-dropped entries.
    pub fn len(&self) -> usize {
        self.lock().values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the map half-updated in a harmful way:
        // the cache is best-effort, so keep using it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Entries {
    fn evict_to(&mut self, max_entries: usize) {
        while self.values.len() > max_entries {
            let Some((key, generation)) = self.order.pop_front() else {
                return;
            };
            let current = self
                .values
                .get(&key)
                .is_some_and(|e| e.generation == generation);
            if current {
                self.values.remove(&key);
            }
        }
        // Stale order entries pile up when keys are re-set often; drop them eagerly.
        if self.order.len() > 2 * max_entries.max(1) {
            let values = &self.values;
            self.order.retain(|(key, generation)| {
                values.get(key).is_some_and(|e| e.generation == *generation)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_expire_after_their_ttl() {
        let cache = TenantCache::new();
        cache.set("a", "1", Duration::from_millis(30));
        cache.set("b", "2", Duration::from_secs(60));
        assert_eq!(cache.get("a").as_deref(), Some("1"));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get("a"), None);
        assert_eq!(cache.get("b").as_deref(), Some("2"));
    }

    #[test]
    fn oldest_entries_are_evicted_beyond_the_bound() {
        let cache = TenantCache::new();
        let ttl = Duration::from_secs(60);
        for i in 0..MAX_ENTRIES + 5 {
            cache.set(&format!("k{i}"), "v", ttl);
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        assert_eq!(cache.get("k0"), None);
        assert_eq!(cache.get("k4"), None);
        assert_eq!(cache.get("k5").as_deref(), Some("v"));
    }

    #[test]
    fn re_setting_a_key_keeps_it_newest() {
        let cache = TenantCache::new();
        let ttl = Duration::from_secs(60);
        cache.set("old", "1", ttl);
        for i in 0..MAX_ENTRIES - 1 {
            cache.set(&format!("k{i}"), "v", ttl);
        }
        cache.set("old", "2", ttl);
        cache.set("new", "3", ttl);
        assert_eq!(cache.get("old").as_deref(), Some("2"));
        assert_eq!(cache.get("k0"), None);
    }

    #[test]
    fn oversized_entries_are_not_stored_and_removed_keys_are_misses() {
        let minute = Duration::from_secs(60);
        assert!(storable("k", &"x".repeat(MAX_VALUE_BYTES), minute));
        assert!(!storable("k", &"x".repeat(MAX_VALUE_BYTES + 1), minute));
        assert!(!storable(&"k".repeat(MAX_KEY_BYTES + 1), "v", minute));
        assert!(!storable("k", "v", Duration::ZERO));
        assert!(!readable(&"k".repeat(MAX_KEY_BYTES + 1)));
        let cache = TenantCache::new();
        cache.set("k", "v", Duration::from_secs(60));
        cache.remove("k");
        assert_eq!(cache.get("k"), None);
    }

    #[test]
    fn clones_share_entries_but_new_caches_do_not() {
        let cache = TenantCache::new();
        cache.clone().set("k", "v", Duration::from_secs(60));
        assert_eq!(cache.get("k").as_deref(), Some("v"));
        assert_eq!(TenantCache::new().get("k"), None);
    }
}
