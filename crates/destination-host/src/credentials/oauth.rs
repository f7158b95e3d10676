//! Access tokens for one tenant's OAuth grant, refreshed ahead of their expiry and stored
//! before they are used.
//!
//! - One refresh per tenant at a time, across threads (a mutex) and processes (a claim written
//!   to the store with compare-and-set): the others wait for its result and take it.
//! - The rotated refresh token is stored (compare-and-set) before the new access token is
//!   handed out, so a crash after that loses nothing.
//! - `invalid_grant` first re-reads the store: another process may have rotated already. Only
//!   a grant the store cannot renew either is dead ([`AuthError::Revoked`]); that is written
//!   to the store too, so no other process asks again until a person re-authorizes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{CredentialStore, StoreError, StoredTokens, Versioned};
use crate::delivery::now_ms;
use crate::transport::{OutboundRequest, Transport};

/// An access token is refreshed when less than this is left of it.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// A token endpoint that does not answer within this is a transient failure.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a process's claim on a refresh holds: past it (the process died mid-refresh),
/// another may refresh.
const CLAIM: Duration = Duration::from_secs(15);
/// How often a process waiting for another's refresh looks at the store.
const CLAIM_POLL: Duration = Duration::from_millis(100);
/// How long a caller waits for a token before it gives up for now (a transient failure).
const PATIENCE: Duration = Duration::from_secs(30);
/// How often a dead grant looks at the store again, for a person's re-authorization.
const DEAD_RECHECK: Duration = Duration::from_secs(5);

/// How a tenant gets tokens, from its config's `oauth` object.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthGrant {
    pub client_id: String,
    client_secret: String,
    pub kind: GrantKind,
}

#[derive(Clone, PartialEq, Eq)]
pub enum GrantKind {
    /// Authorization code, then refresh: the first refresh token, from the config when it
    /// has one (else the onboarding command stored it); the store keeps the rotated ones.
    RefreshToken { first: Option<String> },
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
                first: text("refreshToken")?,
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

    /// The body of a token request for this client: `grant` fields plus its credentials.
    pub(crate) fn token_request(&self, mut grant: Value) -> Value {
        grant["client_id"] = self.client_id.clone().into();
        grant["client_secret"] = self.client_secret.clone().into();
        grant
    }

    /// The secrets of the grant (to scrub wherever they could show).
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![self.client_secret.clone()];
        if let GrantKind::RefreshToken { first: Some(first) } = &self.kind {
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

/// A token that could not be had, as a call error: a dead grant is `auth` (dead-lettered at
/// once, naming the tenant and what to do), anything else is retried.
impl From<AuthError> for crate::report::CallError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Revoked { .. } => Self::Auth(error.to_string()),
            AuthError::Transient { .. } => Self::AuthUnavailable(error.to_string()),
        }
    }
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
    /// The grant is dead, since when last checked.
    dead: Option<(AuthError, Instant)>,
}

/// One tenant's access tokens.
pub struct TokenSource {
    tenant: String,
    grant: OAuthGrant,
    token_url: String,
    store: Arc<dyn CredentialStore>,
    transport: Arc<dyn Transport>,
    /// Held while getting a token: one refresh at a time in this process, the other callers
    /// wait for its result.
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

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    pub fn stats(&self) -> TokenStats {
        self.lock().stats
    }

    /// An access token with more than [`REFRESH_MARGIN`] left (or all its life, when it is
    /// shorter): the one in hand, the one in the store, or a new one.
    pub fn access_token(&self) -> Result<String, AuthError> {
        self.token(None)
    }

    /// The access token in hand when it is fresh and no other caller holds the source (no I/O,
    /// no waiting): what most calls need. `None` means ask [`TokenSource::access_token`].
    pub fn fresh_token(&self) -> Option<String> {
        let state = self.state.try_lock().ok()?;
        if state.dead.is_some() {
            return None;
        }
        usable(state.seen.as_ref(), None)
    }

    /// A token other than `refused`, which the destination answered 401: refreshed unless
    /// another caller already did.
    pub fn after_refusal(&self, refused: &str) -> Result<String, AuthError> {
        self.token(Some(refused))
    }

    /// Whether `token` is no longer the live token in hand: it expired (a second of slack) or
    /// a refresh replaced it. A 401 for such a token is its expiry, not a refusal of the grant.
    /// Never waits (async callers ask): while another caller holds the source, it is refreshing,
    /// so the token is on its way out and the event's retry will see the outcome.
    pub fn outlived(&self, token: &str) -> bool {
        let Ok(state) = self.state.try_lock() else {
            return true;
        };
        let current = state.seen.as_ref().map(|seen| &seen.tokens);
        current
            .and_then(|tokens| unexpired(tokens, None))
            .as_deref()
            != Some(token)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn token(&self, refused: Option<&str>) -> Result<String, AuthError> {
        let mut state = self.lock();
        if let Some(dead) = self.still_dead(&mut state)? {
            return Err(dead);
        }
        if let Some(token) = usable(state.seen.as_ref(), refused) {
            return Ok(token);
        }
        let give_up = Instant::now() + PATIENCE;
        loop {
            self.reload(&mut state)?;
            if let Some(token) = usable(state.seen.as_ref(), refused) {
                return Ok(token);
            }
            if let Some(reason) = self.dead_in_store(state.seen.as_ref()) {
                return Err(self.declare_dead(&mut state, reason));
            }
            if Instant::now() >= give_up {
                return Err(self.transient("another process's refresh did not finish in time"));
            }
            if let Some(current) = state.seen.as_ref().filter(|v| claimed(&v.tokens)) {
                // Another process is refreshing: its tokens will be in the store. Meanwhile
                // the current token works until it actually expires.
                if let Some(token) = unexpired(&current.tokens, refused) {
                    return Ok(token);
                }
                std::thread::sleep(CLAIM_POLL);
                continue;
            }
            match self.claim(&mut state) {
                Ok(()) => {}
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(self.transient(error)),
            }
            let used = self.refresh_token_of(state.seen.as_ref());
            match self.ask(used.as_deref()) {
                Ok(tokens) => {
                    state.stats.refreshes += 1;
                    return self.store_tokens(&mut state, tokens);
                }
                Err(Refusal::Grant(reason)) => {
                    // The claim may have lapsed and another process rotated: its tokens are
                    // in the store.
                    self.reload(&mut state)?;
                    if let Some(token) = usable(state.seen.as_ref(), refused) {
                        return Ok(token);
                    }
                    if self.refresh_token_of(state.seen.as_ref()) != used {
                        continue;
                    }
                    state.stats.auth_failures += 1;
                    self.record_dead_grant(&mut state, &reason);
                    return Err(self.declare_dead(&mut state, reason));
                }
                Err(Refusal::Transient(reason)) => {
                    self.release_claim(&mut state);
                    return Err(self.transient(reason));
                }
            }
        }
    }

    /// The dead grant's error, unless the store holds a new grant meanwhile (a person
    /// re-authorized): looked at again every [`DEAD_RECHECK`].
    fn still_dead(&self, state: &mut State) -> Result<Option<AuthError>, AuthError> {
        let Some((dead, checked)) = state.dead.clone() else {
            return Ok(None);
        };
        if checked.elapsed() < DEAD_RECHECK {
            return Ok(Some(dead));
        }
        self.reload(state)?;
        if self.dead_in_store(state.seen.as_ref()).is_some() {
            state.dead = Some((dead.clone(), Instant::now()));
            return Ok(Some(dead));
        }
        state.dead = None;
        Ok(None)
    }

    fn declare_dead(&self, state: &mut State, reason: String) -> AuthError {
        let dead = AuthError::Revoked {
            tenant: self.tenant.clone(),
            reason,
        };
        state.dead = Some((dead.clone(), Instant::now()));
        dead
    }

    /// Why the stored grant is dead, when it is (refresh-token grants only: a client's own
    /// grant is asked anew each time).
    fn dead_in_store(&self, seen: Option<&Versioned>) -> Option<String> {
        match &self.grant.kind {
            GrantKind::RefreshToken { .. } => seen?.tokens.dead_grant.clone(),
            GrantKind::ClientCredentials { .. } => None,
        }
    }

    /// Reads the store again.
    fn reload(&self, state: &mut State) -> Result<(), AuthError> {
        state.seen = self
            .store
            .load(&self.tenant)
            .map_err(|e| self.transient(e))?;
        Ok(())
    }

    /// Writes this process's claim on the refresh over the tokens last seen.
    fn claim(&self, state: &mut State) -> Result<(), StoreError> {
        let expected = state.seen.as_ref().map(|v| v.revision);
        let mut tokens = state.seen.clone().map(|v| v.tokens).unwrap_or_default();
        tokens.refreshing_until_ms = now_ms().saturating_add(millis(CLAIM));
        let revision = self
            .store
            .compare_and_set(&self.tenant, expected, &tokens)?;
        state.seen = Some(Versioned { revision, tokens });
        Ok(())
    }

    /// Takes the claim back after a failed refresh, so others need not wait for it to lapse.
    fn release_claim(&self, state: &mut State) {
        if let Some(seen) = &state.seen {
            let mut tokens = seen.tokens.clone();
            tokens.refreshing_until_ms = 0;
            let _ = self
                .store
                .compare_and_set(&self.tenant, Some(seen.revision), &tokens);
        }
    }

    /// Marks the stored grant dead (best effort: the error is named to the caller anyway).
    fn record_dead_grant(&self, state: &mut State, reason: &str) {
        if let Some(seen) = &state.seen {
            let mut tokens = seen.tokens.clone();
            tokens.refreshing_until_ms = 0;
            tokens.access_token = None;
            tokens.dead_grant = Some(reason.to_string());
            let _ = self
                .store
                .compare_and_set(&self.tenant, Some(seen.revision), &tokens);
        }
    }

    /// The refresh token to use: the store's, else the config's first one.
    fn refresh_token_of(&self, seen: Option<&Versioned>) -> Option<String> {
        match &self.grant.kind {
            GrantKind::ClientCredentials { .. } => None,
            GrantKind::RefreshToken { first } => seen
                .and_then(|v| v.tokens.refresh_token.clone())
                .or_else(|| first.clone()),
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
        let body = match (&self.grant.kind, refresh_token) {
            (GrantKind::RefreshToken { .. }, Some(token)) => {
                json!({"grant_type": "refresh_token", "refresh_token": token})
            }
            (GrantKind::ClientCredentials { scope }, _) => match scope {
                Some(scope) => json!({"grant_type": "client_credentials", "scope": scope}),
                None => json!({"grant_type": "client_credentials"}),
            },
            (GrantKind::RefreshToken { .. }, None) => {
                return Err(Refusal::Grant(
                    "no refresh token: neither the config nor the credential store has one (run `authorize`)"
                        .into(),
                ));
            }
        };
        request_tokens(
            self.transport.as_ref(),
            &self.token_url,
            &self.grant.token_request(body),
            refresh_token,
        )
    }

    fn transient(&self, reason: impl std::fmt::Display) -> AuthError {
        AuthError::Transient {
            tenant: self.tenant.clone(),
            reason: reason.to_string(),
        }
    }
}

pub(crate) enum Refusal {
    Grant(String),
    Transient(String),
}

/// One request to a token endpoint, and the tokens of its answer (`previous_refresh` is kept
/// when the answer brings no new refresh token).
pub(crate) fn request_tokens(
    transport: &dyn Transport,
    token_url: &str,
    body: &Value,
    previous_refresh: Option<&str>,
) -> Result<StoredTokens, Refusal> {
    let request = OutboundRequest {
        method: "POST".into(),
        url: token_url.to_string(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: Some(body.to_string().into_bytes()),
    };
    // A token's life is counted from the request, not the answer: never later than the
    // server's own clock, however slow the answer.
    let asked_ms = now_ms();
    // Token requests block (the token source is shared across threads under one lock); async
    // callers reach it through `spawn_blocking` (see `Tenant::authorized_async`).
    let response = crate::bridge::block_on(transport.send(&request, TOKEN_TIMEOUT, 64 * 1024))
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
                    .or_else(|| previous_refresh.map(str::to_string)),
                access_token: Some(access.to_string()),
                expires_at_ms: asked_ms.saturating_add(lifetime.saturating_mul(1000)),
                lifetime_ms: lifetime.saturating_mul(1000),
                ..StoredTokens::default()
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Whether another process holds a live claim on the refresh.
fn claimed(tokens: &StoredTokens) -> bool {
    tokens.refreshing_until_ms > now_ms()
}

/// The access token of `tokens` while it has not expired (a second of slack), unless refused.
fn unexpired(tokens: &StoredTokens, refused: Option<&str>) -> Option<String> {
    let token = tokens.access_token.as_deref()?;
    (Some(token) != refused && tokens.expires_at_ms > now_ms().saturating_add(1000))
        .then(|| token.to_string())
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
    let margin = millis(REFRESH_MARGIN).min(tokens.lifetime_ms / 10);
    let left = tokens.expires_at_ms.saturating_sub(now_ms());
    (left > margin).then(|| token.to_string())
}
