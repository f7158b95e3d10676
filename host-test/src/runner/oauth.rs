//! OAuth tenants of a run: each gets a token source, and its rotated tokens a durable home.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, bail};

use destination_host::credentials::{
    CredentialKey, CredentialStore, GrantKind, MemoryCredentialStore,
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
                "tenant {:?} uses OAuth refresh tokens: give --credential-store PATH, where its \
                 rotated tokens are kept (the config's refresh token stops working at the first \
                 refresh)",
                spec.id
            ),
        };
        let source = spec.token_source(
            store,
            Arc::clone(transport),
            destination_fleet::zendesk::TOKEN_PATH,
        )?;
        if let (Some(source), Some(tenant)) = (source, tenants.remove(&spec.id)) {
            tenants.insert(spec.id.clone(), tenant.with_token_source(Arc::new(source)));
        }
    }
    Ok(())
}

/// The store file, sealed with the operator's key when there is one (a warning otherwise).
fn open_store(path: &Path, key: Option<&CredentialKey>) -> Result<Arc<dyn CredentialStore>> {
    let store = destination_fleet::authorize::open_file_store(path, key.cloned())?;
    Ok(Arc::new(store))
}
