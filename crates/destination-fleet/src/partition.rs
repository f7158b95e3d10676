//! Delivering one partition: pull a batch, deliver each key's events in stream order (different
//! keys at once) through the sandbox, and settle each one durably: ack after delivery or a
//! stored dead letter, NAK with the delay for a retry (its key parked), NAK behind a waiting
//! key.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{AckKind, Message};
use futures_util::{FutureExt, StreamExt};
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore, watch};
use tokio::task::JoinSet;

use destination_host::Tenant;
use destination_host::delivery::{
    Attempt, Attempted, Batching, DeadLetter, Engine, EventResult, Settlement, TenantGate,
    event_type, parse_line_any_tenant,
};

use crate::leases::{self, Claim};
use crate::metrics::Metrics;
use crate::parking::{Parking, Turn};
use crate::produce::publish_dead_letter;
use crate::{ACK_WAIT, Fleet, LINE_HEADER, SOURCE_HEADER, key_of};

/// What every partition task shares.
pub(crate) struct Shared {
    pub(crate) fleet: Fleet,
    pub(crate) engine: Arc<Engine>,
    pub(crate) tenants: HashMap<String, Tenant>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) calls: Semaphore,
    /// Each tenant's share of `calls`.
    pub(crate) tenant_gate: TenantGate,
    pub(crate) batching: Batching,
    /// This worker's id, as its leases name it.
    pub(crate) worker_id: String,
}

/// Messages pulled from a partition at once: a round waits for its slowest key, so a pull is
/// large enough that the round's keys keep the worker's calls busy (the calls semaphore, not
/// the pull, bounds the sandboxes in use).
const BATCH: usize = 128;
/// How often a pulled message tells JetStream it is still being worked on.
const PROGRESS_EVERY: Duration = Duration::from_secs(3);

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
            tracing::warn!("partition {partition}: {error:#}");
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
        let pulled = match context.batching.is_on() {
            // In batch mode a pull is a batch's size and age: it returns when it is full or old.
            true => {
                let size = context.batching.size.max(BATCH);
                let wait = context.batching.wait.max(PULL_FLOOR);
                pull(&consumer, size, Some(wait)).await
            }
            false => pull_ready(&consumer).await,
        };
        let pulled = match pulled {
            Ok(pulled) => pulled,
            Err(error) => {
                tracing::warn!("partition {partition}: cannot pull: {error}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        // The pull's messages by order key, each key's in stream order; each one is kept
        // alive (progress acks) from now until it is settled, so none is redelivered elsewhere
        // while it waits its turn here.
        let mut keys: Vec<(String, Vec<Pulled>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for message in pulled {
            let pulled = Pulled::new(message, &context.fleet.client);
            let key = match &pulled.decoded {
                Ok((tenant, event)) => key_of(tenant, event).as_str().to_string(),
                Err(_) => String::new(),
            };
            let entry = pulled;
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
            messages.sort_by_key(|pulled| pulled.sequence);
        }
        if context.batching.is_on() {
            deliver_in_batches(&context, &parking, &stop, keys).await;
            continue;
        }
        let mut running = JoinSet::new();
        for (key, messages) in keys {
            let context = Arc::clone(&context);
            let parking = Arc::clone(&parking);
            let stop = stop.clone();
            running.spawn(async move {
                for pulled in messages {
                    if *stop.borrow() {
                        // Not started: back to JetStream at once, in order, for the next owner.
                        let _ = pulled.message.ack_with(AckKind::Nak(None)).await;
                        continue;
                    }
                    handle(&context, &parking, vec![(key.clone(), pulled)]).await;
                }
            });
        }
        while running.join_next().await.is_some() {}
    }
}

/// How long a pull waits for a partition's first message when it holds none.
const IDLE_PULL: Duration = Duration::from_millis(500);

/// The messages a partition holds now, up to [`BATCH`], without waiting for a pull to fill (a
/// quiet partition's events would each wait out the pull); when it holds none, the first to
/// arrive within [`IDLE_PULL`], with what came in meanwhile. Every request here ends on the
/// server before the next is made, so no message is sent to a pull no longer read.
async fn pull_ready(consumer: &PullConsumer) -> anyhow::Result<Vec<Message>> {
    let mut messages = pull(consumer, BATCH, None).await?;
    if messages.is_empty() {
        messages = pull(consumer, 1, Some(IDLE_PULL)).await?;
        if !messages.is_empty() {
            messages.extend(pull(consumer, BATCH - 1, None).await?);
        }
    }
    Ok(messages)
}

/// One pull request of up to `max` messages: waiting up to `wait` for them, or (`None`) only
/// what the partition holds now.
async fn pull(
    consumer: &PullConsumer,
    max: usize,
    wait: Option<Duration>,
) -> anyhow::Result<Vec<Message>> {
    let mut stream = match wait {
        Some(wait) => {
            let request = consumer.batch().max_messages(max).expires(wait);
            request.messages().await?
        }
        None => consumer.fetch().max_messages(max).messages().await?,
    };
    let mut messages = Vec::new();
    while let Some(message) = stream.next().await {
        // A status or a broken message ends nothing: what arrives is read to the end.
        if let Ok(message) = message {
            messages.push(message);
        }
    }
    Ok(messages)
}

/// A pulled message, decoded once, kept alive (progress acks) until it is settled.
struct Pulled {
    sequence: u64,
    message: Message,
    /// Its `{"tenant", "event"}`, or why it is not one (a malformed message's reason).
    decoded: Result<(String, Value), String>,
    _alive: Alive,
}

impl Pulled {
    fn new(message: Message, client: &async_nats::Client) -> Pulled {
        let payload = String::from_utf8_lossy(&message.payload);
        let decoded = match parse_line_any_tenant(0, &payload) {
            Some(Ok(line)) => Ok((line.tenant, line.event)),
            Some(Err(malformed)) => Err(malformed.reason),
            None => Err("an empty message".into()),
        };
        Pulled {
            sequence: message.info().map_or(0, |info| info.stream_sequence),
            _alive: Alive::keep(&message, client),
            decoded,
            message,
        }
    }

    fn tenant(&self) -> &str {
        self.decoded.as_ref().map_or("", |(tenant, _)| tenant)
    }
}

/// The shortest pull wait in batch mode (JetStream needs some time to fill a pull).
const PULL_FLOOR: Duration = Duration::from_millis(50);

/// Batch mode: in rounds, the next message of every key (so a key's events stay in stream
/// order and never share a call), grouped per tenant into `transform-batch` calls of at most
/// the batch size, each round's calls at the same time.
async fn deliver_in_batches(
    context: &Arc<Shared>,
    parking: &Arc<Mutex<Parking>>,
    stop: &watch::Receiver<bool>,
    keys: Vec<(String, Vec<Pulled>)>,
) {
    let mut queues: Vec<(String, std::collections::VecDeque<Pulled>)> =
        keys.into_iter().map(|(k, m)| (k, m.into())).collect();
    loop {
        let mut by_tenant: HashMap<String, Vec<(String, Pulled)>> = HashMap::new();
        for (key, messages) in &mut queues {
            if let Some(pulled) = messages.pop_front() {
                by_tenant
                    .entry(pulled.tenant().to_string())
                    .or_default()
                    .push((key.clone(), pulled));
            }
        }
        if by_tenant.is_empty() {
            return;
        }
        let mut running = JoinSet::new();
        for (_, mut round) in by_tenant {
            while !round.is_empty() {
                let rest = round.split_off(round.len().min(context.batching.size));
                let chunk = std::mem::replace(&mut round, rest);
                let (context, parking, stop) =
                    (Arc::clone(context), Arc::clone(parking), stop.clone());
                running.spawn(async move {
                    if *stop.borrow() {
                        for (_, pulled) in chunk {
                            let _ = pulled.message.ack_with(AckKind::Nak(None)).await;
                        }
                        return;
                    }
                    handle(&context, &parking, chunk).await;
                });
            }
        }
        while running.join_next().await.is_some() {}
    }
}

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

/// A message ready for its plugin call: decoded, its tenant known, its key's turn.
struct Ready {
    message: Message,
    /// Progress acks until it is settled.
    _alive: Alive,
    key: String,
    sequence: u64,
    line: usize,
    tenant_id: String,
    event: Value,
    attempt: Attempt,
}

/// One attempt for messages of one tenant (one per key; a single one is one `transform`)
/// through the delivery engine; each is then settled on its own.
async fn handle(context: &Shared, parking: &Mutex<Parking>, messages: Vec<(String, Pulled)>) {
    let mut ready = Vec::new();
    for (key, pulled) in messages {
        ready.extend(prepare(context, parking, &key, pulled).await);
    }
    let Some(tenant) = ready
        .first()
        .and_then(|r| context.tenants.get(&r.tenant_id))
    else {
        return;
    };
    let attempts: Vec<Attempt> = ready.iter().map(|r| r.attempt.clone()).collect();
    let turn = context.tenant_gate.enter(&tenant.id, attempts.len()).await;
    let attempted = call(context, context.engine.attempt_async(tenant, &attempts)).await;
    turn.done();
    let Some(attempted) = attempted else {
        return;
    };
    match attempted {
        // The tenant is far behind its rate limit: each key waits, NAKed until then.
        Attempted::Paced(wait) => {
            for ready in ready {
                parking
                    .lock()
                    .await
                    .park(&ready.key, ready.sequence, wait)
                    .await;
                nak(&ready.message, wait).await;
            }
        }
        Attempted::Called(call) => {
            for (ready, result) in ready.into_iter().zip(call.results) {
                conclude(context, parking, ready, result).await;
            }
        }
    }
}

/// Runs a plugin call under the worker's call permits (waiting on Zendesk, it holds no thread);
/// `None` when the call panicked (its messages are then left to be redelivered).
async fn call<T>(context: &Shared, work: impl Future<Output = T>) -> Option<T> {
    let _permit = context.calls.acquire().await;
    context.metrics.in_flight.inc();
    let started = Instant::now();
    let result = AssertUnwindSafe(work).catch_unwind().await;
    context.metrics.in_flight.dec();
    context
        .metrics
        .call_seconds
        .observe(started.elapsed().as_secs_f64());
    result.ok()
}

/// Checks a pulled message may be delivered now: malformed messages and unknown tenants are
/// dead-lettered, an event behind a waiting one of its key is NAKed until then. `None` when it
/// was settled here.
async fn prepare(
    context: &Shared,
    parking: &Mutex<Parking>,
    key: &str,
    pulled: Pulled,
) -> Option<Ready> {
    let Pulled {
        sequence,
        message,
        decoded,
        _alive,
    } = pulled;
    let info = message.info().ok()?;
    let delivered = u32::try_from(info.delivered).unwrap_or(u32::MAX).max(1);
    let published: SystemTime = info.published.into();
    let line = line_of(&message);
    let (tenant_id, event) = match decoded {
        Ok(decoded) => decoded,
        Err(reason) => {
            let raw = String::from_utf8_lossy(&message.payload).into_owned();
            let letter = DeadLetter::malformed(line, None, None, Some(&raw), &reason, delivered);
            dead_letter_and_ack(context, &message, sequence, &letter).await;
            return None;
        }
    };
    if !context.tenants.contains_key(&tenant_id) {
        let reason = format!("unknown tenant {tenant_id:?} (not in the tenants file)");
        let letter = DeadLetter::malformed(
            line,
            Some(&tenant_id),
            Some(&event),
            None,
            &reason,
            delivered,
        );
        dead_letter_and_ack(context, &message, sequence, &letter).await;
        return None;
    }
    // An older event of the key waits for its retry: this one waits behind it.
    if let Turn::Wait(wait) = parking.lock().await.turn(key, sequence).await {
        nak(&message, wait).await;
        return None;
    }
    let attempt = Attempt {
        event: event.to_string(),
        earlier_attempts: delivered - 1,
        elapsed: published.elapsed().unwrap_or_default(),
    };
    Some(Ready {
        message,
        _alive,
        key: key.to_string(),
        sequence,
        line,
        tenant_id,
        event,
        attempt,
    })
}

/// Settles a message durably after its attempt: ack after delivery or a skip, NAK with the
/// delay for a retry (its key parked), ack after a stored dead letter.
async fn conclude(context: &Shared, parking: &Mutex<Parking>, ready: Ready, result: EventResult) {
    let Ready {
        message,
        key,
        sequence,
        line,
        tenant_id,
        event,
        ..
    } = ready;
    let event_type = event_type(&event);
    let labels = [tenant_id.as_str(), event_type.as_str()];
    context
        .metrics
        .zendesk_calls
        .with_label_values(&labels)
        .inc_by(result.calls);
    // Every resend counts: those within the call here, a NAK below.
    context
        .metrics
        .retries
        .with_label_values(&labels)
        .inc_by(result.resends);
    match result.settlement {
        settlement @ (Settlement::Delivered(_) | Settlement::Skipped(_)) => {
            let outcome = match settlement {
                Settlement::Delivered(_) => "delivered",
                _ => "skipped",
            };
            let _ = message.ack().await;
            parking.lock().await.settled(&key, sequence).await;
            count(context, &labels, outcome);
        }
        Settlement::RetryAfter(wait) => {
            parking.lock().await.park(&key, sequence, wait).await;
            nak(&message, wait).await;
            context.metrics.retries.with_label_values(&labels).inc();
        }
        Settlement::DeadLetter(error) => {
            let letter = DeadLetter::of_event(line, &tenant_id, &event, &error, result.attempts);
            dead_letter_and_ack(context, &message, sequence, &letter).await;
            parking.lock().await.settled(&key, sequence).await;
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

/// Stores the dead letter (deduplicated by the event's stream sequence), then acknowledges.
/// If the store fails, the message is not acknowledged and comes back.
async fn dead_letter_and_ack(
    context: &Shared,
    message: &Message,
    sequence: u64,
    letter: &DeadLetter,
) {
    let id = format!("event:{sequence}");
    // Where it came from: what its producer named, else the subject it was read from.
    let source = message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(SOURCE_HEADER))
        .map_or_else(
            || format!("nats:{}", message.subject),
            |value| value.to_string(),
        );
    let letter = &letter.clone().from_source(&source);
    match publish_dead_letter(&context.fleet, letter, &id).await {
        Ok(()) => {
            let _ = message.ack().await;
            let tenant = letter.tenant.as_deref().unwrap_or("(no tenant)");
            let event_type = letter
                .event
                .as_ref()
                .map_or_else(|| "unknown".into(), event_type);
            // One line per dead letter, for the operator: who, what, why.
            tracing::warn!(
                "dead letter: tenant {tenant}, {event_type} (stream sequence {sequence}, {} \
                 attempt(s)): {} ({})",
                letter.attempts,
                letter.error,
                letter.error_class
            );
            count(context, &[tenant, &event_type], "dead_lettered");
        }
        Err(error) => tracing::error!("cannot dead-letter stream sequence {sequence}: {error:#}"),
    }
}
