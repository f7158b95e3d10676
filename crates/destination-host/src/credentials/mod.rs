//! Credentials with a lifecycle: OAuth tokens that expire and rotate, kept durably.
//!
//! Zendesk's OAuth refresh tokens rotate: each refresh answers a new access token and a new
//! refresh token, and both old ones stop at once. So the tokens a tenant lives on are not in its
//! config but in a [`CredentialStore`], written with compare-and-set on a revision (one writer
//! wins; the others re-read), before any call uses them. [`FileCredentialStore`] is the store
//! of a single process (`run`), sealed with the operator's [`CredentialKey`]; a fleet uses a
//! shared store of its own; an embedder plugs in its secret store.
//!
//! Since a compare-and-set is all a store offers, the refresh itself is claimed through it
//! too: a process that is about to refresh writes a claim ([`StoredTokens::refreshing_until_ms`])
//! and the others, in any process, wait for its result.

mod file_store;
mod key;
mod oauth;
pub mod onboarding;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use file_store::FileCredentialStore;
pub use key::{CREDENTIAL_KEY_VAR, CredentialKey, KeyError};
pub use oauth::{AuthError, GrantKind, OAuthGrant, REFRESH_MARGIN, TokenSource, TokenStats};

/// What a store keeps for one tenant. `Debug` never shows a token.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTokens {
    /// The refresh token that is valid now (`None` for a client-credentials grant).
    pub refresh_token: Option<String>,
    /// The access token that is valid now, and until when (ms since the Unix epoch).
    pub access_token: Option<String>,
    pub expires_at_ms: u64,
    /// How long the access token lived when it was issued, in ms.
    #[serde(default)]
    pub lifetime_ms: u64,
    /// A process claimed the refresh until then (ms since the Unix epoch): the others wait
    /// for its result rather than refresh with the same refresh token. 0: no claim.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refreshing_until_ms: u64,
    /// Why the token endpoint refused `refresh_token` for good: the grant is dead until a
    /// person re-authorizes (which writes new tokens here), so no process asks again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_grant: Option<String>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTokens")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at_ms", &self.expires_at_ms)
            .field("lifetime_ms", &self.lifetime_ms)
            .field("refreshing_until_ms", &self.refreshing_until_ms)
            .field("dead_grant", &self.dead_grant)
            .finish()
    }
}

/// A tenant's tokens at one revision of the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    pub revision: u64,
    pub tokens: StoredTokens,
}

/// Why a store could not answer. Never carries a token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// Another writer changed the tenant's tokens since the revision the write expected.
    #[error("the stored tokens of tenant {tenant:?} changed meanwhile (revision {found:?})")]
    Conflict { tenant: String, found: Option<u64> },
    #[error("the credential store {path}: {reason}")]
    Io { path: String, reason: String },
    /// Sealed tokens that the key cannot open: another key, or a damaged store.
    #[error(
        "the stored tokens of tenant {tenant:?} cannot be decrypted: is {CREDENTIAL_KEY_VAR} the key they were written with?"
    )]
    WrongKey { tenant: String },
    /// Sealed tokens and no key to open them.
    #[error("the credential store holds encrypted tokens: set {CREDENTIAL_KEY_VAR} to their key")]
    KeyMissing,
}

/// Durable, per-tenant token storage with compare-and-set.
pub trait CredentialStore: Send + Sync {
    /// The tenant's tokens and their revision, if any were stored.
    fn load(&self, tenant: &str) -> Result<Option<Versioned>, StoreError>;

    /// Stores `tokens` if the tenant's revision is still `expected` (`None`: nothing stored
    /// yet); returns the new revision. Durable when it returns.
    fn compare_and_set(
        &self,
        tenant: &str,
        expected: Option<u64>,
        tokens: &StoredTokens,
    ) -> Result<u64, StoreError>;
}

/// The revision a compare-and-set writes when the tenant is at `found` and the writer
/// expected `expected`, or the conflict: the rule every store shares.
pub fn next_revision(
    tenant: &str,
    found: Option<u64>,
    expected: Option<u64>,
) -> Result<u64, StoreError> {
    if found != expected {
        return Err(StoreError::Conflict {
            tenant: tenant.to_string(),
            found,
        });
    }
    Ok(found.map_or(1, |revision| revision + 1))
}

/// A store in this process's memory: enough for grants that need no durability (client
/// credentials: a new token can always be asked for), and for tests.
#[derive(Debug, Default)]
pub struct MemoryCredentialStore {
    tenants: std::sync::Mutex<std::collections::HashMap<String, Versioned>>,
}

impl CredentialStore for MemoryCredentialStore {
    fn load(&self, tenant: &str) -> Result<Option<Versioned>, StoreError> {
        let tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        Ok(tenants.get(tenant).cloned())
    }

    fn compare_and_set(
        &self,
        tenant: &str,
        expected: Option<u64>,
        tokens: &StoredTokens,
    ) -> Result<u64, StoreError> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let revision = next_revision(tenant, tenants.get(tenant).map(|v| v.revision), expected)?;
        tenants.insert(
            tenant.to_string(),
            Versioned {
                revision,
                tokens: tokens.clone(),
            },
        );
        Ok(revision)
    }
}
