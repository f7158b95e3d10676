//! The run's bookkeeping: every input line ends delivered, skipped or dead-lettered, and the
//! summary proves it (see [`Summary::check_adds_up`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;

/// Where an input line ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "disposition", rename_all = "snake_case")]
pub enum Disposition {
    Delivered,
    /// Deliberately not forwarded (allow-list, unsupported event type), with the reason.
    Skipped {
        reason: String,
    },
    DeadLettered {
        error_class: String,
        error: String,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TenantCounts {
    pub lines: u64,
    pub delivered: u64,
    pub skipped: u64,
    pub dead_lettered: u64,
    pub retries: u64,
    pub zendesk_calls: u64,
    pub unanswered: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Non-blank input lines.
    pub lines: u64,
    pub delivered: u64,
    pub skipped: u64,
    pub dead_lettered: u64,
    /// Every resend: attempts beyond the first, and requests the host sent again within a call.
    pub retries: u64,
    /// HTTP requests Zendesk answered (all attempts).
    pub zendesk_calls: u64,
    /// Requests that got no answer (connection failures, timeouts): not Zendesk calls.
    pub unanswered: u64,
    pub zendesk_calls_by_event_type: BTreeMap<String, u64>,
    pub events_by_type: BTreeMap<String, u64>,
    pub skipped_reasons: BTreeMap<String, u64>,
    /// Keyed by tenant id; lines that named no tenant are under "(no tenant)".
    pub tenants: BTreeMap<String, TenantCounts>,
    pub elapsed_ms: u64,
    /// Of `elapsed_ms`, the set-up before the first event: compiling the plugin, preparing the
    /// tenants (a long-running host pays it once).
    pub startup_ms: u64,
    /// When (ms from the start) the last delivered or skipped event's requests were done: the
    /// time of the stream without its dead letters' retries.
    pub last_success_ms: Option<u64>,
    pub events_per_second: f64,
    /// The process's peak resident memory when the run ended (Linux; 0 elsewhere).
    pub peak_rss_mib: f64,
    /// Ctrl-C or SIGTERM stopped the reading after this many lines (what was read and not
    /// delivered is dead-lettered as `interrupted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted_after_line: Option<u64>,
}

/// This process's peak resident memory (`VmHWM`), in MiB; 0 where /proc does not say.
pub fn peak_rss_mib() -> f64 {
    peak_rss_mib_of("self")
}

/// Process `pid`'s (or `"self"`'s) peak resident memory (`VmHWM`), in MiB; 0 where /proc does
/// not say.
pub fn peak_rss_mib_of(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The per-tenant key for a line that named no tenant.
pub const NO_TENANT: &str = "(no tenant)";

/// One finished input line, as the summary counts it.
pub struct LineResult<'a> {
    pub tenant: Option<&'a str>,
    /// None for malformed lines (not an event).
    pub event_type: Option<&'a str>,
    pub disposition: &'a Disposition,
    pub attempts: u32,
    pub zendesk_calls: u64,
    pub unanswered: u64,
    pub resends: u64,
}

impl Summary {
    /// (event type, events, Zendesk calls, calls per event), by event type.
    pub fn calls_by_event_type(&self) -> impl Iterator<Item = (&str, u64, u64, f64)> + '_ {
        self.events_by_type.iter().map(|(event_type, &events)| {
            let calls = self
                .zendesk_calls_by_event_type
                .get(event_type)
                .copied()
                .unwrap_or(0);
            (
                event_type.as_str(),
                events,
                calls,
                calls as f64 / events.max(1) as f64,
            )
        })
    }

    pub fn record(&mut self, result: &LineResult<'_>) {
        let tenant = self
            .tenants
            .entry(result.tenant.unwrap_or(NO_TENANT).to_string())
            .or_default();
        let retries = u64::from(result.attempts.saturating_sub(1)) + result.resends;
        self.lines += 1;
        tenant.lines += 1;
        self.retries += retries;
        tenant.retries += retries;
        self.zendesk_calls += result.zendesk_calls;
        tenant.zendesk_calls += result.zendesk_calls;
        self.unanswered += result.unanswered;
        tenant.unanswered += result.unanswered;
        if let Some(event_type) = result.event_type {
            *self
                .events_by_type
                .entry(event_type.to_string())
                .or_default() += 1;
            *self
                .zendesk_calls_by_event_type
                .entry(event_type.to_string())
                .or_default() += result.zendesk_calls;
        }
        match result.disposition {
            Disposition::Delivered => {
                self.delivered += 1;
                tenant.delivered += 1;
            }
            Disposition::Skipped { reason } => {
                self.skipped += 1;
                tenant.skipped += 1;
                *self.skipped_reasons.entry(reason.clone()).or_default() += 1;
            }
            Disposition::DeadLettered { .. } => {
                self.dead_lettered += 1;
                tenant.dead_lettered += 1;
            }
        }
    }

    pub fn finish(&mut self, elapsed: Duration) {
        self.elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let seconds = elapsed.as_secs_f64();
        self.events_per_second = if seconds > 0.0 {
            self.lines as f64 / seconds
        } else {
            0.0
        };
        self.peak_rss_mib = peak_rss_mib();
    }

    /// Nothing lost: the outcomes add up to the input, overall and per tenant. An error (not a
    /// debug assertion) because a summary that does not add up must never look like success.
    pub fn check_adds_up(&self, expected_lines: u64) -> Result<()> {
        let outcomes = self.delivered + self.skipped + self.dead_lettered;
        if self.lines != expected_lines || outcomes != expected_lines {
            bail!(
                "internal accounting error: {expected_lines} input lines but {} recorded \
                 ({} delivered + {} skipped + {} dead-lettered = {outcomes})",
                self.lines,
                self.delivered,
                self.skipped,
                self.dead_lettered
            );
        }
        for (tenant, counts) in &self.tenants {
            if counts.delivered + counts.skipped + counts.dead_lettered != counts.lines {
                bail!("internal accounting error: the counts of tenant {tenant:?} do not add up");
            }
        }
        let per_tenant: u64 = self.tenants.values().map(|t| t.lines).sum();
        if per_tenant != self.lines {
            bail!(
                "internal accounting error: per-tenant lines ({per_tenant}) != {}",
                self.lines
            );
        }
        Ok(())
    }

    /// 1 when anything was dead-lettered, else 0.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.dead_lettered > 0)
    }

    /// A human-readable report (multi-line).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} lines: {} delivered, {} skipped, {} dead-lettered; {} retries; {} Zendesk calls{}; \
             {:.1} s ({:.1} events/s)",
            self.lines,
            self.delivered,
            self.skipped,
            self.dead_lettered,
            self.retries,
            self.zendesk_calls,
            match self.unanswered {
                0 => String::new(),
                n => format!(" ({n} requests got no answer)"),
            },
            self.elapsed_ms as f64 / 1000.0,
            self.events_per_second
        );
        if let Some(line) = self.interrupted_after_line {
            let _ = writeln!(
                out,
                "interrupted: stopped reading after line {line}; the undelivered events read so \
                 far are dead letters of class `interrupted` (deliver them again), the rest of \
                 the stream starts at line {}",
                line + 1
            );
        }
        for (event_type, events, calls, per_event) in self.calls_by_event_type() {
            let _ = writeln!(
                out,
                "  {event_type:<10} {events:>5} events  {calls:>6} calls  {per_event:.2} calls/event"
            );
        }
        for (reason, count) in &self.skipped_reasons {
            let _ = writeln!(out, "  skipped x{count}: {reason}");
        }
        for (tenant, c) in &self.tenants {
            let _ = writeln!(
                out,
                "  tenant {tenant}: {} lines, {} delivered, {} skipped, {} dead-lettered, {} retries, {} calls",
                c.lines, c.delivered, c.skipped, c.dead_lettered, c.retries, c.zendesk_calls
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(
        tenant: Option<&'a str>,
        event_type: Option<&'a str>,
        disposition: &'a Disposition,
        attempts: u32,
        zendesk_calls: u64,
    ) -> LineResult<'a> {
        LineResult {
            tenant,
            event_type,
            disposition,
            attempts,
            zendesk_calls,
            unanswered: 0,
            resends: 0,
        }
    }

    #[test]
    fn counts_add_up_per_tenant_and_type() {
        let delivered = Disposition::Delivered;
        let skipped = Disposition::Skipped {
            reason: "not allowed".into(),
        };
        let dead = Disposition::DeadLettered {
            error_class: "rejected".into(),
            error: "422".into(),
        };
        let mut summary = Summary::default();
        summary.record(&line(Some("a"), Some("identify"), &delivered, 1, 2));
        summary.record(&line(Some("a"), Some("track"), &skipped, 1, 0));
        summary.record(&line(Some("b"), Some("identify"), &dead, 3, 3));
        summary.record(&line(None, None, &dead, 0, 0));
        // Two requests sent again within a call, one of them never answered.
        summary.record(&LineResult {
            unanswered: 1,
            resends: 2,
            ..line(Some("c"), Some("identify"), &delivered, 1, 3)
        });
        summary.finish(Duration::from_secs(2));

        summary.check_adds_up(5).unwrap();
        assert_eq!(
            (summary.delivered, summary.skipped, summary.dead_lettered),
            (2, 1, 2)
        );
        assert_eq!(summary.retries, 4);
        assert_eq!((summary.zendesk_calls, summary.unanswered), (8, 1));
        assert!(summary.render().contains("(1 requests got no answer)"));
        assert_eq!(summary.zendesk_calls_by_event_type["identify"], 8);
        assert_eq!(summary.events_by_type["identify"], 3);
        assert_eq!(summary.skipped_reasons["not allowed"], 1);
        assert_eq!(summary.tenants["b"].retries, 2);
        assert_eq!(summary.tenants[NO_TENANT].dead_lettered, 1);
        assert_eq!(summary.events_per_second, 2.5);
        assert_eq!(summary.exit_code(), 1);
        assert!(
            summary
                .render()
                .contains("5 lines: 2 delivered, 1 skipped, 2 dead-lettered")
        );
    }

    #[test]
    fn a_lost_line_is_an_error() {
        let mut summary = Summary::default();
        summary.record(&line(
            Some("a"),
            Some("track"),
            &Disposition::Delivered,
            1,
            1,
        ));
        assert!(summary.check_adds_up(2).is_err());
        assert_eq!(summary.exit_code(), 0);
        summary.check_adds_up(1).unwrap();
        // A tenant whose counts do not add up is caught too.
        if let Some(tenant) = summary.tenants.get_mut("a") {
            tenant.delivered = 0;
        }
        assert!(summary.check_adds_up(1).is_err());
    }
}
