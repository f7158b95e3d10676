//! A tenant: one destination config with its limits, allowed origins, transport and cache, and
//! what the runtime learned about its config from each plugin version.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cache::{CacheStore, TenantCache};
use crate::credentials::TokenSource;
use crate::limits::Limits;
use crate::pacing::{LocalRateBudget, RateBudget};
use crate::policy::{OriginTemplate, OutboundPolicy};
use crate::redact::Redactor;
use crate::report::CallError;
use crate::report::{ConfigFacts, GuestError};
use crate::transport::Transport;

/// One destination config of one customer. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct Tenant {
    pub id: String,
    /// The destination config (JSON) passed to the plugin.
    pub config: String,
    pub limits: Limits,
    pub transport: Arc<dyn Transport>,
    /// The tenant's share of its account's rate limit (see [`crate::pacing`]).
    pub rate: Arc<dyn RateBudget>,
    allowed_origins: Arc<[OriginTemplate]>,
    /// Values for the origin templates chosen by the platform (else the plugin's facts).
    origin_values: Option<Arc<[(String, String)]>>,
    /// Where the tenant's OAuth access tokens come from (its config then gets the current one
    /// as `oauthToken` for each call).
    tokens: Option<Arc<TokenSource>>,
    cache: Arc<dyn CacheStore>,
    /// What the runtime derived from the config, and when a call last used it.
    prepared: Arc<Mutex<Option<InUse>>>,
}

/// Prepared state and when a call last used it.
type InUse = (Arc<Prepared>, Instant);

/// What one plugin version said about this tenant's config (`validate-config`), and the policy
/// and redaction derived from it.
pub(crate) struct Prepared {
    pub plugin_id: u64,
    /// The facts the plugin reported (`None` for a 0.1.0 plugin or a refused config).
    pub reported: Option<ConfigFacts>,
    pub validation: Result<(), GuestError>,
    pub policy: Arc<OutboundPolicy>,
    pub redactor: Redactor,
}

impl Tenant {
    /// A tenant that may reach no origin until [`Tenant::with_allowed_origins`] says which.
    pub fn new(
        id: impl Into<String>,
        config_json: impl Into<String>,
        limits: Limits,
        transport: Arc<dyn Transport>,
    ) -> Tenant {
        Tenant {
            id: id.into(),
            config: config_json.into(),
            limits,
            transport,
            rate: Arc::new(LocalRateBudget::new()),
            allowed_origins: Arc::from(Vec::new()),
            origin_values: None,
            tokens: None,
            cache: Arc::new(TenantCache::new()),
            prepared: Arc::default(),
        }
    }

    /// The origins this tenant may reach, as templates the plugin fills from its config (e.g.
    /// `https://{subdomain}.zendesk.com`). The platform decides these, never the plugin.
    pub fn with_allowed_origins(
        mut self,
        templates: impl IntoIterator<Item = OriginTemplate>,
    ) -> Tenant {
        self.allowed_origins = templates.into_iter().collect();
        self.prepared = Arc::default();
        self
    }

    /// Fills the origin templates with these values, whatever the plugin reports (a platform
    /// that knows the tenant's account; needed for plugins that report no config facts).
    pub fn with_origin_values(mut self, values: Vec<(String, String)>) -> Tenant {
        self.origin_values = Some(values.into());
        self.prepared = Arc::default();
        self
    }

    pub(crate) fn origin_values(&self) -> Option<&[(String, String)]> {
        self.origin_values.as_deref()
    }

    /// Gives the tenant OAuth access tokens from `tokens`: each call's config carries the
    /// current one as `oauthToken`, and a 401 refreshes it once.
    pub fn with_token_source(mut self, tokens: Arc<TokenSource>) -> Tenant {
        self.tokens = Some(tokens);
        self
    }

    pub fn token_source(&self) -> Option<&Arc<TokenSource>> {
        self.tokens.as_ref()
    }

    /// The tenant as a call sees it: an OAuth tenant with a fresh access token in its config
    /// (see [`Tenant::with_token_source`]), any other as it is. A dead grant is
    /// [`CallError::Auth`] (naming the tenant and what to do); a token endpoint failing for now
    /// is [`CallError::AuthUnavailable`], retryable.
    pub fn authorized(&self) -> Result<(Tenant, Option<String>), CallError> {
        let Some(tokens) = &self.tokens else {
            return Ok((self.clone(), None));
        };
        let token = tokens.access_token()?;
        Ok((self.with_access_token(&token), Some(token)))
    }

    /// [`Tenant::authorized`] for async code: a fresh token in hand is used at once; getting
    /// one may block on the token endpoint (and on another task's refresh), so that runs on a
    /// blocking thread.
    pub async fn authorized_async(&self) -> Result<(Tenant, Option<String>), CallError> {
        let Some(tokens) = &self.tokens else {
            return Ok((self.clone(), None));
        };
        if let Some(token) = tokens.fresh_token() {
            return Ok((self.with_access_token(&token), Some(token)));
        }
        let tenant = self.clone();
        tokio::task::spawn_blocking(move || tenant.authorized())
            .await
            .unwrap_or_else(|joined| std::panic::resume_unwind(joined.into_panic()))
    }

    /// This tenant with `token` as its config's `oauthToken` (the rest shared). The plugin
    /// never sees the grant's secrets: its `oauth` object keeps only what is not one.
    pub(crate) fn with_access_token(&self, token: &str) -> Tenant {
        let mut config: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&self.config).unwrap_or_default();
        if let Some(serde_json::Value::Object(oauth)) = config.get_mut("oauth") {
            oauth.retain(|key, _| ["clientId", "grantType", "scope"].contains(&key.as_str()));
        }
        config.insert("oauthToken".into(), token.into());
        Tenant {
            config: serde_json::Value::Object(config).to_string(),
            ..self.clone()
        }
    }

    /// Shares a rate budget with the tenant's other senders (threads, processes, a fleet).
    pub fn with_rate_budget(mut self, rate: Arc<dyn RateBudget>) -> Tenant {
        self.rate = rate;
        self
    }

    pub fn allowed_origins(&self) -> &[OriginTemplate] {
        &self.allowed_origins
    }

    /// This tenant's cache, shared by all its calls.
    pub fn cache(&self) -> &dyn CacheStore {
        self.cache.as_ref()
    }

    /// Replaces the tenant's in-memory cache with a shared store (scoped to this tenant).
    pub fn with_cache(mut self, cache: Arc<dyn CacheStore>) -> Tenant {
        self.cache = cache;
        self
    }

    pub(crate) fn prepared_for(&self, plugin_id: u64) -> Option<Arc<Prepared>> {
        let mut prepared = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        let (found, used) = prepared
            .as_mut()
            .filter(|(p, _)| p.plugin_id == plugin_id)?;
        *used = Instant::now();
        Some(Arc::clone(found))
    }

    pub(crate) fn remember(&self, prepared: Arc<Prepared>) {
        *self.prepared.lock().unwrap_or_else(|p| p.into_inner()) = Some((prepared, Instant::now()));
    }

    /// Forgets what the runtime derived from this tenant's config (the plugin's answer to
    /// `validate-config`, the outbound policy, the redactor: most of what a tenant costs the
    /// host) when no call used it for `idle`. Its next call rebuilds it, one sandbox run. True
    /// when it was forgotten. A platform with many mostly idle tenants sweeps them now and then.
    pub fn evict_if_idle(&self, idle: Duration) -> bool {
        let mut prepared = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        let stale = prepared
            .as_ref()
            .is_some_and(|(_, used)| used.elapsed() >= idle);
        if stale {
            *prepared = None;
        }
        stale
    }
}

impl std::fmt::Debug for Tenant {
    // The config holds credentials: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("id", &self.id)
            .field("limits", &self.limits)
            .field("allowed_origins", &self.allowed_origins)
            .finish_non_exhaustive()
    }
}
