//! `worker --metrics ADDR`: `/metrics` in the Prometheus text format and `/healthz`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Result, anyhow};
use destination_host::credentials::TokenSource;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The worker's figures, by tenant and event type where it matters.
pub struct Metrics {
    registry: Registry,
    /// Finished events: `outcome` is delivered, skipped or dead_lettered.
    pub events: IntCounterVec,
    pub retries: IntCounterVec,
    pub zendesk_calls: IntCounterVec,
    pub call_seconds: Histogram,
    pub in_flight: IntGauge,
    /// Messages not yet delivered to this worker in the partitions it owns.
    pub consumer_lag: IntGauge,
    pub partitions: IntGauge,
    /// Ingest messages by outcome: routed, dead_lettered, stray_rerouted, stray_dead_lettered.
    pub ingest: IntCounterVec,
    /// False while draining (SIGTERM).
    pub healthy: AtomicBool,
    /// OAuth tenants' token sources, whose figures are read when metrics are rendered.
    token_sources: Mutex<Vec<Arc<TokenSource>>>,
    oauth_refreshes: IntCounterVec,
    oauth_auth_failures: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Arc<Metrics>> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec> {
            let counter = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(counter.clone()))?;
            Ok(counter)
        };
        let gauge = |name: &str, help: &str| -> Result<IntGauge> {
            let gauge = IntGauge::new(name, help)?;
            registry.register(Box::new(gauge.clone()))?;
            Ok(gauge)
        };
        let call_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "cdp_call_duration_seconds",
                "Duration of one plugin call (an attempt of an event), Zendesk requests included",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        )?;
        registry.register(Box::new(call_seconds.clone()))?;
        Ok(Arc::new(Metrics {
            events: counter(
                "cdp_events_total",
                "Events finished, by tenant, event type and outcome",
                &["tenant", "type", "outcome"],
            )?,
            retries: counter(
                "cdp_retries_total",
                "Resends: attempts that will be retried (NAK with delay) and requests sent again \
                 within a call, by tenant and event type",
                &["tenant", "type"],
            )?,
            zendesk_calls: counter(
                "cdp_zendesk_calls_total",
                "HTTP requests Zendesk answered, by tenant and event type",
                &["tenant", "type"],
            )?,
            call_seconds,
            in_flight: gauge("cdp_in_flight", "Plugin calls running now")?,
            consumer_lag: gauge(
                "cdp_consumer_lag",
                "Events waiting in the partitions this worker owns",
            )?,
            partitions: gauge("cdp_partitions_owned", "Partitions this worker delivers")?,
            ingest: counter(
                "cdp_ingest_total",
                "Published events the router handled: routed or dead_lettered from cdp.ingest, \
                 stray_rerouted or stray_dead_lettered from a cdp.events subject no partition reads",
                &["outcome"],
            )?,
            healthy: AtomicBool::new(true),
            token_sources: Mutex::default(),
            oauth_refreshes: counter(
                "cdp_oauth_refreshes_total",
                "Access tokens this worker asked the token endpoint for, by tenant",
                &["tenant"],
            )?,
            oauth_auth_failures: counter(
                "cdp_oauth_auth_failures_total",
                "OAuth grants the token endpoint refused for good (re-authorize), by tenant",
                &["tenant"],
            )?,
            registry,
        }))
    }

    /// Counts `source`'s refreshes and auth failures under its tenant.
    pub fn watch_tokens(&self, source: Arc<TokenSource>) {
        self.token_sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(source);
    }

    pub fn render(&self) -> String {
        // The token sources count on their own; their counters catch up here.
        for source in self
            .token_sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let stats = source.stats();
            for (counter, total) in [
                (&self.oauth_refreshes, stats.refreshes),
                (&self.oauth_auth_failures, stats.auth_failures),
            ] {
                let counter = counter.with_label_values(&[source.tenant()]);
                counter.inc_by(total.saturating_sub(counter.get()));
            }
        }
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// Serves `/metrics` and `/healthz` on `addr` from a thread of its own.
    pub fn serve(self: &Arc<Self>, addr: SocketAddr) -> Result<SocketAddr> {
        let server = tiny_http::Server::http(addr)
            .map_err(|e| anyhow!("cannot serve metrics on {addr}: {e}"))?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow!("the metrics server has no IP address"))?;
        let metrics = Arc::clone(self);
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let (status, body) = match request.url() {
                    "/metrics" => (200, metrics.render()),
                    "/healthz" if metrics.healthy.load(Ordering::Relaxed) => (200, "ok\n".into()),
                    "/healthz" => (503, "draining\n".into()),
                    _ => (404, "not found\n".into()),
                };
                let response = tiny_http::Response::from_string(body).with_status_code(status);
                let _ = request.respond(response);
            }
        });
        Ok(bound)
    }
}
