//! Delivering one partition: pull a batch, deliver each key's events in stream order (different
//! keys at once) through the sandbox, and settle each one durably: ack after delivery or a
//! stored dead letter, NAK with the delay for a retry (its key parked), NAK behind a waiting
//! key.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_nats::jetstream::{AckKind, Message};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;

use destination_host::delivery::{Settlement, settle};

use super::leases::{self, Claim};
use super::parking::{Parking, Turn};
use super::produce::publish_dead_letter;
use super::worker::Shared;
use super::{ACK_WAIT, LINE_HEADER, key_of};
use crate::runner::dead_letter::{DeadLetter, MALFORMED_INPUT};

/// Messages pulled from a partition at once.
const BATCH: usize = 16;
/// How often a pulled message tells JetStream it is still being worked on.
const PROGRESS_EVERY: Duration = Duration::from_secs(3);
/// Past this pacing backlog, an event is NAKed until then instead of waiting in its call.
const PACING_PARK: Duration = Duration::from_secs(1);

/// Delivers one partition until told to stop: pulls a batch, delivers each key's events in
/// order (different keys at the same time), and acknowledges as outcomes become durable.
pub(super) async fn deliver_partition(
    context: Arc<Shared>,
    partition: u32,
    claim: Claim,
    mut stop: watch::Receiver<bool>,
) {
    let mut consumer = match context.fleet.consumer(partition).await {
        Ok(consumer) => consumer,
        Err(error) => {
            eprintln!("partition {partition}: {error:#}");
            return;
        }
    };
    let unacknowledged = match consumer.info().await {
        Ok(info) => info.num_ack_pending,
        Err(_) => 1,
    };
    if claim == Claim::Expired && unacknowledged > 0 {
        // Its last owner was killed holding messages: they come back after the ack wait, and
        // must be delivered before anything newer of the same keys.
        tokio::select! {
            _ = tokio::time::sleep(ACK_WAIT + Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
    let parking = Arc::new(Mutex::new(
        Parking::load(context.fleet.parked.clone(), partition).await,
    ));
    while !*stop.borrow() {
        if !leases::holds(&context.fleet.leases, partition, &context.worker_id).await {
            // The lease lapsed or moved: deliver nothing more (the worker's loop notices too).
            break;
        }
        let batch = consumer
            .batch()
            .max_messages(BATCH)
            .expires(Duration::from_millis(500))
            .messages()
            .await;
        let mut batch = match batch {
            Ok(batch) => batch,
            Err(error) => {
                eprintln!("partition {partition}: cannot pull: {error}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        // The batch's messages by order key, each key's in stream order; each one is kept
        // alive (progress acks) from now until it is settled, so none is redelivered elsewhere
        // while it waits its turn here.
        let mut keys: Vec<(String, Vec<Pulled>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        while let Some(message) = batch.next().await {
            let Ok(message) = message else {
                continue;
            };
            let key = match decode(&message) {
                Some((tenant, event)) => key_of(&tenant, &event).as_str().to_string(),
                None => String::new(),
            };
            let alive = Alive::keep(&message, &context.fleet.client);
            let sequence = message.info().map_or(0, |info| info.stream_sequence);
            let entry = (sequence, message, alive);
            match index.get(&key) {
                Some(at) => keys[*at].1.push(entry),
                None => {
                    index.insert(key.clone(), keys.len());
                    keys.push((key, vec![entry]));
                }
            }
        }
        // Redeliveries may come back mixed with newer events: each key in stream order.
        for (_, messages) in &mut keys {
            messages.sort_by_key(|(sequence, _, _)| *sequence);
        }
        let mut running = JoinSet::new();
        for (key, messages) in keys {
            let context = Arc::clone(&context);
            let parking = Arc::clone(&parking);
            let stop = stop.clone();
            running.spawn(async move {
                for (_, message, _alive) in messages {
                    if *stop.borrow() {
                        // Not started: back to JetStream at once, in order, for the next owner.
                        let _ = message.ack_with(AckKind::Nak(None)).await;
                        continue;
                    }
                    handle(&context, &parking, &key, message).await;
                }
            });
        }
        while running.join_next().await.is_some() {}
    }
}

/// A pulled message with its stream sequence, kept alive until it is settled.
type Pulled = (u64, Message, Alive);

/// Progress acks for one message until dropped.
struct Alive(tokio::task::JoinHandle<()>);

impl Alive {
    fn keep(message: &Message, client: &async_nats::Client) -> Alive {
        let (reply, client) = (message.reply.clone(), client.clone());
        Alive(tokio::spawn(async move {
            let Some(reply) = reply else {
                return;
            };
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                let _ = client.publish(reply.clone(), "+WPI".into()).await;
            }
        }))
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The `{"tenant", "event"}` of a message, if it has that shape.
fn decode(message: &Message) -> Option<(String, Value)> {
    let value: Value = serde_json::from_slice(&message.payload).ok()?;
    let tenant = value.get("tenant")?.as_str()?.to_string();
    let event = value.get("event")?.clone();
    Some((tenant, event))
}

fn line_of(message: &Message) -> usize {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(LINE_HEADER))
        .and_then(|value| value.as_str().parse().ok())
        .unwrap_or(0)
}

async fn nak(message: &Message, delay: Duration) {
    let _ = message.ack_with(AckKind::Nak(Some(delay))).await;
}

async fn handle(context: &Shared, parking: &Mutex<Parking>, key: &str, message: Message) {
    let Ok(info) = message.info() else {
        return;
    };
    let sequence = info.stream_sequence;
    let attempts = u32::try_from(info.delivered).unwrap_or(u32::MAX).max(1);
    let published: SystemTime = info.published.into();
    let line = line_of(&message);
    let Some((tenant_id, event)) = decode(&message) else {
        let raw = String::from_utf8_lossy(&message.payload).into_owned();
        dead_letter_and_ack(
            context,
            &message,
            sequence,
            &DeadLetter {
                line,
                tenant: None,
                event: None,
                raw: Some(&raw),
                error_class: MALFORMED_INPUT,
                error: "not a {\"tenant\", \"event\"} message",
                attempts,
            },
        )
        .await;
        return;
    };
    let event_type = event_type(&event);
    let Some(tenant) = context.tenants.get(&tenant_id) else {
        let reason = format!("unknown tenant {tenant_id:?} (not in the tenants file)");
        dead_letter_and_ack(
            context,
            &message,
            sequence,
            &DeadLetter {
                line,
                tenant: Some(&tenant_id),
                event: Some(&event),
                raw: None,
                error_class: MALFORMED_INPUT,
                error: &reason,
                attempts,
            },
        )
        .await;
        return;
    };

    // An older event of the key waits for its retry: this one waits behind it.
    if let Turn::Wait(wait) = parking.lock().await.turn(key, sequence).await {
        nak(&message, wait).await;
        return;
    }
    let backlog = tenant
        .rate
        .backlog(&tenant.id, tenant.limits.requests_per_minute);
    if backlog > PACING_PARK {
        parking.lock().await.park(key, sequence, backlog).await;
        nak(&message, backlog).await;
        return;
    }

    let plugin = context.slot.current();
    let report = {
        let _permit = context.calls.acquire().await;
        context.metrics.in_flight.inc();
        let started = Instant::now();
        let runtime = Arc::clone(&context.runtime);
        let tenant = tenant.clone();
        let event_json = event.to_string();
        let report =
            tokio::task::spawn_blocking(move || match runtime.validate_config(&plugin, &tenant) {
                Err(error) => Err(error),
                Ok(_) => Ok(runtime.transform(&plugin, &tenant, &event_json)),
            })
            .await;
        context.metrics.in_flight.dec();
        context
            .metrics
            .call_seconds
            .observe(started.elapsed().as_secs_f64());
        report
    };
    let Ok(report) = report else {
        // The call's thread panicked: leave the message to be redelivered.
        return;
    };
    let (result, calls) = match report {
        Ok(report) => (report.result, report.fetches.len() as u64),
        Err(config_error) => (Err(config_error), 0),
    };
    let labels = [tenant_id.as_str(), event_type.as_str()];
    context
        .metrics
        .zendesk_calls
        .with_label_values(&labels)
        .inc_by(calls);
    let elapsed = published.elapsed().unwrap_or_default();
    match settle(result, attempts, elapsed, &context.retry, fastrand::f64()) {
        settlement @ (Settlement::Delivered(_) | Settlement::Skipped(_)) => {
            let outcome = match settlement {
                Settlement::Delivered(_) => "delivered",
                _ => "skipped",
            };
            let _ = message.ack().await;
            parking.lock().await.settled(key, sequence).await;
            count(context, &labels, outcome);
        }
        Settlement::RetryAfter(wait) => {
            parking.lock().await.park(key, sequence, wait).await;
            nak(&message, wait).await;
            context.metrics.retries.with_label_values(&labels).inc();
        }
        Settlement::DeadLetter(error) => {
            let message_text = error.to_string();
            dead_letter_and_ack(
                context,
                &message,
                sequence,
                &DeadLetter {
                    line,
                    tenant: Some(&tenant_id),
                    event: Some(&event),
                    raw: None,
                    error_class: error.class(),
                    error: &message_text,
                    attempts,
                },
            )
            .await;
            parking.lock().await.settled(key, sequence).await;
        }
    }
}

fn count(context: &Shared, labels: &[&str; 2], outcome: &str) {
    context
        .metrics
        .events
        .with_label_values(&[labels[0], labels[1], outcome])
        .inc();
}

fn event_type(event: &Value) -> String {
    ["type", "action"]
        .iter()
        .find_map(|key| event.get(*key).and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| "unknown".into())
}

/// Stores the dead letter (deduplicated by the event's stream sequence), then acknowledges.
/// If the store fails, the message is not acknowledged and comes back.
async fn dead_letter_and_ack(
    context: &Shared,
    message: &Message,
    sequence: u64,
    letter: &DeadLetter<'_>,
) {
    let id = format!("event:{sequence}");
    match publish_dead_letter(&context.fleet, letter, &id).await {
        Ok(()) => {
            let _ = message.ack().await;
            let tenant = letter.tenant.unwrap_or("(no tenant)");
            let event_type = letter.event.map_or_else(|| "unknown".into(), event_type);
            count(context, &[tenant, &event_type], "dead_lettered");
        }
        Err(error) => eprintln!("cannot dead-letter stream sequence {sequence}: {error:#}"),
    }
}
