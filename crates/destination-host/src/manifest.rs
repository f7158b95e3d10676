//! The tenant manifest: the tenants a host serves, as data. One file, read by every source (the
//! file runner and the fleet alike), with a published JSON Schema ([`Manifest::json_schema`]):
//!
//! ```json
//! {
//!   "tenants": {"acme": {"subdomain": "acme", "email": "a@acme.com", "apiToken": "..."}},
//!   "limits": {"*": {"memory_mib": 32}, "acme": {"cpu_ms": 500}},
//!   "allowed_origins": ["https://{subdomain|domain}.zendesk.com"],
//!   "origin_values": {"acme": {"subdomain": "acme"}}
//! }
//! ```
//!
//! - `tenants`: each tenant's plugin config, passed to the plugin as it is. It holds the
//!   tenant's credentials, so nothing here ever prints it.
//! - `limits`: per tenant, or `"*"` for all; each key overlays the defaults, then `"*"`, on its
//!   own (`{"cpu_ms": 500}` for one tenant keeps the `"*"` memory limit).
//! - `allowed_origins`: the origin templates every tenant may reach (the host's default when
//!   absent). A literal origin (no placeholder) is allowed as it is.
//! - `origin_values`: per tenant, the values that fill the templates, decided by the platform
//!   instead of the plugin (needed for plugins that report no config facts, contract 0.1.0,
//!   whose config names the value differently).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::credentials::{CredentialStore, OAuthGrant, TokenSource};
use crate::limits::{Limits, RuntimeOptions};
use crate::policy::OriginTemplate;
use crate::tenant::Tenant;
use crate::transport::Transport;

/// The key in `"limits"` whose values apply to every tenant.
pub const ALL_TENANTS: &str = "*";

/// The manifest as written (see the [module docs](self)).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Tenant manifest", extend("$id" = "https://cdp-destination/tenants.schema.json"))]
pub struct Manifest {
    /// Tenant id -> the plugin's destination config (a JSON object, passed to the plugin as it
    /// is; it holds the tenant's credentials).
    #[schemars(extend("minProperties" = 1))]
    tenants: BTreeMap<String, TenantConfig>,
    /// Limits per tenant id, or `"*"` for every tenant; each key overlays the defaults, then
    /// `"*"`, on its own.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Limits>")]
    limits: BTreeMap<String, Map<String, Value>>,
    /// Origin templates every tenant may reach, e.g. `https://{subdomain}.zendesk.com`; a
    /// placeholder `{a|b}` takes the first of `a`, `b` that has a value. The host's default when
    /// absent.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    allowed_origins: Option<Vec<OriginTemplate>>,
    /// Per tenant id: the values that fill the origin templates' placeholders, chosen by the
    /// platform instead of the plugin.
    #[serde(default)]
    origin_values: BTreeMap<String, BTreeMap<String, String>>,
}

/// A tenant's config: any JSON object. Its `Debug` never shows it (it holds credentials).
#[derive(Deserialize, JsonSchema)]
#[serde(transparent)]
struct TenantConfig(Map<String, Value>);

impl fmt::Debug for TenantConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[config not shown: it may hold credentials]")
    }
}

/// A manifest that cannot be used, saying where.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the tenants file is not valid: at `{path}`: {message}")]
    Invalid { path: String, message: String },
    #[error("the tenants file declares no tenants")]
    NoTenants,
    #[error("a tenant id is empty")]
    EmptyTenantId,
    #[error("`{section}` names tenant {tenant:?}, which is not declared in `tenants`")]
    UnknownTenant {
        section: &'static str,
        tenant: String,
    },
    #[error("invalid limits for tenant {tenant:?}: {reason}")]
    Limits { tenant: String, reason: String },
    #[error("tenant {tenant:?}: {reason}")]
    OAuth { tenant: String, reason: String },
}

/// One tenant as the manifest declares it, ready to become a [`Tenant`].
#[derive(Clone)]
pub struct TenantSpec {
    pub id: String,
    /// The plugin config as JSON text. Holds credentials: never print it.
    pub config_json: String,
    pub limits: Limits,
    pub allowed_origins: Vec<OriginTemplate>,
    /// Values for the origin templates chosen by the platform (`origin_values`).
    pub origin_values: Option<Vec<(String, String)>>,
}

// Hand-written so a `{:?}` anywhere can never print the config's credentials.
impl fmt::Debug for TenantSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantSpec")
            .field("id", &self.id)
            .field("config_json", &"[not shown: may hold credentials]")
            .field("limits", &self.limits)
            .field("allowed_origins", &self.allowed_origins)
            .finish()
    }
}

impl TenantSpec {
    /// The tenant, sending through `transport`, with its own in-memory cache and rate budget
    /// (a source that shares them, like the fleet, replaces them with the `with_*` builders).
    pub fn tenant(&self, transport: Arc<dyn Transport>) -> Tenant {
        let tenant = Tenant::new(
            self.id.clone(),
            self.config_json.clone(),
            self.limits.clone(),
            transport,
        )
        .with_allowed_origins(self.allowed_origins.iter().cloned());
        match &self.origin_values {
            Some(values) => tenant.with_origin_values(values.clone()),
            None => tenant,
        }
    }
}

impl TenantSpec {
    /// The tenant's OAuth grant, from its config's `oauth` object (`None` without one).
    pub fn oauth_grant(&self) -> Result<Option<OAuthGrant>, ManifestError> {
        let config: Value = serde_json::from_str(&self.config_json).unwrap_or_default();
        OAuthGrant::from_config(&config).map_err(|reason| self.oauth_error(reason))
    }

    /// Its token source when its config has an `oauth` grant: tokens from `token_path` on its
    /// origin, kept in `store`, asked through `transport`.
    pub fn token_source(
        &self,
        store: Arc<dyn CredentialStore>,
        transport: Arc<dyn Transport>,
        token_path: &str,
    ) -> Result<Option<TokenSource>, ManifestError> {
        let Some(grant) = self.oauth_grant()? else {
            return Ok(None);
        };
        let url = self.token_url(token_path)?;
        Ok(Some(TokenSource::new(
            self.id.clone(),
            grant,
            url,
            store,
            transport,
        )))
    }

    /// Its token endpoint: `path` on [`TenantSpec::origin_url`].
    pub fn token_url(&self, path: &str) -> Result<String, ManifestError> {
        Ok(format!("{}{path}", self.origin_url()?))
    }

    /// Its account's origin: its first allowed origin, filled from its `origin_values`, else
    /// from its config's top-level strings (e.g. `subdomain`).
    pub fn origin_url(&self) -> Result<String, ManifestError> {
        let template = self
            .allowed_origins
            .first()
            .ok_or_else(|| self.oauth_error("no allowed origin for the token endpoint".into()))?;
        let values = match &self.origin_values {
            Some(values) => values.clone(),
            None => crate::runtime::top_level_strings(&self.config_json),
        };
        let origin = template.origin_for(&values).map_err(|reason| {
            self.oauth_error(format!("no token endpoint: {reason} (set origin_values)"))
        })?;
        Ok(origin)
    }

    fn oauth_error(&self, reason: String) -> ManifestError {
        ManifestError::OAuth {
            tenant: self.id.clone(),
            reason,
        }
    }
}

impl Manifest {
    /// Reads a manifest; errors name the key (and so the tenant) that is wrong.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let deserializer = &mut serde_json::Deserializer::from_str(text);
        let manifest: Manifest =
            serde_path_to_error::deserialize(deserializer).map_err(|error| {
                let path = error.path().to_string();
                ManifestError::Invalid {
                    path: if path == "." {
                        "(top level)".into()
                    } else {
                        path
                    },
                    message: error.into_inner().to_string(),
                }
            })?;
        if manifest.tenants.is_empty() {
            return Err(ManifestError::NoTenants);
        }
        if manifest.tenants.keys().any(|id| id.trim().is_empty()) {
            return Err(ManifestError::EmptyTenantId);
        }
        for (section, names) in [
            ("limits", manifest.limits.keys().collect::<Vec<_>>()),
            ("origin_values", manifest.origin_values.keys().collect()),
        ] {
            if let Some(stray) = names
                .into_iter()
                .find(|id| *id != ALL_TENANTS && !manifest.tenants.contains_key(*id))
            {
                return Err(ManifestError::UnknownTenant {
                    section,
                    tenant: stray.clone(),
                });
            }
        }
        Ok(manifest)
    }

    /// The manifest's JSON Schema (what [`Manifest::parse`] accepts, for editors and CI).
    pub fn json_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(Manifest)).unwrap_or_default()
    }

    /// The tenant ids, sorted.
    pub fn tenant_ids(&self) -> impl Iterator<Item = &str> {
        self.tenants.keys().map(String::as_str)
    }

    /// Every tenant with its limits resolved (each must fit a runtime sized by `runtime`) and
    /// its origins (`default_origins` when the manifest names none).
    pub fn tenants(
        &self,
        runtime: &RuntimeOptions,
        default_origins: &[OriginTemplate],
    ) -> Result<Vec<TenantSpec>, ManifestError> {
        let origins = self.allowed_origins.as_deref().unwrap_or(default_origins);
        let shared = self.limits.get(ALL_TENANTS);
        self.tenants
            .iter()
            .map(|(id, config)| {
                let mut merged = shared.cloned().unwrap_or_default();
                merged.extend(self.limits.get(id).cloned().unwrap_or_default());
                let invalid = |reason: String| ManifestError::Limits {
                    tenant: id.clone(),
                    reason,
                };
                let limits: Limits = serde_json::from_value(Value::Object(merged))
                    .map_err(|e| invalid(e.to_string()))?;
                limits
                    .validate(runtime)
                    .map_err(|e| invalid(e.to_string()))?;
                Ok(TenantSpec {
                    id: id.clone(),
                    config_json: Value::Object(config.0.clone()).to_string(),
                    limits,
                    allowed_origins: origins.to_vec(),
                    origin_values: self.origin_values.get(id).map(|values| {
                        values
                            .iter()
                            .map(|(name, value)| (name.clone(), value.clone()))
                            .collect()
                    }),
                })
            })
            .collect()
    }
}

impl<'de> Deserialize<'de> for OriginTemplate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins() -> Vec<OriginTemplate> {
        vec!["https://{subdomain}.zendesk.com".parse().unwrap()]
    }

    fn specs(text: &str) -> Result<Vec<TenantSpec>, ManifestError> {
        Manifest::parse(text)?.tenants(&RuntimeOptions::default(), &origins())
    }

    fn error(text: &str) -> String {
        specs(text).unwrap_err().to_string()
    }

    #[test]
    fn tenants_get_defaults_then_shared_then_own_limits() {
        let tenants = specs(
            r#"{"tenants": {"a": {"subdomain": "a"}, "b": {"subdomain": "b"}},
                "limits": {"*": {"cpu_ms": 500, "memory_mib": 32}, "b": {"cpu_ms": 50}}}"#,
        )
        .unwrap();
        let defaults = Limits::default();
        let a = &tenants[0];
        assert_eq!(a.id, "a");
        assert_eq!(a.config_json, r#"{"subdomain":"a"}"#);
        assert_eq!((a.limits.cpu_ms, a.limits.memory_mib), (500, 32));
        assert_eq!(a.limits.wall_ms, defaults.wall_ms);
        let b = &tenants[1];
        assert_eq!((b.limits.cpu_ms, b.limits.memory_mib), (50, 32));
    }

    #[test]
    fn errors_name_the_key_and_the_tenant() {
        assert!(error("[").contains("not valid"));
        assert!(
            error("{}").contains("missing field `tenants`"),
            "{}",
            error("{}")
        );
        assert_eq!(
            error(r#"{"tenants": {}}"#),
            "the tenants file declares no tenants"
        );
        let not_object = error(r#"{"tenants": {"a": 1}}"#);
        assert!(not_object.contains("`tenants.a`"), "{not_object}");
        let stray = error(r#"{"tenants": {"a": {}}, "limits": {"b": {}}}"#);
        assert!(stray.contains("`limits` names tenant \"b\""), "{stray}");
        let misspelt = error(r#"{"tenants": {"a": {}}, "limits": {"a": {"cpu": 1}}}"#);
        assert!(
            misspelt.contains("tenant \"a\"") && misspelt.contains("`cpu`"),
            "{misspelt}"
        );
        let top = error(r#"{"tenants": {"a": {}}, "tenant": 1}"#);
        assert!(top.contains("unknown field `tenant`"), "{top}");
        let origin = error(r#"{"tenants": {"a": {}}, "allowed_origins": ["https://{s}"]}"#);
        assert!(origin.contains("allowed_origins[0]"), "{origin}");
        let values = error(r#"{"tenants": {"a": {}}, "origin_values": {"zz": {}}}"#);
        assert!(values.contains("\"zz\""), "{values}");
    }

    #[test]
    fn impossible_limits_are_refused_naming_the_key() {
        let memory = error(r#"{"tenants": {"a": {}}, "limits": {"a": {"memory_mib": 512}}}"#);
        assert!(
            memory.contains("`memory_mib`") && memory.contains("max_memory_mib"),
            "{memory}"
        );
        assert!(
            error(r#"{"tenants": {"a": {}}, "limits": {"a": {"wall_ms": 0}}}"#)
                .contains("`wall_ms`")
        );
    }

    #[test]
    fn origins_default_to_the_hosts_and_values_come_from_the_manifest() {
        let tenants = specs(r#"{"tenants": {"a": {}}}"#).unwrap();
        assert_eq!(tenants[0].allowed_origins, origins());
        assert_eq!(tenants[0].origin_values, None);
        let tenants = specs(
            r#"{"tenants": {"a": {}}, "allowed_origins": ["https://{subdomain}.example.com"],
                "origin_values": {"a": {"subdomain": "shop"}}}"#,
        )
        .unwrap();
        assert_eq!(
            tenants[0].allowed_origins[0].to_string(),
            "https://{subdomain}.example.com"
        );
        assert_eq!(
            tenants[0].origin_values,
            Some(vec![("subdomain".to_string(), "shop".to_string())])
        );
    }

    #[test]
    fn debug_never_shows_a_config() {
        let text = r#"{"tenants": {"a": {"apiToken": "SECRET-1"}}}"#;
        let manifest = Manifest::parse(text).unwrap();
        let shown = format!("{manifest:?} {:?}", specs(text).unwrap());
        assert!(!shown.contains("SECRET-1"), "{shown}");
    }
}
