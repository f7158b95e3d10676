//! The ingest contract: what anyone may publish, with a plain NATS client, a Kafka bridge or a
//! Connect sink, and the router that partitions it.
//!
//! - Subject `cdp.ingest` with `{"tenant": "<id>", "event": {...}}`, or `cdp.ingest.<tenant>`
//!   with the event itself (what a bridge forwards from a per-tenant topic).
//! - `Nats-Msg-Id` (optional): deduplicates publishes within the hour; the router deduplicates
//!   again by tenant + the event's `messageId`, exactly as `produce` does, so the same event
//!   through both paths is delivered once.
//! - The order key comes from the event (user, anonymous id, group, record), as for `produce`.
//!
//! Every worker runs a router on the stream `CDP_INGEST`'s one durable consumer. The consumer
//! lets one batch be unacknowledged at a time, fleet-wide, so the batch in flight is routed
//! in order; a router that dies mid-batch is replaced by its batch's redelivery, whose
//! republished events are duplicates JetStream drops. An invalid message becomes a dead letter
//! naming its subject. Messages published straight under `cdp.events.` on a subject no
//! partition reads are swept: re-routed to their partition, or dead-lettered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_nats::jetstream::{self, consumer, stream};
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};
use tokio::sync::watch;

use destination_host::delivery::{DeadLetter, EventLine, parse_line_any_tenant};

use crate::metrics::Metrics;
use crate::produce::{publish_dead_letter, publish_event};
use crate::{EVENTS_STREAM, Fleet, PARTITIONS, events_subject};

pub const INGEST_STREAM: &str = "CDP_INGEST";
/// The subject to publish to (`cdp.ingest`, or `cdp.ingest.<tenant>`).
pub const INGEST_SUBJECT: &str = "cdp.ingest";
const ROUTER: &str = "router";
/// Messages the router takes at once, and the fleet-wide bound of unacknowledged ones.
const BATCH: usize = 256;
/// How often strays under `cdp.events.` are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// The ingest stream and the router's consumer.
pub(crate) async fn create(js: &jetstream::Context) -> Result<()> {
    let ingest = js
        .get_or_create_stream(stream::Config {
            name: INGEST_STREAM.into(),
            subjects: vec![INGEST_SUBJECT.into(), format!("{INGEST_SUBJECT}.>")],
            retention: stream::RetentionPolicy::WorkQueue,
            duplicate_window: crate::DUPLICATE_WINDOW,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .context("cannot create the ingest stream")?;
    ingest
        .get_or_create_consumer(
            ROUTER,
            consumer::pull::Config {
                durable_name: Some(ROUTER.into()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: crate::ACK_WAIT,
                max_deliver: -1,
                max_ack_pending: BATCH as i64,
                ..Default::default()
            },
        )
        .await
        .context("cannot create the ingest router's consumer")?;
    Ok(())
}

/// Routes ingest messages to their partitions until `stop`, and sweeps strays.
pub(crate) async fn route(fleet: Fleet, metrics: Arc<Metrics>, mut stop: watch::Receiver<bool>) {
    let mut swept = Instant::now() - SWEEP_EVERY;
    // Looked up once, and again after a failure.
    let mut consumer: Option<consumer::PullConsumer> = None;
    while !*stop.borrow() {
        if swept.elapsed() >= SWEEP_EVERY {
            if let Err(error) = sweep_strays(&fleet, &metrics).await {
                tracing::warn!("ingest: cannot sweep stray events: {error:#}");
            }
            swept = Instant::now();
        }
        let routed = async {
            let pulling = match consumer.take() {
                Some(pulling) => pulling,
                None => router_consumer(&fleet).await?,
            };
            route_batch(&fleet, &metrics, &pulling).await?;
            consumer = Some(pulling);
            anyhow::Ok(())
        };
        tokio::select! {
            routed = routed => {
                if let Err(error) = routed {
                    tracing::warn!("ingest: {error:#}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            _ = stop.changed() => {}
        }
    }
}

async fn router_consumer(fleet: &Fleet) -> Result<consumer::PullConsumer> {
    fleet
        .js
        .get_stream(INGEST_STREAM)
        .await?
        .get_consumer(ROUTER)
        .await
        .map_err(|e| anyhow::anyhow!("the ingest router's consumer: {e}"))
}

/// One pull: each message's event published to its partition, in order, then acknowledged.
async fn route_batch(
    fleet: &Fleet,
    metrics: &Metrics,
    consumer: &consumer::PullConsumer,
) -> Result<()> {
    let mut batch = consumer
        .batch()
        .max_messages(BATCH)
        .expires(Duration::from_secs(1))
        .messages()
        .await?;
    let mut taken = Vec::new();
    let mut published = Vec::new();
    while let Some(message) = batch.next().await {
        let Ok(message) = message else {
            continue;
        };
        let sequence = message.info().map_or(0, |info| info.stream_sequence);
        match decode(&message.subject, &message.payload) {
            Ok(event) => {
                let source = format!("nats:{}", message.subject);
                published.push(publish_event(fleet, &event, &source).await?);
            }
            Err((tenant, reason)) => {
                let raw = String::from_utf8_lossy(&message.payload);
                let letter =
                    DeadLetter::malformed(0, tenant.as_deref(), None, Some(&raw), &reason, 0)
                        .from_source(&format!("nats:{}", message.subject));
                publish_dead_letter(fleet, &letter, &format!("ingest:{sequence}")).await?;
                metrics.ingest.with_label_values(&["dead_lettered"]).inc();
            }
        }
        taken.push(message);
    }
    for ack in published {
        ack.await
            .context("JetStream did not store a routed event")?;
        metrics.ingest.with_label_values(&["routed"]).inc();
    }
    for message in taken {
        message
            .ack()
            .await
            .map_err(|e| anyhow::anyhow!("cannot acknowledge an ingest message: {e}"))?;
    }
    Ok(())
}

/// The event of an ingest message: `{"tenant", "event"}` on `cdp.ingest`, or the event itself
/// (or the same wrapper) on `cdp.ingest.<tenant>`. Else the tenant, if known, and the reason.
fn decode(subject: &str, payload: &[u8]) -> Result<EventLine, (Option<String>, String)> {
    let named = subject
        .strip_prefix(INGEST_SUBJECT)
        .and_then(|rest| rest.strip_prefix('.'))
        .filter(|tenant| !tenant.is_empty());
    let text = std::str::from_utf8(payload).map_err(|_| {
        (
            named.map(str::to_string),
            format!("{subject}: the payload is not UTF-8"),
        )
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        (
            named.map(str::to_string),
            format!("{subject}: the payload is not JSON: {e}"),
        )
    })?;
    let wrapped = value.get("event").is_some_and(Value::is_object);
    let line = match (named, wrapped) {
        (Some(tenant), true) if value.get("tenant").and_then(Value::as_str) != Some(tenant) => {
            return Err((
                Some(tenant.to_string()),
                format!("{subject}: the payload names another tenant than the subject"),
            ));
        }
        (_, true) => value,
        (Some(tenant), false) => json!({"tenant": tenant, "event": value}),
        (None, false) => {
            return Err((
                None,
                format!(
                    "{subject}: expected {{\"tenant\", \"event\"}}, or the event on {INGEST_SUBJECT}.<tenant>"
                ),
            ));
        }
    };
    match parse_line_any_tenant(0, &line.to_string()) {
        Some(Ok(event)) => Ok(event),
        Some(Err(malformed)) => Err((malformed.tenant, format!("{subject}: {}", malformed.reason))),
        None => Err((
            named.map(str::to_string),
            format!("{subject}: empty payload"),
        )),
    }
}

/// Events published under `cdp.events.` on a subject no partition reads: re-routed to their
/// partition when they are events, else dead-lettered naming the subject; never stranded.
async fn sweep_strays(fleet: &Fleet, metrics: &Metrics) -> Result<()> {
    let events = fleet.js.get_stream(EVENTS_STREAM).await?;
    let subjects: Vec<(String, usize)> = events
        .info_with_subjects("cdp.events.>")
        .await?
        .try_collect()
        .await?;
    let partitions: Vec<String> = (0..PARTITIONS).map(events_subject).collect();
    for (subject, _) in subjects
        .into_iter()
        .filter(|(s, _)| !partitions.contains(s))
    {
        while let Ok(message) = events.get_last_raw_message_by_subject(&subject).await {
            let payload = &message.payload;
            match decode(INGEST_SUBJECT, payload) {
                Ok(event) => {
                    publish_event(fleet, &event, &format!("nats:{subject}"))
                        .await?
                        .await?;
                    metrics.ingest.with_label_values(&["stray_rerouted"]).inc();
                }
                Err((tenant, reason)) => {
                    let raw = String::from_utf8_lossy(payload);
                    let reason = format!(
                        "published to {subject}, which no partition reads (publish to {INGEST_SUBJECT}): {reason}"
                    );
                    let letter =
                        DeadLetter::malformed(0, tenant.as_deref(), None, Some(&raw), &reason, 0)
                            .from_source(&format!("nats:{subject}"));
                    let id = format!("stray:{}", message.sequence);
                    publish_dead_letter(fleet, &letter, &id).await?;
                    metrics
                        .ingest
                        .with_label_values(&["stray_dead_lettered"])
                        .inc();
                }
            }
            events.delete_message(message.sequence).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_comes_from_the_payload_or_the_subject() {
        let event = json!({"type": "identify", "userId": "u1", "traits": {"name": "A"}});
        let wrapped = json!({"tenant": "acme", "event": event}).to_string();
        assert_eq!(
            decode("cdp.ingest", wrapped.as_bytes()).unwrap().tenant,
            "acme"
        );
        assert_eq!(
            decode("cdp.ingest.acme", wrapped.as_bytes())
                .unwrap()
                .tenant,
            "acme"
        );
        let bare = event.to_string();
        let routed = decode("cdp.ingest.acme", bare.as_bytes()).unwrap();
        assert_eq!((routed.tenant.as_str(), &routed.event), ("acme", &event));

        let (_, reason) = decode("cdp.ingest", bare.as_bytes()).unwrap_err();
        assert!(reason.contains("cdp.ingest.<tenant>"), "{reason}");
        let (tenant, reason) = decode("cdp.ingest.beta", wrapped.as_bytes()).unwrap_err();
        assert_eq!(tenant.as_deref(), Some("beta"));
        assert!(reason.contains("another tenant"), "{reason}");
        let (_, reason) = decode("cdp.ingest.acme", b"{not json").unwrap_err();
        assert!(
            reason.starts_with("cdp.ingest.acme: the payload is not JSON"),
            "{reason}"
        );
    }
}
