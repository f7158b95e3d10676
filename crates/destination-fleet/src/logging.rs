//! Diagnostics for the binaries: one format per stream, text or JSON lines (for log shippers),
//! colour only for a person at a terminal. Every line goes through `tracing`.

use tracing_subscriber::fmt::MakeWriter;

/// `--log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-12-07T08:00:00.000000Z  WARN message key=value`.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `message` and the fields.
    Json,
}

/// Installs the global subscriber: `level` and above, in `format`, to `writer`.
pub fn init<W>(format: LogFormat, level: tracing::Level, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(writer)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

/// The level in the environment variable `var` (`trace` to `error`), else `default`.
pub fn level_from_env(var: &str, default: tracing::Level) -> tracing::Level {
    std::env::var(var)
        .ok()
        .and_then(|level| level.trim().parse().ok())
        .unwrap_or(default)
}
