//! A tenant: one destination config with its limits, its transport and its cache.

use std::sync::Arc;

use super::cache::TenantCache;
use super::limits::Limits;
use super::policy::Origin;
use super::transport::Transport;

/// One destination config of one customer. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct Tenant {
    pub id: String,
    /// The destination config (JSON) passed to the plugin. Also the source of the outbound
    /// policy (its `subdomain` / `domain`).
    pub config: String,
    pub limits: Limits,
    pub transport: Arc<dyn Transport>,
    /// When set, allowed requests go to this loopback origin instead (testing).
    pub origin_override: Option<Origin>,
    cache: TenantCache,
}

impl Tenant {
    pub fn new(
        id: impl Into<String>,
        config_json: impl Into<String>,
        limits: Limits,
        transport: Arc<dyn Transport>,
        origin_override: Option<Origin>,
    ) -> Tenant {
        Tenant {
            id: id.into(),
            config: config_json.into(),
            limits,
            transport,
            origin_override,
            cache: TenantCache::new(),
        }
    }

    /// This tenant's cache, shared by all its calls.
    pub fn cache(&self) -> &TenantCache {
        &self.cache
    }
}

impl std::fmt::Debug for Tenant {
    // The config holds credentials: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("id", &self.id)
            .field("limits", &self.limits)
            .field("origin_override", &self.origin_override)
            .finish_non_exhaustive()
    }
}
