//! The operator's key for tokens at rest, and sealing with it: XChaCha20-Poly1305 (a random
//! 24-byte nonce per write), the tenant id as associated data, so a sealed entry opens only as
//! the tenant it was written for.

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::{StoreError, StoredTokens};

/// The environment variable that holds the key: 32 random bytes, base64
/// (`head -c 32 /dev/urandom | base64`).
pub const CREDENTIAL_KEY_VAR: &str = "CDP_CREDENTIAL_KEY";

const NONCE_BYTES: usize = 24;

/// The key. `Debug` never shows it.
#[derive(Clone)]
pub struct CredentialKey(XChaCha20Poly1305);

impl fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialKey([redacted])")
    }
}

/// A key that is not 32 bytes of base64. Never carries the text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{CREDENTIAL_KEY_VAR} must be 32 random bytes in base64 (e.g. `head -c 32 /dev/urandom | base64`): {0}"
)]
pub struct KeyError(&'static str);

impl CredentialKey {
    pub fn from_base64(text: &str) -> Result<CredentialKey, KeyError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError("it is not base64"))?;
        if bytes.len() != 32 {
            return Err(KeyError("it is not 32 bytes long"));
        }
        XChaCha20Poly1305::new_from_slice(&bytes)
            .map(CredentialKey)
            .map_err(|_| KeyError("it is not 32 bytes long"))
    }

    /// The key in [`CREDENTIAL_KEY_VAR`], if set.
    pub fn from_env() -> Result<Option<CredentialKey>, KeyError> {
        match std::env::var(CREDENTIAL_KEY_VAR) {
            Ok(text) if !text.trim().is_empty() => CredentialKey::from_base64(&text).map(Some),
            _ => Ok(None),
        }
    }

    /// A tenant's tokens sealed for a store: `nonce || ciphertext`, opened only by
    /// [`CredentialKey::open_tokens`] for the same tenant.
    pub fn seal_tokens(&self, tenant: &str, tokens: &StoredTokens) -> Vec<u8> {
        let plain = serde_json::to_vec(tokens).expect("tokens serialize to JSON");
        self.seal(tenant, &plain)
    }

    /// The tokens of a [`CredentialKey::seal_tokens`] for `tenant`.
    pub fn open_tokens(&self, tenant: &str, sealed: &[u8]) -> Result<StoredTokens, StoreError> {
        let wrong_key = || StoreError::WrongKey {
            tenant: tenant.to_string(),
        };
        let plain = self.open(tenant, sealed).ok_or_else(wrong_key)?;
        serde_json::from_slice(&plain).map_err(|_| wrong_key())
    }

    /// `nonce || ciphertext` of `plain`, bound to `tenant`.
    fn seal(&self, tenant: &str, plain: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plain,
            aad: tenant.as_bytes(),
        };
        let sealed = self
            .0
            .encrypt(&nonce, payload)
            .expect("XChaCha20-Poly1305 encrypts any message that fits in memory");
        [nonce.as_slice(), &sealed].concat()
    }

    /// The plain text of a [`CredentialKey::seal`] for `tenant`; `None` when the key, the tenant
    /// or the bytes do not match.
    fn open(&self, tenant: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let payload = Payload {
            msg: ciphertext,
            aad: tenant.as_bytes(),
        };
        self.0.decrypt(XNonce::from_slice(nonce), payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CredentialKey {
        CredentialKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([byte; 32]))
            .unwrap()
    }

    #[test]
    fn sealed_text_opens_only_with_its_key_and_tenant() {
        let sealed = key(1).seal("acme", b"refresh-token-1");
        assert!(!sealed.windows(15).any(|w| w == b"refresh-token-1"));
        assert_eq!(
            key(1).open("acme", &sealed).as_deref(),
            Some(&b"refresh-token-1"[..])
        );
        assert_eq!(key(2).open("acme", &sealed), None, "another key");
        assert_eq!(key(1).open("other", &sealed), None, "another tenant");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(key(1).open("acme", &tampered), None, "a changed byte");
        assert_ne!(
            key(1).seal("acme", b"x"),
            key(1).seal("acme", b"x"),
            "a nonce per write"
        );
    }

    #[test]
    fn a_bad_key_is_refused_without_echoing_it() {
        let error = CredentialKey::from_base64("c2hvcnQ=").unwrap_err();
        assert!(error.to_string().contains("32 bytes"), "{error}");
        assert!(!error.to_string().contains("c2hvcnQ"), "{error}");
        assert!(CredentialKey::from_base64("not base64 at all!").is_err());
        assert_eq!(format!("{:?}", key(1)), "CredentialKey([redacted])");
    }
}
