//! The log records of one call: bounded in count, per record and in total bytes.

use crate::report::LogRecord;

/// Records kept per call; later ones are counted and dropped.
const MAX_RECORDS: usize = 1000;
/// Longest message or field value kept, in bytes (longer ones are cut at a char boundary).
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Fields kept per record.
const MAX_FIELDS: usize = 64;

/// The call produced more log bytes than its budget.
#[derive(Debug)]
pub struct OverBudget;

/// The log records of one call.
pub struct LogBuffer {
    records: Vec<LogRecord>,
    dropped: u64,
    bytes: u64,
    max_bytes: u64,
}

impl LogBuffer {
    /// A buffer that refuses records once they total more than `max_bytes`.
    pub fn new(max_bytes: u64) -> LogBuffer {
        LogBuffer {
            records: Vec::new(),
            dropped: 0,
            bytes: 0,
            max_bytes,
        }
    }

    /// Keeps a record (cut to the per-record bounds). Past the byte budget it is refused; past
    /// the record count it is counted and dropped.
    pub fn push(
        &mut self,
        level: &str,
        source: &str,
        message: String,
        mut fields: Vec<(String, String)>,
    ) -> Result<(), OverBudget> {
        fields.truncate(MAX_FIELDS);
        for (key, value) in fields.iter_mut() {
            truncate_at_char_boundary(key, MAX_MESSAGE_BYTES);
            truncate_at_char_boundary(value, MAX_MESSAGE_BYTES);
        }
        let mut message = message;
        truncate_at_char_boundary(&mut message, MAX_MESSAGE_BYTES);
        let size = message.len() + fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        // Dropped records count too: the budget is what the guest logged, not what was kept.
        self.bytes = self.bytes.saturating_add(size as u64);
        if self.bytes > self.max_bytes {
            return Err(OverBudget);
        }
        if self.records.len() >= MAX_RECORDS {
            self.dropped += 1;
            return Ok(());
        }
        self.records.push(LogRecord {
            level: level.to_string(),
            source: source.to_string(),
            message,
            fields,
        });
        Ok(())
    }

    /// A host record (the host's own observations about the call); never refused.
    pub fn host(&mut self, level: &str, message: String, fields: Vec<(String, String)>) {
        self.records.push(LogRecord {
            level: level.to_string(),
            source: "host".into(),
            message,
            fields,
        });
    }

    /// The records, plus one that says how many were dropped, if any.
    pub fn finish(mut self) -> Vec<LogRecord> {
        if self.dropped > 0 {
            let message = format!(
                "{} log records dropped (at most {MAX_RECORDS} per call)",
                self.dropped
            );
            self.host("warn", message, Vec::new());
        }
        self.records
    }
}

pub fn truncate_at_char_boundary(text: &mut String, max_bytes: usize) {
    if text.len() > max_bytes {
        let mut cut = max_bytes;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOMY: u64 = 1 << 30;

    #[test]
    fn records_beyond_the_bound_are_counted_not_kept() {
        let mut logs = LogBuffer::new(ROOMY);
        for i in 0..MAX_RECORDS + 3 {
            logs.push("info", "guest", format!("m{i}"), Vec::new())
                .unwrap();
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
        let mut logs = LogBuffer::new(ROOMY);
        logs.push("info", "guest", "é".repeat(MAX_MESSAGE_BYTES), Vec::new())
            .unwrap();
        let records = logs.finish();
        assert!(records[0].message.len() <= MAX_MESSAGE_BYTES);
        assert!(records[0].message.chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_byte_budget_counts_messages_and_fields() {
        let mut logs = LogBuffer::new(10);
        logs.push(
            "info",
            "guest",
            "12345".into(),
            vec![("k".into(), "v".into())],
        )
        .unwrap();
        assert!(
            logs.push("info", "guest", "1234".into(), Vec::new())
                .is_err()
        );
        assert_eq!(logs.finish().len(), 1);
    }
}
