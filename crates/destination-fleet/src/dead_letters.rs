//! `host-test dead-letters`: prints the dead-letter stream as JSONL (the `run --dead-letter`
//! line format), from the start, without consuming it; `--replay` publishes the events again.

use std::io::Write;

use anyhow::{Context, Result};
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::{DEAD_STREAM, Fleet, LINE_HEADER, events_subject, key_of, partition_of};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Listed {
    pub dead_letters: u64,
    /// Events published again (`--replay`).
    pub replayed: u64,
    /// Dead letters without an event to replay (malformed input lines).
    pub not_replayable: u64,
}

/// Writes every dead letter to `out`; with `replay`, publishes each one's event again.
pub async fn list(fleet: &Fleet, out: &mut dyn Write, replay: bool) -> Result<Listed> {
    let mut stream = fleet.js.get_stream(DEAD_STREAM).await?;
    let state = stream.info().await?.state.clone();
    let mut listed = Listed::default();
    if state.messages == 0 {
        return Ok(listed);
    }
    for sequence in state.first_sequence..=state.last_sequence {
        // A gap (a deleted message) is skipped.
        let Ok(message) = stream.direct_get(sequence).await else {
            continue;
        };
        out.write_all(&message.payload)?;
        out.write_all(b"\n")?;
        listed.dead_letters += 1;
        if replay {
            let letter: Value =
                serde_json::from_slice(&message.payload).context("a dead letter is not JSON")?;
            match (
                letter.get("tenant").and_then(Value::as_str),
                letter.get("event"),
            ) {
                (Some(tenant), Some(event)) => {
                    let key = key_of(tenant, event);
                    let line = letter.get("line").and_then(Value::as_u64).unwrap_or(0);
                    let payload = json!({"tenant": tenant, "event": event}).to_string();
                    let publish = PublishMessage::build()
                        .payload(Bytes::from(payload))
                        .message_id(format!("replay:{sequence}"))
                        .header(LINE_HEADER, line.to_string().as_str());
                    fleet
                        .js
                        .send_publish(events_subject(partition_of(&key)), publish)
                        .await?
                        .await
                        .context("JetStream did not store a replayed event")?;
                    listed.replayed += 1;
                }
                _ => listed.not_replayable += 1,
            }
        }
    }
    out.flush()?;
    Ok(listed)
}
