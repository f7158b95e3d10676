//! `host-test worker`: a long-running consumer of the fleet's partitions. It claims its share of
//! the partitions (leases), delivers their events through the sandbox with the delivery core's
//! settlement, and acknowledges an event only once its outcome is durable: delivered, skipped,
//! or stored in the dead-letter stream. SIGTERM drains: no more pulls, in-flight calls finish
//! and are acknowledged, the partitions are handed back, exit 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use async_nats::jetstream::{AckKind, Message};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore, watch};
use tokio::task::JoinSet;

use destination_host::delivery::{Settlement, settle};
use destination_host::pacing::LocalRateBudget;
use destination_host::{PluginSlot, RetryPolicy, Runtime, Tenant, WatchHandle};

use super::kv_cache::KvCache;
use super::leases::{Claim, Leases, RENEW_EVERY};
use super::metrics::Metrics;
use super::parking::{Parking, Turn};
use super::produce::publish_dead_letter;
use super::{ACK_WAIT, Fleet, LINE_HEADER, key_of};
use crate::runner::dead_letter::{DeadLetter, MALFORMED_INPUT};
use crate::runner::{self, Target, input};

pub struct WorkerOptions {
    pub nats: String,
    pub tenants_json: String,
    pub plugin: PathBuf,
    pub watch: bool,
    pub target: Target,
    pub retry: RetryPolicy,
    pub metrics: Option<SocketAddr>,
    /// Plugin calls at the same time.
    pub concurrency: usize,
}

/// Messages pulled from a partition at once.
const BATCH: usize = 16;
/// How often a running call tells JetStream it is still being worked on.
const PROGRESS_EVERY: Duration = Duration::from_secs(3);
/// Past this pacing backlog, an event is NAKed until then instead of waiting in its call.
const PACING_PARK: Duration = Duration::from_secs(1);

/// What every partition task shares.
struct Shared {
    fleet: Fleet,
    runtime: Arc<Runtime>,
    slot: Arc<PluginSlot>,
    tenants: HashMap<String, Tenant>,
    retry: RetryPolicy,
    metrics: Arc<Metrics>,
    calls: Semaphore,
}

pub fn run_worker(options: WorkerOptions) -> Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(work(options))
}

async fn work(options: WorkerOptions) -> Result<u8> {
    let fleet = Fleet::connect(&options.nats).await?;
    let runtime_options = runner::runtime_options(options.concurrency);
    let specs = input::parse_tenants(&options.tenants_json, &runtime_options)?;
    let runtime = Arc::new(Runtime::new(runtime_options).context("cannot start the wasm runtime")?);
    let plugin = runtime
        .load_plugin_file(&options.plugin)
        .with_context(|| format!("cannot load the plugin {}", options.plugin.display()))?;
    let slot = Arc::new(PluginSlot::new(plugin));
    let _watch: Option<WatchHandle> = match options.watch {
        true => Some(runner::watch_plugin(
            &runtime,
            &slot,
            options.plugin.clone(),
            None,
        )?),
        false => None,
    };
    let workers = Arc::new(AtomicU32::new(1));
    let transport = runner::transport_for(&options.target);
    let handle = tokio::runtime::Handle::current();
    let tenants = specs
        .into_iter()
        .map(|spec| {
            let tenant = Tenant::new(
                spec.id.clone(),
                spec.config_json,
                spec.limits,
                Arc::clone(&transport),
            )
            .with_allowed_origins(spec.allowed_origins)
            .with_cache(Arc::new(KvCache::new(
                fleet.cache.clone(),
                handle.clone(),
                &spec.id,
            )))
            .with_rate_budget(Arc::new(LocalRateBudget::shared_by(Arc::clone(&workers))));
            (spec.id, tenant)
        })
        .collect();
    let metrics = Metrics::new()?;
    if let Some(addr) = options.metrics {
        let bound = metrics.serve(addr)?;
        eprintln!("metrics on http://{bound}/metrics");
    }
    let context = Arc::new(Shared {
        fleet: fleet.clone(),
        runtime,
        slot,
        tenants,
        retry: options.retry,
        metrics: Arc::clone(&metrics),
        calls: Semaphore::new(options.concurrency.max(1)),
    });

    let worker_id = format!(
        "{}-{}-{:08x}",
        hostname(),
        std::process::id(),
        fastrand::u32(..)
    );
    eprintln!("worker {worker_id} started");
    let mut leases = Leases::new(fleet.leases.clone(), worker_id);
    let mut partitions: HashMap<u32, Delivering> = HashMap::new();
    // Partitions over this worker's share, finishing before they are handed back (their leases
    // are renewed until then).
    let mut handing_back: HashMap<u32, Delivering> = HashMap::new();
    let mut terminate = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = signal(tokio::signal::unix::SignalKind::interrupt())?;
    // The loop never waits for deliveries: leases must be renewed on time whatever they do.
    loop {
        let (claimed, lost) = leases.renew().await.context("cannot renew the leases")?;
        for partition in lost {
            eprintln!("partition {partition}: lease lost, stopping");
            for delivering in [
                partitions.remove(&partition),
                handing_back.remove(&partition),
            ]
            .into_iter()
            .flatten()
            {
                delivering.stop();
            }
        }
        for (partition, claim) in claimed {
            partitions.insert(partition, Delivering::start(&context, partition, claim));
        }
        for partition in leases.surplus().await.unwrap_or_default() {
            if let Some(delivering) = partitions.remove(&partition) {
                delivering.stop();
                handing_back.insert(partition, delivering);
            }
        }
        let finished: Vec<u32> = handing_back
            .iter()
            .filter(|(_, delivering)| delivering.task.is_finished())
            .map(|(partition, _)| *partition)
            .collect();
        for partition in finished {
            handing_back.remove(&partition);
            leases.release(partition).await;
        }
        workers.store(live_workers(&leases).await, Ordering::Relaxed);
        metrics.partitions.set(partitions.len() as i64);
        update_lag(&context, &leases.held()).await;
        tokio::select! {
            _ = tokio::time::sleep(RENEW_EVERY) => {}
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }

    // Drain: stop pulling, let in-flight calls finish and be acknowledged, hand back. The
    // leases are renewed meanwhile, so no one else takes the partitions too early.
    eprintln!("draining");
    metrics.healthy.store(false, Ordering::Relaxed);
    let mut all: Vec<Delivering> = partitions
        .into_values()
        .chain(handing_back.into_values())
        .collect();
    for delivering in &all {
        delivering.stop();
    }
    while !all.iter().all(|delivering| delivering.task.is_finished()) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if leases_due(&mut all) {
            let _ = leases.renew_held().await;
        }
    }
    leases.leave().await;
    fleet.client.flush().await.context("cannot flush to NATS")?;
    eprintln!("drained");
    Ok(0)
}

/// A partition being delivered, and how to stop it.
struct Delivering {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    renewed: Instant,
}

impl Delivering {
    fn start(context: &Arc<Shared>, partition: u32, claim: Claim) -> Delivering {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(deliver_partition(
            Arc::clone(context),
            partition,
            claim,
            stopped,
        ));
        Delivering {
            stop,
            task,
            renewed: Instant::now(),
        }
    }

    /// Stops pulling; what is in flight finishes, what is not started goes back to JetStream.
    fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Whether the leases need renewing while draining (every `RENEW_EVERY`).
fn leases_due(all: &mut [Delivering]) -> bool {
    let due = all
        .first()
        .is_some_and(|delivering| delivering.renewed.elapsed() >= RENEW_EVERY);
    if due {
        for delivering in all.iter_mut() {
            delivering.renewed = Instant::now();
        }
    }
    due
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind).context("cannot install the signal handler")
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .unwrap_or_else(|| "host".to_string())
}

async fn live_workers(leases: &Leases) -> u32 {
    leases.live_workers().await.unwrap_or(1).max(1)
}

async fn update_lag(context: &Shared, partitions: &[u32]) {
    let mut lag = 0u64;
    for partition in partitions {
        if let Ok(mut consumer) = context.fleet.consumer(*partition).await
            && let Ok(info) = consumer.info().await
        {
            lag += info.num_pending;
        }
    }
    context
        .metrics
        .consumer_lag
        .set(i64::try_from(lag).unwrap_or(i64::MAX));
}

/// Delivers one partition until told to stop: pulls a batch, delivers each key's events in
/// order (different keys at the same time), and acknowledges as outcomes become durable.
async fn deliver_partition(
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
        let mut keys: Vec<(String, Vec<(u64, Message, Alive)>)> = Vec::new();
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
