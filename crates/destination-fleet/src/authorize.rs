//! `authorize`: a tenant's first OAuth tokens without writing code. Prints the authorization
//! URL (authorization code with PKCE), reads back the code a person's consent produced, and
//! stores the tokens where `run --credential-store` or the fleet's workers find them.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;

use destination_host::credentials::onboarding::{Authorization, store_authorized};
use destination_host::credentials::{
    CREDENTIAL_KEY_VAR, CredentialKey, CredentialStore, FileCredentialStore, GrantKind,
};
use destination_host::{Manifest, OriginTemplate, RuntimeOptions, Transport};

use crate::Fleet;
use crate::kv_credentials::KvCredentialStore;

#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    /// The tenant manifest whose tenant is authorized (its config's `oauth` names the client).
    #[arg(long)]
    pub tenants: PathBuf,
    /// The tenant to authorize.
    #[arg(long)]
    pub tenant: String,
    /// Where the browser is sent back with the code: a redirect URL registered with the
    /// OAuth client in Zendesk.
    #[arg(long)]
    pub redirect_uri: String,
    /// The access asked for.
    #[arg(long, default_value = "read write")]
    pub scope: String,
    /// Store the tokens in the fleet's bucket on this NATS server...
    #[arg(long, required_unless_present = "credential_store")]
    pub nats: Option<String>,
    /// ...or in this file (as `run --credential-store`).
    #[arg(long, conflicts_with = "nats")]
    pub credential_store: Option<PathBuf>,
}

/// Runs the flow; `token_path` is the token endpoint's path on the tenant's origin.
pub fn authorize(
    args: AuthorizeArgs,
    transport: &Arc<dyn Transport>,
    default_origins: &[OriginTemplate],
    token_path: &str,
) -> Result<u8> {
    let text = std::fs::read_to_string(&args.tenants)
        .with_context(|| format!("cannot read the tenants file {}", args.tenants.display()))?;
    let spec = Manifest::parse(&text)?
        .tenants(&RuntimeOptions::default(), default_origins)?
        .into_iter()
        .find(|spec| spec.id == args.tenant)
        .ok_or_else(|| {
            anyhow!(
                "tenant {:?} is not in {}",
                args.tenant,
                args.tenants.display()
            )
        })?;
    let grant = spec
        .oauth_grant()?
        .ok_or_else(|| anyhow!("tenant {:?} has no `oauth` object in its config", spec.id))?;
    if let GrantKind::ClientCredentials { .. } = grant.kind {
        bail!(
            "tenant {:?} uses client credentials: it needs no authorization, its tokens are asked \
             for when it delivers",
            spec.id
        );
    }
    let key = CredentialKey::from_env()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let (store, place): (Box<dyn CredentialStore>, String) =
        match (&args.nats, &args.credential_store) {
            (Some(nats), _) => {
                let key = key.ok_or_else(|| {
                    anyhow!("set {CREDENTIAL_KEY_VAR}: the fleet's tokens are sealed with it")
                })?;
                let fleet = runtime.block_on(Fleet::connect(nats))?;
                let store =
                    KvCredentialStore::new(fleet.credentials, key, runtime.handle().clone());
                (
                    Box::new(store),
                    format!("the bucket {}", crate::CREDENTIALS_BUCKET),
                )
            }
            (None, Some(path)) => (
                Box::new(open_file_store(path, key)?),
                path.display().to_string(),
            ),
            (None, None) => bail!("give --nats or --credential-store: where the tokens are kept"),
        };

    let authorization = Authorization::start(
        &spec.origin_url()?,
        &grant.client_id,
        &args.redirect_uri,
        &args.scope,
    );
    eprintln!(
        "Open this URL, sign in to Zendesk as an admin of tenant {:?}'s account and allow access:",
        spec.id
    );
    println!("{}", authorization.url);
    eprintln!("Then paste the code, or the whole URL your browser was sent back to:");
    let mut pasted = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut pasted)
        .context("cannot read the code from stdin")?;
    let code = authorization.code_of(&pasted).map_err(|e| anyhow!(e))?;
    let tokens = authorization.exchange(
        &spec.id,
        &grant,
        &code,
        &spec.token_url(token_path)?,
        transport.as_ref(),
    )?;
    let revision = store_authorized(store.as_ref(), &spec.id, &tokens)?;
    eprintln!(
        "tenant {:?} is authorized: its tokens are in {place} (revision {revision}); its access \
         token lives {} s and is refreshed from then on",
        spec.id,
        tokens.lifetime_ms / 1000
    );
    Ok(0)
}

/// The credential file at `path`, sealed with `key` when there is one; without, the tokens are
/// plain JSON readable by this user only, and a warning says so.
pub fn open_file_store(path: &Path, key: Option<CredentialKey>) -> Result<FileCredentialStore> {
    if key.is_none() {
        eprintln!(
            "warning: {CREDENTIAL_KEY_VAR} is not set: {} keeps the OAuth tokens unencrypted \
             (readable by this user only, mode 0600)",
            path.display()
        );
    }
    FileCredentialStore::open(path, key)
        .with_context(|| format!("cannot open the credential store {}", path.display()))
}
