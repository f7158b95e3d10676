//! The benchmark's figures: one table for people, the same as JSON for machines.

use serde::Serialize;

use mock_zendesk::workload::StandardStream;

use super::attribution::CallsByType;
use crate::runner::EventReport;

#[derive(Clone, Debug, Serialize)]
pub struct ModeReport {
    /// `per-event` or `batch`.
    pub mode: &'static str,
    /// Whether the unchanged window is at its default (60 s) rather than off.
    pub dedupe: bool,
    pub calls_per_event: CallsByType,
    pub events_per_second: f64,
    /// The time of an event's plugin call (in a batch: the batch's call), in µs.
    pub p50_us: u64,
    pub p99_us: u64,
}

impl ModeReport {
    pub fn new(
        batched: bool,
        dedupe: bool,
        calls_per_event: CallsByType,
        events_per_second: f64,
        reports: &[EventReport],
    ) -> ModeReport {
        let mut times: Vec<u64> = reports.iter().map(|r| r.call_us).collect();
        times.sort_unstable();
        let at = |q: f64| {
            times
                .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        ModeReport {
            mode: if batched { "batch" } else { "per-event" },
            dedupe,
            calls_per_event,
            events_per_second,
            p50_us: at(0.50),
            p99_us: at(0.99),
        }
    }

    fn title(&self) -> String {
        let dedupe = if self.dedupe {
            "dedupe 60 s (default)"
        } else {
            "dedupe off"
        };
        format!("{}, {dedupe}", self.mode)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub stream: StandardStream,
    pub tenants: usize,
    pub batch_size: usize,
    pub modes: Vec<ModeReport>,
    pub sandbox_instantiation_us: f64,
    pub component_kib: f64,
    pub hot_swap_ms: f64,
    pub peak_rss_mib: f64,
}

impl BenchReport {
    /// A Markdown table: one column per mode, one row per figure.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, Vec<String>)> = Vec::new();
        let mut row = |name: &str, value: &dyn Fn(&ModeReport) -> String| {
            rows.push((name.to_string(), self.modes.iter().map(value).collect()));
        };
        row("calls/event identify", &|m| {
            format!("{:.3}", m.calls_per_event.identify)
        });
        row("calls/event track", &|m| {
            format!("{:.3}", m.calls_per_event.track)
        });
        row("calls/event group", &|m| {
            format!("{:.3}", m.calls_per_event.group)
        });
        row("**calls/event overall**", &|m| {
            format!("**{:.3}**", m.calls_per_event.overall)
        });
        row("events/s", &|m| format!("{:.0}", m.events_per_second));
        row("p50 per event", &|m| micros(m.p50_us));
        row("p99 per event", &|m| micros(m.p99_us));
        let shared = |value: String| move |_: &ModeReport| value.clone();
        row(
            "sandbox instantiation",
            &shared(format!("{:.0} µs", self.sandbox_instantiation_us)),
        );
        row(
            "peak RSS (whole bench)",
            &shared(format!("{:.0} MiB", self.peak_rss_mib)),
        );
        row(
            "component size",
            &shared(format!("{:.0} KiB", self.component_kib)),
        );
        row("hot swap", &shared(format!("{:.0} ms", self.hot_swap_ms)));

        let header: Vec<String> = self.modes.iter().map(ModeReport::title).collect();
        let mut out = format!(
            "Standard stream: {} events x {} tenant(s), {} users, {} organizations, seed {}; batch size {}\n\n",
            self.stream.events,
            self.tenants,
            self.stream.users,
            self.stream.organizations,
            self.stream.seed,
            self.batch_size
        );
        out += &format!(
            "| | {} |\n|---|{}\n",
            header.join(" | "),
            "---|".repeat(header.len())
        );
        for (name, values) in rows {
            out += &format!("| {name} | {} |\n", values.join(" | "));
        }
        out
    }
}

fn micros(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}
