//! A tenant's first refresh token, without writing code: the authorization-code flow with PKCE
//! (RFC 7636, S256). [`Authorization::start`] gives the URL a person opens and consents at;
//! the code their browser is sent back with is exchanged ([`Authorization::exchange`]) for
//! tokens, which [`store_authorized`] writes to the credential store, where the tenant's
//! token source finds them.

use base64::Engine as _;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore as _;
use serde_json::json;
use sha2::Digest as _;

use super::oauth::{Refusal, request_tokens};
use super::{AuthError, CredentialStore, OAuthGrant, StoreError, StoredTokens};
use crate::transport::Transport;

/// Zendesk's consent page, under the account's origin.
pub const AUTHORIZE_PATH: &str = "/oauth/authorizations/new";

/// One authorization in progress: its URL and the secrets to finish it with. `Debug` shows
/// the URL only (the verifier must not leak: it is what makes the code useless to others).
pub struct Authorization {
    pub url: String,
    redirect_uri: String,
    verifier: String,
    state: String,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authorization({})", self.url)
    }
}

impl Authorization {
    /// A new authorization of `client_id` on the account at `origin`
    /// (`https://acme.zendesk.com`) for `scope` (e.g. `read write`).
    pub fn start(origin: &str, client_id: &str, redirect_uri: &str, scope: &str) -> Authorization {
        let verifier = random_text();
        let state = random_text();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge_of(&verifier))
            .append_pair("code_challenge_method", "S256")
            .finish();
        Authorization {
            url: format!("{}{AUTHORIZE_PATH}?{query}", origin.trim_end_matches('/')),
            redirect_uri: redirect_uri.to_string(),
            verifier,
            state,
        }
    }

    /// The code in what the person pasted: the code itself, or the whole URL they were sent
    /// back to (whose `state` must be this authorization's; its `error` is named).
    pub fn code_of(&self, pasted: &str) -> Result<String, String> {
        let pasted = pasted.trim();
        let Some((_, query)) = pasted.split_once('?') else {
            return match pasted.is_empty() {
                true => Err("no code was given".into()),
                false => Ok(pasted.to_string()),
            };
        };
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        if let Some(error) = get("error") {
            let detail = get("error_description").unwrap_or_default();
            return Err(format!("the authorization was refused: {error} {detail}"));
        }
        if get("state").as_deref() != Some(self.state.as_str()) {
            return Err("the URL's state is not this authorization's: start again".into());
        }
        get("code").ok_or_else(|| "the URL has no code".into())
    }

    /// Exchanges `code` for the tenant's first tokens at `token_url`.
    pub fn exchange(
        &self,
        tenant: &str,
        grant: &OAuthGrant,
        code: &str,
        token_url: &str,
        transport: &dyn Transport,
    ) -> Result<StoredTokens, AuthError> {
        let body = grant.token_request(json!({
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.verifier,
        }));
        request_tokens(transport, token_url, &body, None).map_err(|refusal| match refusal {
            Refusal::Grant(reason) => AuthError::Revoked {
                tenant: tenant.to_string(),
                reason,
            },
            Refusal::Transient(reason) => AuthError::Transient {
                tenant: tenant.to_string(),
                reason,
            },
        })
    }
}

/// Writes a tenant's newly authorized tokens over whatever the store held for it (a dead
/// grant, a lapsed claim): a person's consent supersedes them. Returns the new revision.
pub fn store_authorized(
    store: &dyn CredentialStore,
    tenant: &str,
    tokens: &StoredTokens,
) -> Result<u64, StoreError> {
    let mut expected = store.load(tenant)?.map(|v| v.revision);
    loop {
        match store.compare_and_set(tenant, expected, tokens) {
            Err(StoreError::Conflict { found, .. }) => expected = found,
            written => return written,
        }
    }
}

/// PKCE S256: base64url (no padding) of the verifier's SHA-256.
pub fn challenge_of(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// 32 random bytes as base64url: 43 characters, a valid PKCE verifier and state.
fn random_text() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_carries_a_s256_challenge_and_the_redirect_gives_the_code_back() {
        let auth = Authorization::start(
            "https://acme.zendesk.com/",
            "cdp",
            "http://127.0.0.1:9/cb",
            "read write",
        );
        assert!(
            auth.url.starts_with(
                "https://acme.zendesk.com/oauth/authorizations/new?response_type=code&client_id=cdp&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=read+write&state="
            ),
            "{}",
            auth.url
        );
        let challenge = challenge_of(&auth.verifier);
        assert!(auth.url.contains(&format!(
            "code_challenge={challenge}&code_challenge_method=S256"
        )));
        assert!(
            !auth.url.contains(&auth.verifier) && !format!("{auth:?}").contains(&auth.verifier)
        );
        // SHA-256("abc") is ba7816bf…15ad (FIPS 180-2), here in base64url.
        assert_eq!(
            challenge_of("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );

        let back = format!("http://127.0.0.1:9/cb?code=abc&state={}", auth.state);
        assert_eq!(auth.code_of(&back).unwrap(), "abc");
        assert_eq!(auth.code_of(" abc \n").unwrap(), "abc");
        assert!(
            auth.code_of("http://127.0.0.1:9/cb?code=abc&state=forged")
                .unwrap_err()
                .contains("state")
        );
        assert!(
            auth.code_of("http://x/cb?error=access_denied")
                .unwrap_err()
                .contains("access_denied")
        );
        assert!(auth.code_of("  ").is_err());
    }
}
