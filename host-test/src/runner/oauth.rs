//! OAuth tenants of a run: each gets a token source, and its rotated tokens a durable home.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use destination_host::credentials::{
    CREDENTIAL_KEY_VAR, CredentialKey, CredentialStore, FileCredentialStore, GrantKind,
    MemoryCredentialStore, TokenSource,
};
use destination_host::{Tenant, TenantSpec, Transport};

/// Gives every tenant whose config has an `oauth` grant its token source. A refresh-token
/// grant needs `store` (its refresh token rotates: the config's one stops working at the first
/// refresh); client credentials need nothing durable.
pub fn attach_token_sources(
    specs: &[TenantSpec],
    tenants: &mut HashMap<String, Tenant>,
    store: Option<&Path>,
    key: Option<&CredentialKey>,
    transport: &Arc<dyn Transport>,
) -> Result<()> {
    let memory: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::default());
    let mut durable: Option<Arc<dyn CredentialStore>> = None;
    for spec in specs {
        let Some(grant) = spec.oauth_grant()? else {
            continue;
        };
        let store = match (&grant.kind, store) {
            (_, Some(path)) => match &durable {
                Some(store) => Arc::clone(store),
                None => {
                    let opened = open_store(path, key)?;
                    durable = Some(Arc::clone(&opened));
                    opened
                }
            },
            (GrantKind::ClientCredentials { .. }, None) => Arc::clone(&memory),
            (GrantKind::RefreshToken { .. }, None) => bail!(
                "tenant {:?} has an OAuth refresh token: give --credential-store PATH, where its \
                 rotated tokens are kept (the config's refresh token stops working at the first \
                 refresh)",
                spec.id
            ),
        };
        let url = spec.token_url(destination_fleet::zendesk::TOKEN_PATH)?;
        let source = TokenSource::new(spec.id.clone(), grant, url, store, Arc::clone(transport));
        if let Some(tenant) = tenants.remove(&spec.id) {
            tenants.insert(spec.id.clone(), tenant.with_token_source(Arc::new(source)));
        }
    }
    Ok(())
}

/// The store file, sealed with the operator's key when there is one (a warning otherwise).
fn open_store(path: &Path, key: Option<&CredentialKey>) -> Result<Arc<dyn CredentialStore>> {
    if key.is_none() {
        eprintln!(
            "warning: {CREDENTIAL_KEY_VAR} is not set: {} keeps the OAuth tokens unencrypted \
             (readable by this user only, mode 0600)",
            path.display()
        );
    }
    let store = FileCredentialStore::open(path, key.cloned())
        .with_context(|| format!("cannot open the credential store {}", path.display()))?;
    Ok(Arc::new(store))
}
