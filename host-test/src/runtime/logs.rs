//! The `log` import and the host's own records: a bounded buffer per call.

use super::bindings::wit_log;
use super::report::LogRecord;
use super::state::CallState;

/// Records kept per call; later ones are counted and dropped.
const MAX_RECORDS: usize = 1000;
/// Longest message kept, in bytes (longer ones are cut at a char boundary).
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Fields kept per record.
const MAX_FIELDS: usize = 64;

/// The log records of one call.
#[derive(Default)]
pub struct LogBuffer {
    records: Vec<LogRecord>,
    dropped: u64,
}

impl LogBuffer {
    pub fn push(
        &mut self,
        level: &str,
        source: &str,
        message: &str,
        fields: Vec<(String, String)>,
    ) {
        if self.records.len() >= MAX_RECORDS {
            self.dropped += 1;
            return;
        }
        let mut fields = fields;
        fields.truncate(MAX_FIELDS);
        for (_, value) in fields.iter_mut() {
            truncate_at_char_boundary(value, MAX_MESSAGE_BYTES);
        }
        let mut message = message.to_string();
        truncate_at_char_boundary(&mut message, MAX_MESSAGE_BYTES);
        self.records.push(LogRecord {
            level: level.to_string(),
            source: source.to_string(),
            message,
            fields,
        });
    }

    /// A host record (the host's own observations about the call).
    pub fn host(&mut self, level: &str, message: &str, fields: Vec<(String, String)>) {
        self.push(level, "host", message, fields);
    }

    /// The records, plus one that says how many were dropped, if any.
    pub fn finish(mut self) -> Vec<LogRecord> {
        if self.dropped > 0 {
            self.records.push(LogRecord {
                level: "warn".into(),
                source: "host".into(),
                message: format!(
                    "{} log records dropped (at most {MAX_RECORDS} per call)",
                    self.dropped
                ),
                fields: Vec::new(),
            });
        }
        self.records
    }
}

fn truncate_at_char_boundary(text: &mut String, max_bytes: usize) {
    if text.len() > max_bytes {
        let mut cut = max_bytes;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

fn level_name(level: wit_log::Level) -> &'static str {
    match level {
        wit_log::Level::Trace => "trace",
        wit_log::Level::Debug => "debug",
        wit_log::Level::Info => "info",
        wit_log::Level::Warn => "warn",
        wit_log::Level::Error => "error",
    }
}

impl wit_log::Host for CallState {
    fn log(&mut self, level: wit_log::Level, message: String, fields: Vec<(String, String)>) {
        self.logs.push(level_name(level), "guest", &message, fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_beyond_the_bound_are_counted_not_kept() {
        let mut logs = LogBuffer::default();
        for i in 0..MAX_RECORDS + 3 {
            logs.push("info", "guest", &format!("m{i}"), Vec::new());
        }
        let records = logs.finish();
        assert_eq!(records.len(), MAX_RECORDS + 1);
        let last = &records[MAX_RECORDS];
        assert_eq!(last.source, "host");
        assert!(
            last.message.starts_with("3 log records dropped"),
            "{}",
            last.message
        );
    }

    #[test]
    fn long_messages_are_cut_at_a_char_boundary() {
        let mut logs = LogBuffer::default();
        logs.push("info", "guest", &"é".repeat(MAX_MESSAGE_BYTES), Vec::new());
        let records = logs.finish();
        assert!(records[0].message.len() <= MAX_MESSAGE_BYTES);
        assert!(records[0].message.chars().all(|c| c == 'é'));
    }
}
