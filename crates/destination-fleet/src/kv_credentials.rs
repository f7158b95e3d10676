//! The fleet's [`CredentialStore`]: a JetStream key-value bucket every worker shares, written
//! with compare-and-set on the entry's revision, each tenant's tokens sealed with the
//! operator's [`CredentialKey`] (bound to the tenant, so an entry copied to another key does
//! not open). The refresh claim of [`destination_host::credentials`] rides on the same
//! compare-and-set, so one worker refreshes a tenant and the others take its result.

use async_nats::jetstream::kv;
use bytes::Bytes;
use tokio::runtime::Handle;

use destination_host::credentials::{
    CredentialKey, CredentialStore, StoreError, StoredTokens, Versioned,
};

use crate::kv_token;

pub struct KvCredentialStore {
    bucket: kv::Store,
    key: CredentialKey,
    runtime: Handle,
}

impl KvCredentialStore {
    /// Its methods block: they run on the sandbox's threads, never on the async runtime's.
    pub fn new(bucket: kv::Store, key: CredentialKey, runtime: Handle) -> KvCredentialStore {
        KvCredentialStore {
            bucket,
            key,
            runtime,
        }
    }

    fn io(&self, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            path: format!("key-value bucket {}", crate::CREDENTIALS_BUCKET),
            reason: reason.to_string(),
        }
    }

    fn revision_of(&self, tenant: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.load(tenant)?.map(|v| v.revision))
    }
}

impl CredentialStore for KvCredentialStore {
    fn load(&self, tenant: &str) -> Result<Option<Versioned>, StoreError> {
        let entry = self
            .runtime
            .block_on(self.bucket.entry(kv_token(tenant)))
            .map_err(|e| self.io(e))?;
        let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else {
            return Ok(None);
        };
        Ok(Some(Versioned {
            revision: entry.revision,
            tokens: self.key.open_tokens(tenant, &entry.value)?,
        }))
    }

    fn compare_and_set(
        &self,
        tenant: &str,
        expected: Option<u64>,
        tokens: &StoredTokens,
    ) -> Result<u64, StoreError> {
        let value = Bytes::from(self.key.seal_tokens(tenant, tokens));
        let key = kv_token(tenant);
        let written = match expected {
            None => self
                .runtime
                .block_on(self.bucket.create(&key, value))
                .map_err(|e| match e.kind() {
                    kv::CreateErrorKind::AlreadyExists => None,
                    _ => Some(self.io(e)),
                }),
            Some(revision) => self
                .runtime
                .block_on(self.bucket.update(&key, value, revision))
                .map_err(|e| match e.kind() {
                    kv::UpdateErrorKind::WrongLastRevision => None,
                    _ => Some(self.io(e)),
                }),
        };
        match written {
            Ok(revision) => Ok(revision),
            Err(Some(error)) => Err(error),
            Err(None) => Err(StoreError::Conflict {
                tenant: tenant.to_string(),
                found: self.revision_of(tenant)?,
            }),
        }
    }
}
