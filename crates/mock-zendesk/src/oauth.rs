//! Zendesk's OAuth token endpoint, `POST /oauth/tokens`, and the access tokens it issues, as
//! Zendesk runs them since API tokens are retired:
//!
//! - grants `refresh_token` (rotating: the answer holds a new access token and a new refresh
//!   token, and both old ones stop working at once), `client_credentials` (an access token, no
//!   refresh token) and `authorization_code` (with PKCE, for onboarding);
//! - access and refresh tokens expire (lifetimes per client);
//! - a used, revoked or expired refresh token is `invalid_grant`; a wrong client is
//!   `invalid_client`;
//! - an expired or unknown access token gets 401 `invalid_token`.
//!
//! An account checks bearer tokens only once an OAuth client is registered on it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::faults::splitmix64;
use crate::http::Response;

/// An OAuth client registered on an account.
#[derive(Clone, Debug, PartialEq)]
pub struct OAuthClient {
    /// The client's `identifier`.
    pub id: String,
    pub secret: String,
    /// How long an access token lives (Zendesk: 300 s to 2 days, 30 minutes by default).
    pub access_ttl: Duration,
    /// How long a refresh token lives (Zendesk: 30 days by default).
    pub refresh_ttl: Duration,
}

/// What the token endpoint and the bearer check saw, per account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OAuthStats {
    /// Successful `refresh_token` grants.
    pub refreshes: u64,
    /// Successful `client_credentials` grants.
    pub client_credentials: u64,
    /// Successful `authorization_code` grants.
    pub codes: u64,
    /// Refused grants: used, revoked or expired refresh tokens, bad codes.
    pub invalid_grants: u64,
    /// Requests refused with 401 `invalid_token` (an expired or unknown access token).
    pub invalid_tokens: u64,
}

struct Issued {
    client: String,
    expires: Instant,
    /// The refresh token issued with it (rotation ends both).
    refresh: Option<String>,
}

struct Code {
    client: String,
    challenge: String,
    redirect_uri: String,
    expires: Instant,
}

/// One account's OAuth server.
#[derive(Default)]
pub(crate) struct OAuthServer {
    clients: HashMap<String, OAuthClient>,
    access: HashMap<String, Issued>,
    refresh: HashMap<String, Issued>,
    codes: HashMap<String, Code>,
    pub stats: OAuthStats,
    minted: u64,
}

/// Zendesk's body for an expired, revoked or unknown access token.
pub(crate) fn invalid_token() -> Response {
    Response::json(
        401,
        &json!({"error": "invalid_token", "error_description":
            "The access token provided is expired, revoked, malformed or invalid for other reasons."}),
    )
}

fn invalid_grant() -> Response {
    Response::json(
        400,
        &json!({"error": "invalid_grant", "error_description":
            "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}),
    )
}

fn invalid_client() -> Response {
    Response::json(
        401,
        &json!({"error": "invalid_client", "error_description":
            "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."}),
    )
}

fn invalid_request(detail: &str) -> Response {
    Response::json(
        400,
        &json!({"error": "invalid_request", "error_description": detail}),
    )
}

impl OAuthServer {
    pub fn register(&mut self, client: OAuthClient) {
        self.clients.insert(client.id.clone(), client);
    }

    pub fn is_on(&self) -> bool {
        !self.clients.is_empty()
    }

    /// A refresh token for `client`, as the end of an authorization would give.
    pub fn grant(&mut self, client: &str) -> Option<String> {
        let ttl = self.clients.get(client)?.refresh_ttl;
        let token = self.mint("rt");
        self.refresh.insert(
            token.clone(),
            Issued {
                client: client.to_string(),
                expires: Instant::now() + ttl,
                refresh: None,
            },
        );
        Some(token)
    }

    /// Ends a refresh token (a person revoked the grant) and the access tokens it gave.
    pub fn revoke(&mut self, refresh_token: &str) {
        self.refresh.remove(refresh_token);
        self.access
            .retain(|_, issued| issued.refresh.as_deref() != Some(refresh_token));
    }

    /// Ends every grant of the account and the access tokens they gave (an admin removed the
    /// client's access).
    pub fn revoke_all(&mut self) {
        self.refresh.clear();
        self.access.clear();
    }

    /// The first step of an authorization-code flow with PKCE (S256): the code a person's
    /// consent would send to `redirect_uri`.
    pub fn authorize(
        &mut self,
        client: &str,
        challenge: &str,
        redirect_uri: &str,
    ) -> Option<String> {
        self.clients.get(client)?;
        let code = self.mint("code");
        self.codes.insert(
            code.clone(),
            Code {
                client: client.to_string(),
                challenge: challenge.to_string(),
                redirect_uri: redirect_uri.to_string(),
                expires: Instant::now() + Duration::from_secs(120),
            },
        );
        Some(code)
    }

    /// `GET /oauth/authorizations/new`: a person who signs in and consents at once. The
    /// browser is sent back to `redirect_uri` with the code and the client's `state`.
    pub fn consent(&mut self, query: &crate::http::Query) -> Response {
        let (Some(client), Some(redirect), Some(challenge)) = (
            query.get("client_id"),
            query.get("redirect_uri"),
            query.get("code_challenge"),
        ) else {
            return Response::json(
                400,
                &json!({"error": "invalid_request", "error_description":
                    "client_id, redirect_uri and code_challenge are required"}),
            );
        };
        if query.get("response_type") != Some("code")
            || query.get("code_challenge_method") != Some("S256")
        {
            return Response::json(
                400,
                &json!({"error": "invalid_request", "error_description":
                    "response_type must be code and code_challenge_method S256"}),
            );
        }
        let Some(code) = self.authorize(client, challenge, redirect) else {
            return Response::json(
                400,
                &json!({"error": "invalid_client", "error_description": "unknown client_id"}),
            );
        };
        let mut back = form_urlencoded::Serializer::new(String::new());
        back.append_pair("code", &code);
        if let Some(state) = query.get("state") {
            back.append_pair("state", state);
        }
        let separator = if redirect.contains('?') { '&' } else { '?' };
        Response {
            status: 302,
            headers: vec![(
                "Location".into(),
                format!("{redirect}{separator}{}", back.finish()),
            )],
            body: Vec::new(),
        }
    }

    /// Whether `token` is a live access token; counts the refusals.
    pub fn admits(&mut self, token: &str) -> bool {
        let live = self
            .access
            .get(token)
            .is_some_and(|issued| issued.expires > Instant::now());
        if !live {
            self.stats.invalid_tokens += 1;
        }
        live
    }

    /// `POST /oauth/tokens`.
    pub fn token(&mut self, body: Option<Value>) -> Response {
        let body = body.unwrap_or(Value::Null);
        let field = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
        let (Some(grant), Some(client_id)) = (field("grant_type"), field("client_id")) else {
            return invalid_request("grant_type and client_id are required");
        };
        let client = match self.clients.get(&client_id) {
            Some(client) if field("client_secret").as_deref() == Some(&client.secret) => {
                client.clone()
            }
            _ => return invalid_client(),
        };
        let now = Instant::now();
        match grant.as_str() {
            "refresh_token" => {
                let Some(old) = field("refresh_token") else {
                    return invalid_request("refresh_token is required");
                };
                let usable = self
                    .refresh
                    .get(&old)
                    .is_some_and(|issued| issued.client == client.id && issued.expires > now);
                if !usable {
                    self.stats.invalid_grants += 1;
                    return invalid_grant();
                }
                // Rotation: the old refresh token and every access token it gave stop now.
                self.revoke(&old);
                self.stats.refreshes += 1;
                self.issue(&client, true)
            }
            "client_credentials" => {
                self.stats.client_credentials += 1;
                self.issue(&client, false)
            }
            "authorization_code" => {
                let verifier = field("code_verifier").unwrap_or_default();
                let code = field("code").and_then(|code| self.codes.remove(&code));
                let valid = code.is_some_and(|code| {
                    code.client == client.id
                        && code.expires > now
                        && Some(code.redirect_uri) == field("redirect_uri")
                        && code.challenge == s256(&verifier)
                });
                if !valid {
                    self.stats.invalid_grants += 1;
                    return invalid_grant();
                }
                self.stats.codes += 1;
                self.issue(&client, true)
            }
            other => Response::json(
                400,
                &json!({"error": "unsupported_grant_type",
                    "error_description": format!("The grant type {other:?} is not supported.")}),
            ),
        }
    }

    fn issue(&mut self, client: &OAuthClient, with_refresh: bool) -> Response {
        let now = Instant::now();
        let refresh = with_refresh.then(|| self.mint("rt"));
        let access = self.mint("at");
        self.access.insert(
            access.clone(),
            Issued {
                client: client.id.clone(),
                expires: now + client.access_ttl,
                refresh: refresh.clone(),
            },
        );
        let mut answer = json!({
            "access_token": access,
            "token_type": "bearer",
            "scope": "read write",
            "expires_in": client.access_ttl.as_secs(),
        });
        if let Some(refresh) = refresh {
            self.refresh.insert(
                refresh.clone(),
                Issued {
                    client: client.id.clone(),
                    expires: now + client.refresh_ttl,
                    refresh: None,
                },
            );
            answer["refresh_token"] = refresh.into();
            answer["refresh_token_expires_in"] = client.refresh_ttl.as_secs().into();
        }
        Response::json(200, &answer)
    }

    /// An unguessable-enough token for a mock: prefix, counter and a mixed clock.
    fn mint(&mut self, prefix: &str) -> String {
        self.minted += 1;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        format!(
            "{prefix}-{}-{:016x}",
            self.minted,
            splitmix64(nanos ^ self.minted)
        )
    }
}

/// PKCE S256: base64url (no padding) of the verifier's SHA-256.
pub fn s256(verifier: &str) -> String {
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}
