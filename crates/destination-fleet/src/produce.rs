//! `host-test produce`: publishes a JSONL stream (the `run` format) to JetStream, each event to
//! its key's partition, deduplicated by tenant + messageId. Malformed lines are dead-lettered,
//! never dropped.

use std::collections::VecDeque;
use std::io::BufRead;

use anyhow::{Context, Result};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::{
    DEAD_SUBJECT, Fleet, LINE_HEADER, SOURCE_HEADER, events_subject, key_of, kv_token, partition_of,
};
use destination_host::delivery::DeadLetter;
use destination_host::delivery::fnv1a64 as fnv1a;
use destination_host::delivery::{EventLine, MalformedLine, parse_line_any_tenant};

/// Publishes awaiting their acknowledgement at once.
const IN_FLIGHT: usize = 256;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Produced {
    pub lines: u64,
    pub published: u64,
    /// Already in the stream (same tenant + messageId within the duplicate window).
    pub duplicates: u64,
    pub dead_lettered: u64,
}

impl Produced {
    /// 0 when everything was published, 1 when any line was dead-lettered (as `run`).
    pub fn exit_code(&self) -> u8 {
        u8::from(self.dead_lettered > 0)
    }
}

/// The publish id: tenant + messageId, or tenant + the event's content without one.
fn message_id(event: &EventLine) -> String {
    let id = match event.event.get("messageId") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => format!("content:{:016x}", fnv1a(event.event.to_string().as_bytes())),
    };
    format!("{}:{}", kv_token(&event.tenant), kv_token(&id))
}

/// Publishes every line of `reader`; `source` names it in dead letters (e.g. `file:events.jsonl@host`).
pub async fn produce(fleet: &Fleet, reader: impl BufRead, source: &str) -> Result<Produced> {
    let mut produced = Produced::default();
    let mut pending: VecDeque<PublishAckFuture> = VecDeque::new();
    for (index, raw) in reader.lines().enumerate() {
        let raw = raw.context("cannot read the event stream")?;
        let Some(parsed) = parse_line_any_tenant(index + 1, &raw) else {
            continue;
        };
        produced.lines += 1;
        match parsed {
            Ok(event) => {
                pending.push_back(publish_event(fleet, &event, source).await?);
                if pending.len() >= IN_FLIGHT {
                    settle(&mut pending, &mut produced, 1).await?;
                }
            }
            Err(malformed) => {
                dead_letter_malformed(fleet, &malformed, source).await?;
                produced.dead_lettered += 1;
            }
        }
    }
    settle(&mut pending, &mut produced, 0).await?;
    Ok(produced)
}

/// Publishes an event to its key's partition, deduplicated by tenant + messageId: the one
/// partitioner, for `produce` and the ingest router alike.
pub(crate) async fn publish_event(
    fleet: &Fleet,
    event: &EventLine,
    source: &str,
) -> Result<PublishAckFuture> {
    let key = key_of(&event.tenant, &event.event);
    let payload = json!({"tenant": event.tenant, "event": event.event}).to_string();
    let publish = PublishMessage::build()
        .payload(Bytes::from(payload))
        .message_id(message_id(event))
        .header(LINE_HEADER, event.line.to_string().as_str())
        .header(SOURCE_HEADER, source);
    fleet
        .js
        .send_publish(events_subject(partition_of(&key)), publish)
        .await
        .context("cannot publish to JetStream")
}

/// Waits for acknowledgements until at most `keep` are pending.
async fn settle(
    pending: &mut VecDeque<PublishAckFuture>,
    produced: &mut Produced,
    keep: usize,
) -> Result<()> {
    while pending.len() > keep {
        let Some(ack) = pending.pop_front() else {
            break;
        };
        let ack = ack
            .await
            .context("JetStream did not acknowledge a publish")?;
        if ack.duplicate {
            produced.duplicates += 1;
        } else {
            produced.published += 1;
        }
    }
    Ok(())
}

async fn dead_letter_malformed(
    fleet: &Fleet,
    malformed: &MalformedLine,
    source: &str,
) -> Result<()> {
    let letter = DeadLetter::malformed(
        malformed.line,
        malformed.tenant.as_deref(),
        None,
        Some(&malformed.raw),
        &malformed.reason,
        0,
    )
    .from_source(source);
    let id = format!(
        "malformed:{}:{:016x}",
        malformed.line,
        fnv1a(malformed.raw.as_bytes())
    );
    publish_dead_letter(fleet, &letter, &id).await
}

/// Publishes a dead letter and waits until it is stored; `id` deduplicates it.
pub async fn publish_dead_letter(fleet: &Fleet, letter: &DeadLetter, id: &str) -> Result<()> {
    let publish = PublishMessage::build()
        .payload(Bytes::from(serde_json::to_vec(letter)?))
        .message_id(id);
    fleet
        .js
        .send_publish(DEAD_SUBJECT, publish)
        .await
        .context("cannot publish a dead letter")?
        .await
        .context("JetStream did not store a dead letter")?;
    Ok(())
}
