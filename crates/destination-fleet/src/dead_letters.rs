//! `dead-letters`: the dead-letter stream's lifecycle. Each dead letter is printed as JSONL
//! (the `run --dead-letter` line format, plus its `seq` and `state`), selected by tenant,
//! class, age or sequence; an operator replays a selection, marks it resolved, or purges it.
//!
//! A letter's state (`open`, `replayed`, `resolved`) is kept in the bucket `cdp_dead_state`,
//! keyed by its sequence. A replay claims the letter there with a create (compare-and-set)
//! before it publishes, so a letter is replayed once, whoever replays it and however much
//! later; the publish id `replay:<seq>` covers a replay that died between its publish and its
//! mark. Only open letters are listed and acted on unless `--all` is given.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::jetstream::kv;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use serde_json::{Value, json};

use destination_host::delivery::now_ms;

use crate::{DEAD_STREAM, Fleet, LINE_HEADER, SOURCE_HEADER, events_subject, key_of, partition_of};

/// Which dead letters a command is about.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub tenant: Option<String>,
    /// `error_class`, e.g. `auth` or `malformed-input`.
    pub class: Option<String>,
    /// Dead-lettered at most this long ago.
    pub since: Option<Duration>,
    /// These sequences only (the `seq` a listing prints).
    pub sequences: BTreeSet<u64>,
    /// Replayed and resolved letters too.
    pub all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    #[default]
    List,
    /// Publish the selected letters' events again, once each.
    Replay,
    /// Mark the selected letters resolved (handled elsewhere).
    Resolve,
    /// Delete the selected letters.
    Purge,
}

/// What a command did; every count is exact.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Letters selected (and printed).
    pub selected: u64,
    /// Events published again.
    pub replayed: u64,
    /// Selected letters already replayed by someone else meanwhile: not published again.
    pub already_replayed: u64,
    /// Selected letters without an event to replay (malformed input).
    pub not_replayable: u64,
    pub resolved: u64,
    pub purged: u64,
}

impl Report {
    pub fn render(&self, action: Action) -> String {
        match action {
            Action::List => format!("{} dead letters", self.selected),
            Action::Replay => format!(
                "{} dead letters: {} events published again, {} already replayed, {} without an \
                 event (malformed input)",
                self.selected, self.replayed, self.already_replayed, self.not_replayable
            ),
            Action::Resolve => format!(
                "{} dead letters: {} marked resolved",
                self.selected, self.resolved
            ),
            Action::Purge => format!("{} dead letters: {} purged", self.selected, self.purged),
        }
    }
}

/// Prints the selected dead letters to `out` and applies `action` to them.
pub async fn run(
    fleet: &Fleet,
    out: &mut dyn Write,
    selection: &Selection,
    action: Action,
) -> Result<Report> {
    let mut stream = fleet.js.get_stream(DEAD_STREAM).await?;
    let state = stream.info().await?.state.clone();
    let mut report = Report::default();
    if state.messages == 0 {
        return Ok(report);
    }
    let oldest = selection
        .since
        .map(|since| now_ms().saturating_sub(u64::try_from(since.as_millis()).unwrap_or(u64::MAX)));
    for sequence in state.first_sequence..=state.last_sequence {
        if !selection.sequences.is_empty() && !selection.sequences.contains(&sequence) {
            continue;
        }
        // A gap (a purged letter) is skipped.
        let Ok(message) = stream.direct_get(sequence).await else {
            continue;
        };
        let mut letter: Value =
            serde_json::from_slice(&message.payload).context("a dead letter is not JSON")?;
        let lifecycle = state_of(&fleet.dead_state, sequence).await?;
        let text = |key: &str| letter.get(key).and_then(Value::as_str).map(str::to_string);
        let wanted = (selection.all || lifecycle == "open")
            && selection
                .tenant
                .as_ref()
                .is_none_or(|t| text("tenant").as_ref() == Some(t))
            && selection
                .class
                .as_ref()
                .is_none_or(|c| text("error_class").as_ref() == Some(c))
            && oldest.is_none_or(|oldest| letter["at_ms"].as_u64().unwrap_or(0) >= oldest);
        if !wanted {
            continue;
        }
        report.selected += 1;
        letter["seq"] = sequence.into();
        letter["state"] = lifecycle.clone().into();
        serde_json::to_writer(&mut *out, &letter)?;
        out.write_all(b"\n")?;
        match action {
            Action::List => {}
            Action::Replay => replay(fleet, sequence, &letter, &mut report).await?,
            Action::Resolve => {
                mark(&fleet.dead_state, sequence, "resolved").await?;
                report.resolved += 1;
            }
            Action::Purge => {
                stream
                    .delete_message(sequence)
                    .await
                    .with_context(|| format!("cannot purge dead letter {sequence}"))?;
                let _ = fleet.dead_state.purge(sequence.to_string()).await;
                report.purged += 1;
            }
        }
    }
    out.flush()?;
    Ok(report)
}

/// Publishes a letter's event again, once: claimed in the state bucket first.
async fn replay(fleet: &Fleet, sequence: u64, letter: &Value, report: &mut Report) -> Result<()> {
    let (Some(tenant), Some(event)) = (letter["tenant"].as_str(), letter.get("event")) else {
        report.not_replayable += 1;
        return Ok(());
    };
    let claim = json!({"state": "replayed", "at_ms": now_ms()}).to_string();
    match fleet
        .dead_state
        .create(sequence.to_string(), Bytes::from(claim))
        .await
    {
        Ok(_) => {}
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
            report.already_replayed += 1;
            return Ok(());
        }
        Err(e) => return Err(anyhow::anyhow!("cannot mark dead letter {sequence}: {e}")),
    }
    let key = key_of(tenant, event);
    let line = letter["line"].as_u64().unwrap_or(0);
    let payload = json!({"tenant": tenant, "event": event}).to_string();
    let publish = PublishMessage::build()
        .payload(Bytes::from(payload))
        .message_id(format!("replay:{sequence}"))
        .header(LINE_HEADER, line.to_string().as_str())
        .header(SOURCE_HEADER, format!("replay:{sequence}").as_str());
    let ack = fleet
        .js
        .send_publish(events_subject(partition_of(&key)), publish)
        .await?
        .await
        .context("JetStream did not store a replayed event")?;
    match ack.duplicate {
        true => report.already_replayed += 1,
        false => report.replayed += 1,
    }
    Ok(())
}

/// `open`, `replayed` or `resolved`.
async fn state_of(states: &kv::Store, sequence: u64) -> Result<String> {
    let entry = states
        .get(sequence.to_string())
        .await
        .map_err(|e| anyhow::anyhow!("cannot read dead letter {sequence}'s state: {e}"))?;
    Ok(entry
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|state| state["state"].as_str().map(str::to_string))
        .unwrap_or_else(|| "open".into()))
}

async fn mark(states: &kv::Store, sequence: u64, state: &str) -> Result<()> {
    let value = json!({"state": state, "at_ms": now_ms()}).to_string();
    states
        .put(sequence.to_string(), Bytes::from(value))
        .await
        .map_err(|e| anyhow::anyhow!("cannot mark dead letter {sequence}: {e}"))?;
    Ok(())
}
