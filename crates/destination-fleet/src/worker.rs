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
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::{Semaphore, watch};

use destination_host::credentials::{CREDENTIAL_KEY_VAR, CredentialKey, CredentialStore};
use destination_host::delivery::{Batching, Engine, TenantGate, TenantLimit};
use destination_host::pacing::LocalRateBudget;
use destination_host::{
    Manifest, OriginTemplate, PluginSlot, RetryPolicy, Runtime, RuntimeOptions, TenantSpec,
    Transport, WatchHandle,
};

use crate::kv_cache::{KvCache, KvMirror};
use crate::kv_credentials::KvCredentialStore;
use crate::leases::{Claim, Leases, RENEW_EVERY};
use crate::metrics::Metrics;
use crate::partition::{Shared, deliver_partition};
use crate::{CREDENTIALS_BUCKET, Fleet};

/// A worker's set-up: where NATS is, the tenant manifest, the plugin, and how requests leave.
pub struct WorkerOptions {
    pub nats: String,
    /// The tenant manifest's text (see [`Manifest`]).
    pub tenants_json: String,
    /// The origins a tenant may reach when the manifest names none.
    pub default_origins: Vec<OriginTemplate>,
    pub plugin: PathBuf,
    pub watch: bool,
    /// How the plugins' requests are sent (HTTPS in production).
    pub transport: Arc<dyn Transport>,
    /// The runtime's sizing; `max_instances` is raised to fit `concurrency`.
    pub runtime: RuntimeOptions,
    pub retry: RetryPolicy,
    pub metrics: Option<SocketAddr>,
    /// Plugin calls at the same time.
    pub concurrency: usize,
    /// Plugin calls of one tenant at the same time (a batch is one), and one until its first
    /// is done.
    pub per_tenant: usize,
    /// One event per plugin call, or batches per tenant (one event per key) by size and age.
    pub batching: Batching,
    /// How long SIGTERM's drain may take before the worker exits anyway (status 1).
    pub drain_limit: Duration,
    /// Seals OAuth tenants' tokens in the shared bucket; required when a tenant has a grant.
    pub credential_key: Option<CredentialKey>,
    /// Where a tenant's OAuth tokens come from, on its origin (Zendesk: `/oauth/tokens`).
    pub token_path: String,
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
    let wanted = u32::try_from(options.concurrency.saturating_add(8)).unwrap_or(u32::MAX);
    let runtime_options = RuntimeOptions {
        max_instances: options.runtime.max_instances.max(wanted),
        ..options.runtime.clone()
    };
    let specs = Manifest::parse(&options.tenants_json)?
        .tenants(&runtime_options, &options.default_origins)?;
    let credentials = credential_store(&fleet, &specs, options.credential_key)?;
    let runtime = Arc::new(Runtime::new(runtime_options).context("cannot start the wasm runtime")?);
    let plugin = runtime
        .load_plugin_file(&options.plugin)
        .with_context(|| format!("cannot load the plugin {}", options.plugin.display()))?;
    let slot = Arc::new(PluginSlot::new(plugin));
    let _watch: Option<WatchHandle> = match options.watch {
        true => Some(destination_host::watch(
            Arc::clone(&runtime),
            Arc::clone(&slot),
            options.plugin.clone(),
            |event| tracing::info!("{event}"),
        )?),
        false => None,
    };
    let workers = Arc::new(AtomicU32::new(1));
    let transport = Arc::clone(&options.transport);
    let metrics = Metrics::new()?;
    let mirror = KvMirror::start(fleet.cache.clone()).await?;
    let mut tenants = HashMap::new();
    for spec in specs {
        let mut tenant = spec
            .tenant(Arc::clone(&transport))
            .with_cache(Arc::new(KvCache::new(Arc::clone(&mirror), &spec.id)))
            .with_rate_budget(Arc::new(LocalRateBudget::shared_by(Arc::clone(&workers))));
        if let Some(store) = &credentials
            && let Some(source) = spec.token_source(
                Arc::clone(store),
                Arc::clone(&transport),
                &options.token_path,
            )?
        {
            let source = Arc::new(source);
            metrics.watch_tokens(Arc::clone(&source));
            tenant = tenant.with_token_source(source);
        }
        tenants.insert(spec.id, tenant);
    }
    if let Some(addr) = options.metrics {
        let bound = metrics.serve(addr)?;
        tracing::info!("metrics on http://{bound}/metrics");
    }
    let worker_id = format!(
        "{}-{}-{:08x}",
        hostname(),
        std::process::id(),
        fastrand::u32(..)
    );
    let context = Arc::new(Shared {
        fleet: fleet.clone(),
        engine: Arc::new(Engine::new(runtime, slot, options.retry)),
        tenants,
        metrics: Arc::clone(&metrics),
        calls: Semaphore::new(options.concurrency.max(1)),
        tenant_gate: TenantGate::new(TenantLimit {
            in_flight: options.per_tenant.saturating_mul(options.batching.size),
            until_warm: options.batching.size,
        }),
        batching: options.batching,
        worker_id: worker_id.clone(),
    });
    tracing::info!("worker {worker_id} started");
    let (stop_router, router_stopped) = watch::channel(false);
    let router = tokio::spawn(crate::ingest::route(
        fleet.clone(),
        Arc::clone(&metrics),
        router_stopped,
    ));
    let mut leases = Leases::new(fleet.leases.clone(), worker_id);
    let mut partitions: HashMap<u32, Delivering> = HashMap::new();
    // Partitions over this worker's share, finishing before they are handed back (their leases
    // are renewed until then).
    let mut handing_back: HashMap<u32, Delivering> = HashMap::new();
    let mut terminate = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = signal(tokio::signal::unix::SignalKind::interrupt())?;
    // The loop never waits for deliveries: leases must be renewed on time whatever they do.
    // A signal stops it even inside a NATS operation that waits for a lost server.
    loop {
        let round = async {
            let (claimed, lost) = match leases.renew().await {
                Ok(renewed) => renewed,
                Err(error) => {
                    // Ownership cannot be proven (NATS unreachable?): stop delivering everything
                    // until the leases are renewed again; the leases expire for the others anyway.
                    tracing::error!("cannot renew the leases: {error:#}; stopping deliveries");
                    for (_, delivering) in partitions.drain().chain(handing_back.drain()) {
                        delivering.stop();
                    }
                    leases.forget();
                    return;
                }
            };
            for partition in lost {
                tracing::warn!("partition {partition}: lease lost, stopping");
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
            // Idle tenants give back what the runtime derived from their configs.
            for tenant in context.tenants.values() {
                tenant.evict_if_idle(IDLE_TENANT);
            }
            update_lag(&context, &leases.held()).await;
        };
        tokio::select! {
            () = round => {}
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(RENEW_EVERY) => {}
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }

    // Drain: stop pulling, let in-flight calls finish and be acknowledged, hand back. The
    // leases are renewed meanwhile, so no one else takes the partitions too early.
    tracing::info!("draining");
    metrics.healthy.store(false, Ordering::Relaxed);
    let _ = stop_router.send(true);
    let mut all: Vec<Delivering> = partitions
        .into_values()
        .chain(handing_back.into_values())
        .collect();
    for delivering in &all {
        delivering.stop();
    }
    let drain = async {
        let _ = router.await;
        while !all.iter().all(|delivering| delivering.task.is_finished()) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if leases_due(&mut all) {
                let _ = leases.renew_held().await;
            }
        }
        leases.leave().await;
        fleet.client.flush().await.context("cannot flush to NATS")
    };
    // NATS may be gone (what would be acknowledged or handed back then waits for it forever):
    // the drain has a deadline, and what it leaves unacknowledged JetStream redelivers.
    match tokio::time::timeout(options.drain_limit, drain).await {
        Ok(flushed) => {
            flushed?;
            tracing::info!("drained");
            Ok(0)
        }
        Err(_) => {
            tracing::error!(
                "could not drain within {:?} (is NATS reachable?): exiting; the events not \
                 acknowledged are redelivered to the partitions' next owners",
                options.drain_limit
            );
            Ok(1)
        }
    }
}

/// A tenant without a call for this long gives back what the runtime derived from its config
/// (rebuilt by its next call).
const IDLE_TENANT: Duration = Duration::from_secs(300);

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

/// The shared store of OAuth tenants' tokens, when there are such tenants. Their tokens are
/// sealed at rest, so the key is required.
fn credential_store(
    fleet: &Fleet,
    specs: &[TenantSpec],
    key: Option<CredentialKey>,
) -> Result<Option<Arc<dyn CredentialStore>>> {
    let mut oauth = specs
        .iter()
        .filter(|spec| spec.oauth_grant().ok().flatten().is_some());
    let Some(first) = oauth.next() else {
        return Ok(None);
    };
    let key = key.ok_or_else(|| {
        anyhow::anyhow!(
            "tenant {:?} has an OAuth grant: set {CREDENTIAL_KEY_VAR} (32 random bytes, base64), \
             the key its tokens are sealed with in the bucket {CREDENTIALS_BUCKET}",
            first.id
        )
    })?;
    Ok(Some(Arc::new(KvCredentialStore::new(
        fleet.credentials.clone(),
        key,
        tokio::runtime::Handle::current(),
    ))))
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind).context("cannot install the signal handler")
}

pub(crate) fn hostname() -> String {
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
