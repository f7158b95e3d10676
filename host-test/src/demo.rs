//! `host-test demo`: a bundled sample stream for tenant "acme" through the real plugin against
//! the in-process mock Zendesk, printed event by event, then the mock's final state and a summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use mock_zendesk::{BulkSettings, MockZendesk};
use serde_json::{Value, json};

use crate::output::{plugin_path, print_stdout};
use crate::runner::state_view::render_mock_state;
use crate::runner::{
    self, Batching, Disposition, EventReport, PluginSource, RetryPolicy, RunOptions, Summary,
    Target,
};

/// The sample stream: one event JSON per line.
pub const SAMPLE_EVENTS: &str = include_str!("../demo/events.jsonl");
/// The demo tenant's plugin config (a made-up token: the mock accepts any credentials).
pub const TENANT_CONFIG: &str = include_str!("../demo/tenant.json");
pub const TENANT_ID: &str = "acme";

/// What the demo runs: the plugin (default: the one built with this binary) and the events
/// (default: the bundled sample), one event JSON per line, for tenant "acme".
pub struct DemoOptions {
    pub plugin: Option<PathBuf>,
    pub events: Option<PathBuf>,
    /// One plugin call per event (the default) or batches (`--batch-size`).
    pub batching: Batching,
}

pub fn run_demo(args: &DemoOptions) -> Result<u8> {
    let events = match &args.events {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the events file {}", path.display()))?,
        None => SAMPLE_EVENTS.to_string(),
    };
    let config: Value =
        serde_json::from_str(TENANT_CONFIG).context("the bundled demo/tenant.json is not JSON")?;
    let tenants = json!({ "tenants": { TENANT_ID: config } }).to_string();
    let labels = event_labels(&events);
    let mock = MockZendesk::new();
    if args.batching.is_on() {
        // The demo account is one whose bulk user import Zendesk Support has turned on.
        mock.set_default_bulk(BulkSettings {
            user_import: true,
            ..BulkSettings::default()
        });
    }

    let mut options = RunOptions::new(tenants, for_tenant(&events), Target::Mock(mock.clone()));
    options.plugin = PluginSource::File(plugin_path(&args.plugin)?);
    // The mock never fails on purpose: one attempt shows the plugin's real outcome.
    options.retry = RetryPolicy::never();
    // One worker delivers in input order: the stream's cross-user steps (an organization
    // created by one user's group, joined by another's identify) stay as written.
    options.concurrency = 1;
    options.batching = args.batching;
    let reports: Arc<Mutex<Vec<EventReport>>> = Arc::default();
    let collected = Arc::clone(&reports);
    options.on_event = Some(Arc::new(move |report: &EventReport| {
        collected
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(report.clone());
    }));
    print_stdout(&format!(
        "Running the sample stream for tenant `{TENANT_ID}` through the plugin:\n\n"
    ));
    let summary = runner::run(options)?;
    // Users are delivered in parallel; show the events in input order.
    let mut reports = std::mem::take(
        &mut *reports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    );
    reports.sort_by_key(|report| report.line);
    for report in &reports {
        let label = labels.get(&report.line).map_or("", String::as_str);
        print_stdout(&render_event(report, label));
    }
    print_stdout(&format!("\n{}\n", render_mock_state(&mock)));
    print_stdout(&render_summary(&summary));
    Ok(summary.exit_code())
}

/// Wraps each event line as `{"tenant": "acme", "event": ...}` for the runner. Blank lines stay
/// blank and lines that are not JSON are passed through, so line numbers match the input and
/// the runner reports bad lines instead of them vanishing.
pub fn for_tenant(events: &str) -> String {
    events
        .lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(event) => json!({ "tenant": TENANT_ID, "event": event }).to_string(),
            Err(_) => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Who each event is about ("userId u-1", "groupId g-1", a record's identifiers, an audience
/// list's sizes), by line number.
fn event_labels(events: &str) -> BTreeMap<usize, String> {
    events
        .lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let event: Value = serde_json::from_str(line).ok()?;
            Some((index + 1, label(&event)))
        })
        .collect()
}

fn label(event: &Value) -> String {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    if let Some(identifiers) = event.get("identifiers").and_then(Value::as_object) {
        let ids: Vec<String> = identifiers
            .iter()
            .map(|(key, value)| format!("{key} {}", text(value)))
            .collect();
        return ids.join(", ");
    }
    if let Some(list) = event.pointer("/properties/listData") {
        let size = |key: &str| list.get(key).and_then(Value::as_array).map_or(0, Vec::len);
        return format!("add {}, remove {}", size("add"), size("remove"));
    }
    let ids: Vec<String> = ["userId", "groupId"]
        .iter()
        .filter_map(|key| Some(format!("{key} {}", text(event.get(*key)?))))
        .collect();
    ids.join(", ")
}

fn render_event(report: &EventReport, label: &str) -> String {
    let mut kind = report.event_type.clone();
    if let Some(name) = &report.event_name {
        let _ = write!(kind, " \"{name}\"");
    }
    let outcome = match &report.disposition {
        Disposition::Delivered => "delivered".to_string(),
        Disposition::Skipped { reason } => format!("skipped: {reason}"),
        Disposition::DeadLettered { error_class, error } => {
            format!("FAILED ({error_class}): {error}")
        }
    };
    let version = report.plugin_version.as_deref().unwrap_or("-");
    let mut out = format!(
        "[{:>2}] {kind} ({label}) -> {outcome}  [plugin {version}]\n",
        report.line
    );
    for call in &report.calls {
        let _ = writeln!(out, "       {call}");
    }
    out
}

fn render_summary(summary: &Summary) -> String {
    let mut out = format!(
        "Summary: {} events: {} delivered, {} skipped, {} failed; {} Zendesk calls; {} ms\n",
        summary.lines,
        summary.delivered,
        summary.skipped,
        summary.dead_lettered,
        summary.zendesk_calls,
        summary.elapsed_ms
    );
    for (event_type, events, calls, per_event) in summary.calls_by_event_type() {
        let _ = writeln!(
            out,
            "  {event_type:<12} {events:>3} events {calls:>4} calls ({per_event:.1} per event)"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_lines_are_events_of_the_demo_tenant() {
        let wrapped = for_tenant(SAMPLE_EVENTS);
        for (line, text) in wrapped.lines().enumerate() {
            if text.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("demo/events.jsonl line {} is not JSON: {e}", line + 1));
            assert_eq!(value["tenant"], TENANT_ID);
            assert!(value["event"]["type"].is_string(), "line {}", line + 1);
        }
        let config: Value = serde_json::from_str(TENANT_CONFIG).unwrap();
        assert_eq!(config["subdomain"], TENANT_ID);
    }

    #[test]
    fn labels_name_the_user_and_group() {
        let labels = event_labels("{\"userId\":\"u1\",\"groupId\":7}\n\nnot json");
        assert_eq!(
            labels.get(&1).map(String::as_str),
            Some("userId u1, groupId 7")
        );
        assert_eq!(labels.len(), 1);
    }
}
