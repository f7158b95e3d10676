//! An append-only JSONL file shared by the worker threads (dead letters, trace).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow};
use serde::Serialize;

use destination_host::Redactor;

pub struct JsonlFile {
    path: PathBuf,
    secrets: Redactor,
    state: Mutex<WriterState>,
}

struct WriterState {
    writer: BufWriter<File>,
    /// The first write error; reported by `finish` so a broken file never passes silently.
    error: Option<String>,
}

impl JsonlFile {
    pub fn create(path: &Path, secrets: Redactor) -> Result<JsonlFile> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(JsonlFile {
            path: path.to_path_buf(),
            secrets,
            state: Mutex::new(WriterState {
                writer: BufWriter::new(file),
                error: None,
            }),
        })
    }

    /// Appends one record as a line, with every credential value scrubbed.
    pub fn append(&self, record: &impl Serialize) {
        let line = match serde_json::to_string(record) {
            Ok(line) => self.secrets.scrub(&line).into_owned(),
            Err(e) => format!("{{\"error\":\"record not serialisable: {e}\"}}"),
        };
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.error.is_none()
            && let Err(e) = writeln!(state.writer, "{line}")
        {
            state.error = Some(e.to_string());
        }
    }

    /// Flushes; fails if any write failed.
    pub fn finish(&self) -> Result<()> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(e) = state.writer.flush() {
            state.error.get_or_insert(e.to_string());
        }
        match &state.error {
            Some(error) => Err(anyhow!("writing {} failed: {error}", self.path.display())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_scrubbed_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let secrets = Redactor::from_configs([r#"{"apiToken": "TOPSECRET"}"#]);
        let file = JsonlFile::create(&path, secrets).unwrap();
        file.append(&serde_json::json!({"n": 1, "msg": "token TOPSECRET leaked"}));
        file.append(&serde_json::json!({"n": 2}));
        file.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"msg\":\"token [redacted] leaked\",\"n\":1}\n{\"n\":2}\n"
        );
    }
}
