//! The runner's stderr: plugin logs, warnings and an optional progress bar, without the bar and
//! the text garbling each other. Everything printed is scrubbed of credential values, and goes
//! through `tracing`, so the stream has one format (text or `--log-format json`).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use destination_host::LogRecord;
use destination_host::Redactor;

/// The environment variable that sets the lowest log level shown (default `warn`).
pub const LOG_LEVEL_VAR: &str = "HOST_TEST_LOG";

const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

fn level_rank(level: &str) -> usize {
    LEVELS
        .iter()
        .position(|l| l.eq_ignore_ascii_case(level.trim()))
        .unwrap_or(LEVELS.len() - 1)
}

/// Dead-lettered lines shown one by one; past it, one notice (the file and summary have all).
const SHOWN_DEAD_LETTERS: u64 = 100;

/// The progress bar on screen, if any: log lines are written above it.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Where the binaries' `tracing` lines go: stderr, above the progress bar when one is shown.
pub struct ConsoleWriter;

impl Write for ConsoleWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = BAR.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ConsoleWriter {
    type Writer = ConsoleWriter;

    fn make_writer(&'a self) -> ConsoleWriter {
        ConsoleWriter
    }
}

pub struct Console {
    progress: Option<ProgressBar>,
    min_level: usize,
    secrets: Redactor,
    dead_letters: std::sync::atomic::AtomicU64,
}

impl Console {
    /// `want_progress` shows a bar of `total` lines, but only when stderr is a terminal.
    pub fn new(want_progress: bool, total: u64, secrets: Redactor) -> Console {
        let progress = (want_progress && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {pos}/{len} events  {per_sec}  eta {eta}  {msg}",
            ) {
                bar.set_style(style);
            }
            *BAR.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.clone());
            bar
        });
        let min_level = std::env::var(LOG_LEVEL_VAR)
            .map(|level| level_rank(&level))
            .unwrap_or_else(|_| level_rank("warn"));
        Console {
            progress,
            min_level,
            secrets,
            dead_letters: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Prints a dead letter's line, up to a hundred of them (a million-line stream with a broken
    /// tenant must not flood the terminal).
    pub fn dead_letter(&self, text: &str) {
        let shown = self
            .dead_letters
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if shown < SHOWN_DEAD_LETTERS {
            self.line(text);
        } else if shown == SHOWN_DEAD_LETTERS {
            self.line("… further dead letters are not shown: see --dead-letter and the summary");
        }
    }

    /// Prints one line for the operator (a warning: shown at the default level).
    pub fn line(&self, text: &str) {
        let text = self.secrets.scrub(text);
        tracing::warn!("{text}");
    }

    /// Forwards a call's log records at or above the configured level, prefixed with the tenant.
    pub fn logs(&self, tenant: &str, line: usize, logs: &[LogRecord]) {
        for record in logs {
            if level_rank(&record.level) < self.min_level {
                continue;
            }
            let fields: String = record
                .fields
                .iter()
                .map(|(key, value)| format!(" {key}={value}"))
                .collect();
            let text = format!("{}{fields}", record.message);
            let message = self.secrets.scrub(&text);
            let source = record.source.as_str();
            match level_rank(&record.level) {
                0 => tracing::trace!(tenant, line, source, "{message}"),
                1 => tracing::debug!(tenant, line, source, "{message}"),
                2 => tracing::info!(tenant, line, source, "{message}"),
                3 => tracing::warn!(tenant, line, source, "{message}"),
                _ => tracing::error!(tenant, line, source, "{message}"),
            }
        }
    }

    /// What the run waits for: on the progress line, else as a line every
    /// [`super::waiting::PRINT_EVERY`] (`said`: when it was last shown).
    pub fn status(&self, status: Option<String>, said: &mut std::time::Instant) {
        match (&self.progress, status) {
            (Some(bar), status) => {
                bar.set_message(status.unwrap_or_default());
                *said = std::time::Instant::now();
            }
            (None, Some(status)) if said.elapsed() >= super::waiting::PRINT_EVERY => {
                self.line(&status);
                *said = std::time::Instant::now();
            }
            (None, _) => {}
        }
    }

    pub fn advance(&self) {
        if let Some(bar) = &self.progress {
            bar.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.progress {
            bar.finish_and_clear();
            *BAR.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_rank_in_order_and_unknown_counts_as_error() {
        assert!(level_rank("debug") < level_rank("WARN"));
        assert!(level_rank("warn") < level_rank("error"));
        assert_eq!(level_rank("bogus"), level_rank("error"));
    }
}
