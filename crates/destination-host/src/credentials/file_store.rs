//! A [`CredentialStore`] in one JSON file: mode 0600, replaced atomically (a temporary file,
//! synced, then renamed), compare-and-set under an advisory lock on a sidecar `.lock` file, so
//! processes sharing the file never write over each other. With a [`CredentialKey`] every
//! tenant's tokens are sealed; without one they are plain JSON, readable by the file's owner
//! only (the caller warns).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{CredentialKey, CredentialStore, StoreError, StoredTokens, Versioned};

#[derive(Default, Serialize, Deserialize)]
struct StoreFile {
    tenants: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    revision: u64,
    /// base64 of `nonce || ciphertext` of the tokens' JSON (with a key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<String>,
    /// The tokens as they are (without a key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tokens: Option<StoredTokens>,
}

pub struct FileCredentialStore {
    path: PathBuf,
    lock_path: PathBuf,
    key: Option<CredentialKey>,
}

impl std::fmt::Debug for FileCredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCredentialStore")
            .field("path", &self.path)
            .field("sealed", &self.key.is_some())
            .finish()
    }
}

impl FileCredentialStore {
    /// Opens (or creates, empty) the store at `path`; `key` seals what it writes.
    pub fn open(
        path: &Path,
        key: Option<CredentialKey>,
    ) -> Result<FileCredentialStore, StoreError> {
        let lock_path = path.with_extension("lock");
        let store = FileCredentialStore {
            path: path.to_path_buf(),
            lock_path,
            key,
        };
        let _lock = store.lock()?;
        if !path.exists() {
            store.write(&StoreFile::default())?;
        }
        store.read()?;
        Ok(store)
    }

    /// Whether what it writes is encrypted.
    pub fn is_sealed(&self) -> bool {
        self.key.is_some()
    }

    fn io(&self, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            path: self.path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    /// The exclusive advisory lock every read and write of the file takes.
    fn lock(&self) -> Result<File, StoreError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&self.lock_path)
            .map_err(|e| self.io(e))?;
        file.lock().map_err(|e| self.io(e))?;
        Ok(file)
    }

    fn read(&self) -> Result<StoreFile, StoreError> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.io(e))?;
        serde_json::from_str(&text).map_err(|e| self.io(format!("not a credential store: {e}")))
    }

    /// Replaces the file atomically; only its owner can read the new one.
    fn write(&self, file: &StoreFile) -> Result<(), StoreError> {
        let text = serde_json::to_vec_pretty(file).map_err(|e| self.io(e))?;
        let temp = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        let mut out = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&temp)
            .map_err(|e| self.io(e))?;
        out.write_all(&text)
            .and_then(|()| out.sync_all())
            .and_then(|()| std::fs::rename(&temp, &self.path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&temp);
                self.io(e)
            })?;
        if let Some(directory) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // The rename itself is durable once the directory is synced.
            let _ = File::open(directory).and_then(|d| d.sync_all());
        }
        Ok(())
    }

    fn tokens_of(&self, tenant: &str, entry: &Entry) -> Result<StoredTokens, StoreError> {
        if let Some(tokens) = &entry.tokens {
            return Ok(tokens.clone());
        }
        let key = self.key.as_ref().ok_or(StoreError::KeyMissing)?;
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(entry.sealed.as_deref().unwrap_or_default())
            .map_err(|_| StoreError::WrongKey {
                tenant: tenant.to_string(),
            })?;
        key.open_tokens(tenant, &sealed)
    }
}

impl CredentialStore for FileCredentialStore {
    fn load(&self, tenant: &str) -> Result<Option<Versioned>, StoreError> {
        let _lock = self.lock()?;
        let file = self.read()?;
        file.tenants
            .get(tenant)
            .map(|entry| {
                Ok(Versioned {
                    revision: entry.revision,
                    tokens: self.tokens_of(tenant, entry)?,
                })
            })
            .transpose()
    }

    fn compare_and_set(
        &self,
        tenant: &str,
        expected: Option<u64>,
        tokens: &StoredTokens,
    ) -> Result<u64, StoreError> {
        let _lock = self.lock()?;
        let mut file = self.read()?;
        let found = file.tenants.get(tenant).map(|entry| entry.revision);
        let revision = super::next_revision(tenant, found, expected)?;
        let entry = match &self.key {
            Some(key) => Entry {
                revision,
                sealed: Some(
                    base64::engine::general_purpose::STANDARD
                        .encode(key.seal_tokens(tenant, tokens)),
                ),
                tokens: None,
            },
            None => Entry {
                revision,
                sealed: None,
                tokens: Some(tokens.clone()),
            },
        };
        file.tenants.insert(tenant.to_string(), entry);
        self.write(&file)?;
        Ok(revision)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn key(byte: u8) -> CredentialKey {
        CredentialKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([byte; 32]))
            .unwrap()
    }

    fn tokens(n: u32) -> StoredTokens {
        StoredTokens {
            refresh_token: Some(format!("refresh-secret-{n}")),
            access_token: Some(format!("access-secret-{n}")),
            expires_at_ms: u64::from(n),
            lifetime_ms: 1000,
            ..StoredTokens::default()
        }
    }

    #[test]
    fn sealed_tokens_round_trip_and_the_file_holds_none_in_plain_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        let store = FileCredentialStore::open(&path, Some(key(7))).unwrap();
        assert_eq!(store.load("acme").unwrap(), None);
        assert_eq!(store.compare_and_set("acme", None, &tokens(1)).unwrap(), 1);
        assert_eq!(
            store.compare_and_set("acme", Some(1), &tokens(2)).unwrap(),
            2
        );
        let loaded = store.load("acme").unwrap().unwrap();
        assert_eq!((loaded.revision, &loaded.tokens), (2, &tokens(2)));

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("secret"), "{text}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{loaded:?}").contains("secret"));

        // Another process with the same key reads it; a wrong or missing key is named.
        let again = FileCredentialStore::open(&path, Some(key(7))).unwrap();
        assert_eq!(again.load("acme").unwrap().unwrap().tokens, tokens(2));
        let wrong = FileCredentialStore::open(&path, Some(key(8))).unwrap();
        assert!(matches!(
            wrong.load("acme"),
            Err(StoreError::WrongKey { .. })
        ));
        let keyless = FileCredentialStore::open(&path, None).unwrap();
        assert_eq!(keyless.load("acme"), Err(StoreError::KeyMissing));
    }

    #[test]
    fn a_write_that_expected_another_revision_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        let first = FileCredentialStore::open(&path, None).unwrap();
        let second = FileCredentialStore::open(&path, None).unwrap();
        first.compare_and_set("acme", None, &tokens(1)).unwrap();
        assert_eq!(
            second.compare_and_set("acme", None, &tokens(9)),
            Err(StoreError::Conflict {
                tenant: "acme".into(),
                found: Some(1)
            })
        );
        assert_eq!(second.compare_and_set("acme", Some(1), &tokens(2)), Ok(2));
        assert_eq!(first.load("acme").unwrap().unwrap().tokens, tokens(2));
        // Plain tokens are readable by the owner only.
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn writers_in_parallel_never_lose_a_revision() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        let store = std::sync::Arc::new(FileCredentialStore::open(&path, Some(key(1))).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    let mut won = 0;
                    while won < 5 {
                        let current = store.load("acme").unwrap().map(|v| v.revision);
                        if store.compare_and_set("acme", current, &tokens(1)).is_ok() {
                            won += 1;
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(store.load("acme").unwrap().unwrap().revision, 20);
    }
}
