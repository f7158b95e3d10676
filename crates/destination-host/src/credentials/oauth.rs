//! Access tokens for one tenant's OAuth grant, refreshed ahead of their expiry and stored
//! before they are used.
//!
//! - One refresh per tenant at a time in this process: callers wait for it and take its result.
//! - The rotated refresh token is stored (compare-and-set) before the new access token is
//!   handed out, so a crash after that loses nothing.
//! - `invalid_grant` first re-reads the store: another process may have rotated already. Only
//!   a grant the store cannot renew either is dead ([`AuthError::Revoked`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::{CredentialStore, StoreError, StoredTokens, Versioned};
use crate::delivery::now_ms;
use crate::transport::{OutboundRequest, Transport};

/// An access token is refreshed when less than this is left of it.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// A token endpoint that does not answer within this is a transient failure.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);

/// How a tenant gets tokens, from its config's `oauth` object.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthGrant {
    pub client_id: String,
    client_secret: String,
    pub kind: GrantKind,
}

#[derive(Clone, PartialEq, Eq)]
pub enum GrantKind {
    /// Authorization code, then refresh: the first refresh token (from the config; the store
    /// keeps the rotated ones).
    RefreshToken { first: String },
    /// A confidential client's own grant: no refresh token.
    ClientCredentials { scope: Option<String> },
}

impl std::fmt::Debug for OAuthGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            GrantKind::RefreshToken { .. } => "refresh_token",
            GrantKind::ClientCredentials { .. } => "client_credentials",
        };
        write!(f, "OAuthGrant({kind}, client {:?})", self.client_id)
    }
}

impl OAuthGrant {
    /// The grant of a config's `oauth` object (`None` when the config has none):
    /// `{"clientId", "clientSecret", "refreshToken"}`, or with `"grantType":
    /// "client_credentials"` and an optional `"scope"`. Errors name the key, never a value.
    pub fn from_config(config: &Value) -> Result<Option<OAuthGrant>, String> {
        let Some(oauth) = config.get("oauth").filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let oauth = oauth
            .as_object()
            .ok_or("`oauth` must be an object with clientId and clientSecret")?;
        let text = |key: &str| -> Result<Option<String>, String> {
            match oauth.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
                Some(_) => Err(format!("`oauth.{key}` must be a string")),
            }
        };
        let required = |key: &str| text(key)?.ok_or_else(|| format!("`oauth.{key}` is required"));
        let kind = match text("grantType")?.as_deref() {
            None | Some("refresh_token") => GrantKind::RefreshToken {
                first: required("refreshToken")?,
            },
            Some("client_credentials") => GrantKind::ClientCredentials {
                scope: text("scope")?,
            },
            Some(_) => {
                return Err(
                    "`oauth.grantType` must be \"refresh_token\" or \"client_credentials\"".into(),
                );
            }
        };
        Ok(Some(OAuthGrant {
            client_id: required("clientId")?,
            client_secret: required("clientSecret")?,
            kind,
        }))
    }

    /// The secrets of the grant (to scrub wherever they could show).
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![self.client_secret.clone()];
        if let GrantKind::RefreshToken { first } = &self.kind {
            secrets.push(first.clone());
        }
        secrets
    }
}

/// Why no access token could be had. Never carries a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The grant is dead (revoked, expired, or the client refused): only a person can help.
    #[error("tenant {tenant:?}: {reason}; re-authorize the tenant")]
    Revoked { tenant: String, reason: String },
    /// The token endpoint or the store failed for now: try again later.
    #[error("tenant {tenant:?}: cannot get an access token for now: {reason}")]
    Transient { tenant: String, reason: String },
}

/// What a [`TokenSource`] did, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenStats {
    /// Tokens asked from the token endpoint (refreshes and client-credentials grants).
    pub refreshes: u64,
    /// Grants the endpoint refused for good.
    pub auth_failures: u64,
}

struct State {
    /// The store's revision and tokens as last seen.
    seen: Option<Versioned>,
    stats: TokenStats,
    dead: Option<AuthError>,
}

/// One tenant's access tokens.
pub struct TokenSource {
    tenant: String,
    grant: OAuthGrant,
    token_url: String,
    store: Arc<dyn CredentialStore>,
    transport: Arc<dyn Transport>,
    /// Held while refreshing: one refresh at a time, the others wait for its result.
    state: Mutex<State>,
}

impl TokenSource {
    pub fn new(
        tenant: impl Into<String>,
        grant: OAuthGrant,
        token_url: impl Into<String>,
        store: Arc<dyn CredentialStore>,
        transport: Arc<dyn Transport>,
    ) -> TokenSource {
        TokenSource {
            tenant: tenant.into(),
            grant,
            token_url: token_url.into(),
            store,
            transport,
            state: Mutex::new(State {
                seen: None,
                stats: TokenStats::default(),
                dead: None,
            }),
        }
    }

    pub fn stats(&self) -> TokenStats {
        self.lock().stats
    }

    /// An access token with more than [`REFRESH_MARGIN`] left (or all its life, when it is
    /// shorter): the one in hand, the one in the store, or a new one.
    pub fn access_token(&self) -> Result<String, AuthError> {
        self.token(None)
    }

    /// A token other than `refused`, which the destination answered 401: refreshed unless
    /// another caller already did.
    pub fn after_refusal(&self, refused: &str) -> Result<String, AuthError> {
        self.token(Some(refused))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn token(&self, refused: Option<&str>) -> Result<String, AuthError> {
        let mut state = self.lock();
        if let Some(dead) = &state.dead {
            return Err(dead.clone());
        }
        if let Some(token) = usable(state.seen.as_ref(), refused) {
            return Ok(token);
        }
        if let Some(token) = self.reload(&mut state, refused)? {
            return Ok(token);
        }
        // One more pass after an `invalid_grant` whose store had moved on (another process
        // rotated meanwhile).
        for _ in 0..2 {
            let used = self.refresh_token_of(state.seen.as_ref());
            match self.ask(used.as_deref()) {
                Ok(tokens) => {
                    state.stats.refreshes += 1;
                    let stored = self.store_tokens(&mut state, tokens)?;
                    return Ok(stored);
                }
                Err(Refusal::Grant(reason)) => {
                    // Another process may have rotated: its tokens are in the store.
                    if let Some(token) = self.reload(&mut state, refused)? {
                        return Ok(token);
                    }
                    if self.refresh_token_of(state.seen.as_ref()) == used {
                        state.stats.auth_failures += 1;
                        let dead = AuthError::Revoked {
                            tenant: self.tenant.clone(),
                            reason,
                        };
                        state.dead = Some(dead.clone());
                        return Err(dead);
                    }
                }
                Err(Refusal::Transient(reason)) => {
                    return Err(AuthError::Transient {
                        tenant: self.tenant.clone(),
                        reason,
                    });
                }
            }
        }
        Err(AuthError::Transient {
            tenant: self.tenant.clone(),
            reason: "the stored grant keeps changing".into(),
        })
    }

    /// Reads the store again; its access token, when it is usable.
    fn reload(
        &self,
        state: &mut State,
        refused: Option<&str>,
    ) -> Result<Option<String>, AuthError> {
        state.seen = self
            .store
            .load(&self.tenant)
            .map_err(|e| self.transient(e))?;
        Ok(usable(state.seen.as_ref(), refused))
    }

    /// The refresh token to use: the store's, else the config's first one.
    fn refresh_token_of(&self, seen: Option<&Versioned>) -> Option<String> {
        match &self.grant.kind {
            GrantKind::ClientCredentials { .. } => None,
            GrantKind::RefreshToken { first } => Some(
                seen.and_then(|v| v.tokens.refresh_token.clone())
                    .unwrap_or_else(|| first.clone()),
            ),
        }
    }

    /// Stores new tokens (over whatever another writer put there meanwhile: these are the
    /// newest the endpoint issued), then hands out the access token.
    fn store_tokens(&self, state: &mut State, tokens: StoredTokens) -> Result<String, AuthError> {
        let mut expected = state.seen.as_ref().map(|v| v.revision);
        for _ in 0..3 {
            match self.store.compare_and_set(&self.tenant, expected, &tokens) {
                Ok(revision) => {
                    let access = tokens.access_token.clone().unwrap_or_default();
                    state.seen = Some(Versioned { revision, tokens });
                    return Ok(access);
                }
                Err(StoreError::Conflict { found, .. }) => expected = found,
                Err(error) => return Err(self.transient(error)),
            }
        }
        Err(self.transient("the store kept changing while the new tokens were written"))
    }

    /// One request to the token endpoint.
    fn ask(&self, refresh_token: Option<&str>) -> Result<StoredTokens, Refusal> {
        let mut body = json!({
            "client_id": self.grant.client_id,
            "client_secret": self.grant.client_secret,
        });
        match (&self.grant.kind, refresh_token) {
            (GrantKind::RefreshToken { .. }, Some(token)) => {
                body["grant_type"] = "refresh_token".into();
                body["refresh_token"] = token.into();
            }
            (GrantKind::ClientCredentials { scope }, _) => {
                body["grant_type"] = "client_credentials".into();
                if let Some(scope) = scope {
                    body["scope"] = scope.clone().into();
                }
            }
            (GrantKind::RefreshToken { .. }, None) => {
                return Err(Refusal::Grant("no refresh token".into()));
            }
        }
        let request = OutboundRequest {
            method: "POST".into(),
            url: self.token_url.clone(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(body.to_string().into_bytes()),
        };
        let response = self
            .transport
            .send(&request, TOKEN_TIMEOUT, 64 * 1024)
            .map_err(|failure| Refusal::Transient(format!("the token endpoint: {failure:?}")))?;
        let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        let error = answer["error"]
            .as_str()
            .unwrap_or("no error code")
            .to_string();
        match response.status {
            200..=299 => {
                let access = answer["access_token"]
                    .as_str()
                    .ok_or_else(|| Refusal::Transient("the answer has no access_token".into()))?;
                let lifetime = answer["expires_in"].as_u64().unwrap_or(3600);
                Ok(StoredTokens {
                    // Rotation: a new refresh token replaces the used one.
                    refresh_token: answer["refresh_token"]
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| refresh_token.map(str::to_string)),
                    access_token: Some(access.to_string()),
                    expires_at_ms: now_ms().saturating_add(lifetime.saturating_mul(1000)),
                    lifetime_ms: lifetime.saturating_mul(1000),
                })
            }
            400 | 401 | 403 => Err(Refusal::Grant(format!(
                "the token endpoint refused the grant ({} {error})",
                response.status
            ))),
            status => Err(Refusal::Transient(format!(
                "the token endpoint answered {status} ({error})"
            ))),
        }
    }

    fn transient(&self, reason: impl std::fmt::Display) -> AuthError {
        AuthError::Transient {
            tenant: self.tenant.clone(),
            reason: reason.to_string(),
        }
    }
}

enum Refusal {
    Grant(String),
    Transient(String),
}

/// The access token of `seen`, unless it was refused or is about to expire: less than
/// [`REFRESH_MARGIN`] left, or a tenth of its life for a short-lived token (so a tenant
/// refreshes about once per lifetime; a token that still expires inside a call gets a 401,
/// which refreshes once).
fn usable(seen: Option<&Versioned>, refused: Option<&str>) -> Option<String> {
    let tokens = &seen?.tokens;
    let token = tokens.access_token.as_deref()?;
    if Some(token) == refused {
        return None;
    }
    let margin = u64::try_from(REFRESH_MARGIN.as_millis())
        .unwrap_or(u64::MAX)
        .min(tokens.lifetime_ms / 10);
    let left = tokens.expires_at_ms.saturating_sub(now_ms());
    (left > margin).then(|| token.to_string())
}
