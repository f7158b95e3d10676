//! The fleet: event delivery from NATS JetStream by any number of workers on any number of
//! machines, through the library's delivery engine ([`destination_host::delivery::Engine`]).
//! This crate owns only what is NATS's: pulls, acks, NAKs, leases, parking, the dead-letter
//! stream, the shared cache and metrics. Embed a worker in a service with
//! [`worker::run_worker`]; the `destination-fleet` binary runs [`cli`]'s commands.
//!
//! - Anyone publishes to `cdp.ingest` (see [`ingest`]); the workers' router partitions it.
//! - Events go to the work-queue stream `CDP_EVENTS`, subject `cdp.events.<partition>`: the
//!   partition is the order key's hash modulo [`PARTITIONS`], so one key always lands in one
//!   partition. Publishes are deduplicated by tenant + messageId (`Nats-Msg-Id`).
//! - Each partition has a durable pull consumer. A worker delivers a partition only while it
//!   holds its lease (key-value bucket `cdp_leases`), so a partition has one deliverer at a time
//!   and per-key order holds across the fleet. Workers share the partitions evenly.
//! - A retry is a NAK with the delay (the server holds it, not a sleeping worker); the key is
//!   parked (bucket `cdp_parked`) and its later events are NAKed behind it; other keys flow.
//! - Dead letters go to the stream `CDP_DEAD`, deduplicated by the event's stream sequence, so
//!   an event redelivered after a crash is dead-lettered at most once; their lifecycle (replayed,
//!   resolved) is in the bucket `cdp_dead_state`.
//! - The plugins' tenant cache is the bucket `cdp_cache`, shared by all workers.
//! - OAuth tenants' rotating tokens are in the bucket `cdp_credentials`, sealed with the
//!   operator's key; one worker at a time refreshes a tenant, and the others take its tokens.

pub mod authorize;
pub mod cli;
pub mod dead_letters;
pub mod ingest;
pub mod kv_cache;
pub mod kv_credentials;
mod leases;
pub mod logging;
pub mod metrics;
mod parking;
mod partition;
pub mod produce;
pub mod worker;
pub mod zendesk;

use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::jetstream::{self, consumer, kv, stream};
use serde_json::Value;

use destination_host::delivery::OrderKey;

/// Partitions of the event stream. Fixed: producers and workers must agree on it.
pub const PARTITIONS: u32 = 16;
pub const EVENTS_STREAM: &str = "CDP_EVENTS";
pub const DEAD_STREAM: &str = "CDP_DEAD";
pub const DEAD_SUBJECT: &str = "cdp.dead";
const LEASES_BUCKET: &str = "cdp_leases";
const PARKED_BUCKET: &str = "cdp_parked";
const CACHE_BUCKET: &str = "cdp_cache";
/// Dead letters' lifecycle states (see [`dead_letters`]).
const DEAD_STATE_BUCKET: &str = "cdp_dead_state";
/// OAuth tenants' rotating tokens, sealed (see [`kv_credentials`]).
pub const CREDENTIALS_BUCKET: &str = "cdp_credentials";
/// Header carrying the event's line number in the producer's input.
pub const LINE_HEADER: &str = "Cdp-Line";
/// Header naming where an event came from (`produce`'s file and host, the ingest subject, a
/// replayed dead letter), for its dead letter.
pub const SOURCE_HEADER: &str = "Cdp-Source";
/// How long a message may stay unacknowledged before JetStream redelivers it (kept alive with
/// progress acks while a call runs).
pub const ACK_WAIT: Duration = Duration::from_secs(10);
/// Publishes with the same id within this window are stored once.
pub(crate) const DUPLICATE_WINDOW: Duration = Duration::from_secs(3600);

pub fn events_subject(partition: u32) -> String {
    format!("cdp.events.{partition}")
}

pub fn partition_of(key: &OrderKey) -> u32 {
    (key.hash64() % u64::from(PARTITIONS)) as u32
}

/// The order key of a `{"tenant", "event"}` line's event.
pub fn key_of(tenant: &str, event: &Value) -> OrderKey {
    OrderKey::of(tenant, event)
}

/// A connected fleet member: the client, JetStream and the shared buckets.
#[derive(Clone)]
pub struct Fleet {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub leases: kv::Store,
    pub parked: kv::Store,
    pub cache: kv::Store,
    pub credentials: kv::Store,
    pub dead_state: kv::Store,
}

impl Fleet {
    /// Connects and creates whatever streams, consumers and buckets are missing (producers and
    /// workers may start in either order).
    pub async fn connect(url: &str) -> Result<Fleet> {
        let client = connect_within(url, CONNECT_PATIENCE).await?;
        let js = jetstream::new(client.clone());
        // Producers and workers starting at once race to create the same streams; a loser sees
        // an error for a stream that now exists, and finds it on the next try.
        let mut tries = 0;
        loop {
            tries += 1;
            match Self::create_missing(&js).await {
                Ok(()) => break,
                Err(_) if tries < 5 => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(error) => return Err(error),
            }
        }
        let leases = bucket(&js, LEASES_BUCKET, leases::LEASE_TTL).await?;
        let parked = bucket(&js, PARKED_BUCKET, Duration::ZERO).await?;
        let cache = bucket(&js, CACHE_BUCKET, kv_cache::MAX_TTL).await?;
        let credentials = bucket(&js, CREDENTIALS_BUCKET, Duration::ZERO).await?;
        let dead_state = bucket(&js, DEAD_STATE_BUCKET, Duration::ZERO).await?;
        Ok(Fleet {
            client,
            js,
            leases,
            parked,
            cache,
            credentials,
            dead_state,
        })
    }

    async fn create_missing(js: &jetstream::Context) -> Result<()> {
        let events = js
            .get_or_create_stream(stream::Config {
                name: EVENTS_STREAM.into(),
                subjects: vec!["cdp.events.>".into()],
                retention: stream::RetentionPolicy::WorkQueue,
                duplicate_window: DUPLICATE_WINDOW,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .context("cannot create the events stream")?;
        for partition in 0..PARTITIONS {
            let name = consumer_name(partition);
            events
                .get_or_create_consumer(
                    &name,
                    consumer::pull::Config {
                        durable_name: Some(name.clone()),
                        filter_subject: events_subject(partition),
                        ack_policy: consumer::AckPolicy::Explicit,
                        ack_wait: ACK_WAIT,
                        max_deliver: -1,
                        max_ack_pending: 10_000,
                        ..Default::default()
                    },
                )
                .await
                .with_context(|| format!("cannot create the consumer {name}"))?;
        }
        js.get_or_create_stream(stream::Config {
            name: DEAD_STREAM.into(),
            subjects: vec![DEAD_SUBJECT.into()],
            duplicate_window: DUPLICATE_WINDOW,
            storage: stream::StorageType::File,
            allow_direct: true,
            ..Default::default()
        })
        .await
        .context("cannot create the dead-letter stream")?;
        ingest::create(js).await?;
        for (name, max_age) in [
            (LEASES_BUCKET, leases::LEASE_TTL),
            (PARKED_BUCKET, Duration::ZERO),
            (CACHE_BUCKET, kv_cache::MAX_TTL),
            (CREDENTIALS_BUCKET, Duration::ZERO),
            (DEAD_STATE_BUCKET, Duration::ZERO),
        ] {
            bucket(js, name, max_age).await?;
        }
        Ok(())
    }

    pub async fn consumer(&self, partition: u32) -> Result<consumer::PullConsumer> {
        let stream = self.js.get_stream(EVENTS_STREAM).await?;
        stream
            .get_consumer(&consumer_name(partition))
            .await
            .map_err(|e| anyhow::anyhow!("consumer {}: {e}", consumer_name(partition)))
    }
}

fn consumer_name(partition: u32) -> String {
    format!("part-{partition}")
}

/// A key-value bucket, created through its stream: async-nats' `create_key_value` asks for
/// account details that nats-server 2.9 does not send.
async fn bucket(js: &jetstream::Context, name: &str, max_age: Duration) -> Result<kv::Store> {
    js.get_or_create_stream(stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    })
    .await
    .with_context(|| format!("cannot create the key-value bucket {name}"))?;
    js.get_key_value(name)
        .await
        .with_context(|| format!("cannot open the key-value bucket {name}"))
}

/// How long a producer or worker waits for NATS to be reachable when it starts (a server
/// starting at the same time), before it fails naming the address.
const CONNECT_PATIENCE: Duration = Duration::from_secs(8);

/// Connects, trying again until `patience` has passed; the error names the address and the
/// connection's own error, not a later JetStream timeout.
async fn connect_within(url: &str, patience: Duration) -> Result<async_nats::Client> {
    let started = std::time::Instant::now();
    loop {
        let attempt = async_nats::ConnectOptions::new()
            .name("destination-fleet")
            .connection_timeout(Duration::from_secs(2))
            .connect(url)
            .await;
        match attempt {
            Ok(client) => return Ok(client),
            Err(error) if started.elapsed() >= patience => {
                return Err(anyhow::anyhow!(
                    "cannot connect to NATS at {url} (tried for {} s): {error}",
                    patience.as_secs()
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// A KV-safe token for any text (keys allow `[-/_=.a-zA-Z0-9]`): URL-safe base64.
pub fn kv_token(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
