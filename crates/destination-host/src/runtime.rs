//! The [`Runtime`]: the engine, the linker, and the calls.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::call_state::CallState;
use crate::contract;
use crate::engine::{self, EpochTicker};
use crate::error::HostError;
use crate::limits::{LimitError, Limits, RuntimeOptions};
use crate::permits::InstancePermits;
use crate::plugin::{self, LoadError, Plugin};
use crate::policy::OutboundPolicy;
use crate::redact::Redactor;
use crate::report::{
    BatchResults, CallError, CallReport, ConfigFacts, FieldInfo, ObjectType, Scrub, TrapKind,
};
use crate::sandbox::run_call;
use crate::tenant::{Prepared, Tenant};

/// The sandbox. `Send + Sync`: share it (e.g. in an `Arc`) between worker threads.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    permits: InstancePermits,
    /// Shared with every call (its routing headers, request retry and rate-limit headers).
    options: Arc<RuntimeOptions>,
    _ticker: EpochTicker,
}

impl Runtime {
    pub fn new(options: RuntimeOptions) -> Result<Runtime, HostError> {
        let engine = engine::build_engine(&options)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| crate::wasi_clock::add_to_linker(&mut linker))
            .map_err(|e| HostError::Linker(format!("WASI: {e:#}")))?;
        contract::add_to_linker(&mut linker).map_err(|e| HostError::Linker(format!("{e:#}")))?;
        let ticker = EpochTicker::start(engine.clone())?;
        Ok(Runtime {
            engine,
            linker,
            permits: InstancePermits::new(options.max_instances),
            options: Arc::new(options),
            _ticker: ticker,
        })
    }

    pub fn options(&self) -> &RuntimeOptions {
        &self.options
    }

    /// Whether this runtime can enforce `limits` (e.g. the memory fits its pool's slots).
    pub fn check_limits(&self, limits: &Limits) -> Result<(), LimitError> {
        limits.validate(&self.options)
    }

    /// Compiles, links and describes a plugin (a `wasm32-wasip2` component binary). Blocks:
    /// compiling keeps a CPU busy for a while (in async code, call it from `spawn_blocking`).
    pub fn load_plugin(&self, wasm: &[u8]) -> Result<Plugin, LoadError> {
        // Loading instantiates once (for `describe`): it needs a pool slot like any call.
        let _permit = crate::bridge::block_on(self.permits.acquire());
        plugin::load(&self.engine, &self.linker, wasm)
    }

    pub fn load_plugin_file(&self, path: &Path) -> Result<Plugin, LoadError> {
        let _permit = crate::bridge::block_on(self.permits.acquire());
        plugin::load_file(&self.engine, &self.linker, path)
    }

    /// Pool slots in use now: the calls in flight (each holds one while it runs, waits
    /// included).
    pub fn calls_in_flight(&self) -> usize {
        self.permits.in_use()
    }

    /// [`Runtime::transform_async`], blocking the calling thread.
    pub fn transform(&self, plugin: &Plugin, tenant: &Tenant, event_json: &str) -> CallReport {
        crate::bridge::block_on(self.transform_async(plugin, tenant, event_json))
    }

    /// [`Runtime::transform_batch_async`], blocking the calling thread.
    pub fn transform_batch(
        &self,
        plugin: &Plugin,
        tenant: &Tenant,
        events: &[String],
    ) -> CallReport<BatchResults> {
        crate::bridge::block_on(self.transform_batch_async(plugin, tenant, events))
    }

    /// [`Runtime::list_fields_async`], blocking the calling thread.
    pub fn list_fields(
        &self,
        plugin: &Plugin,
        tenant: &Tenant,
        object: ObjectType,
    ) -> CallReport<Vec<FieldInfo>> {
        crate::bridge::block_on(self.list_fields_async(plugin, tenant, object))
    }

    /// [`Runtime::validate_config_async`], blocking the calling thread.
    pub fn validate_config(
        &self,
        plugin: &Plugin,
        tenant: &Tenant,
    ) -> Result<ConfigFacts, CallError> {
        crate::bridge::block_on(self.validate_config_async(plugin, tenant))
    }

    /// [`Runtime::allowed_origins_async`], blocking the calling thread.
    pub fn allowed_origins(
        &self,
        plugin: &Plugin,
        tenant: &Tenant,
    ) -> Result<Vec<String>, CallError> {
        crate::bridge::block_on(self.allowed_origins_async(plugin, tenant))
    }

    /// Runs `transform(config, event)` for `tenant` in a fresh sandbox. The report is scrubbed
    /// of the tenant's credentials. While the plugin waits on the network, the call holds no
    /// thread.
    pub async fn transform_async(
        &self,
        plugin: &Plugin,
        tenant: &Tenant,
        event_json: &str,
    ) -> CallReport {
        self.call(plugin, tenant, async |instance, store| {
            instance
                .transform(store, &tenant.config, event_json)
                .await
                .map(|returned| returned.map_err(CallError::Guest))
        })
        .await
    }

    /// Runs `transform-batch(config, events)` for `tenant` in one fresh sandbox: one result per
    /// event, in input order. A batch longer than the plugin's `max-batch-size` is sent in
    /// several calls. A plugin without the export (contract 0.1.0) gets one `transform` call per
    /// event, and so does a batch of one (bulk endpoints only pay off for several), so callers
    /// need not care which contract a plugin implements. A failure of the whole call (a bad
    /// config, a trap, a plugin answering the wrong number of results) is the report's error.
    pub async fn transform_batch_async(
        &self,
        plugin: &Plugin,
        tenant: &Tenant,
        events: &[String],
    ) -> CallReport<BatchResults> {
        let max = plugin.description().max_batch_size as usize;
        if max <= 1 || events.len() > max || events.len() == 1 {
            let per_call = max.max(1);
            let mut reports = Vec::new();
            for chunk in events.chunks(per_call) {
                let report = match chunk {
                    [event] => self
                        .transform_async(plugin, tenant, event)
                        .await
                        .map(|result| vec![result]),
                    chunk => self.call_batch(plugin, tenant, chunk).await,
                };
                reports.push((chunk.len(), report));
            }
            return CallReport::merge(tenant, plugin, reports.into_iter());
        }
        self.call_batch(plugin, tenant, events).await
    }

    /// One `transform-batch` call (the plugin takes `events.len()` at once).
    async fn call_batch(
        &self,
        plugin: &Plugin,
        tenant: &Tenant,
        events: &[String],
    ) -> CallReport<BatchResults> {
        self.call(plugin, tenant, async |instance, store| {
            let Some(returned) = instance
                .transform_batch(store, &tenant.config, events)
                .await?
            else {
                unreachable!("a plugin with max-batch-size > 1 implements contract 0.2.0 or later");
            };
            Ok(match returned {
                Err(error) => Err(CallError::Guest(error)),
                Ok(results) if results.len() != events.len() => Err(CallError::Trap {
                    kind: TrapKind::Other,
                    message: format!(
                        "transform-batch answered {} results for {} events",
                        results.len(),
                        events.len()
                    ),
                }),
                Ok(results) => Ok(results
                    .into_iter()
                    .map(|result| result.map_err(CallError::Guest))
                    .collect()),
            })
        })
        .await
    }

    /// Runs `list-fields(config, object)` for `tenant` in a fresh sandbox: every field a record
    /// of `object` can write (schema introspection for a mapping UI). A `0.1.0` plugin does not
    /// have it, and a `0.2.0` one knows only users, organizations and tickets
    /// ([`CallError::Unsupported`]).
    pub async fn list_fields_async(
        &self,
        plugin: &Plugin,
        tenant: &Tenant,
        object: ObjectType,
    ) -> CallReport<Vec<FieldInfo>> {
        self.call(plugin, tenant, async |instance, store| {
            Ok(
                match instance.list_fields(store, &tenant.config, object).await? {
                    Some(listed) => listed.map_err(CallError::Guest),
                    None => Err(CallError::Unsupported(format!(
                        "`list-fields` of {} needs contract {}; this plugin implements {}",
                        object.name(),
                        match object {
                            ObjectType::Users | ObjectType::Organizations | ObjectType::Tickets => {
                                "0.2.0"
                            }
                            _ => "0.3.0",
                        },
                        plugin.contract_version()
                    ))),
                },
            )
        })
        .await
    }

    /// One export call for `tenant` in a fresh sandbox under the tenant's policy, scrubbed.
    async fn call<T: Scrub>(
        &self,
        plugin: &Plugin,
        tenant: &Tenant,
        export: impl AsyncFnOnce(
            &contract::Instance,
            &mut wasmtime::Store<CallState>,
        ) -> wasmtime::Result<Result<T, CallError>>,
    ) -> CallReport<T> {
        let started = Instant::now();
        let report = |result, fetches, logs| CallReport {
            tenant: tenant.id.clone(),
            plugin_version: plugin.version().to_string(),
            result,
            fetches,
            logs,
            duration: started.elapsed(),
        };
        let prepared = match self.prepare(plugin, tenant).await {
            Ok(prepared) => prepared,
            Err(error) => return report(Err(error), Vec::new(), Vec::new()),
        };
        if let Err(error) = &prepared.validation {
            return report(Err(CallError::Guest(error.clone())), Vec::new(), Vec::new());
        }
        let _permit = self.permits.acquire().await;
        let state = CallState::new(
            tenant,
            Arc::clone(&prepared.policy),
            Arc::clone(&self.options),
        );
        let output = run_call(plugin.pre(), state, export).await;
        let result = output.result.and_then(|returned| returned);
        let mut report = report(result, output.fetches, output.logs);
        report.scrub(&prepared.redactor);
        report
    }

    /// `validate-config(config)` for `tenant` (no network): the facts the plugin reported, empty
    /// for a `0.1.0` plugin. Runs the sandbox once per tenant and plugin version; later calls,
    /// and the tenant's transforms, reuse the answer.
    pub async fn validate_config_async(
        &self,
        plugin: &Plugin,
        tenant: &Tenant,
    ) -> Result<ConfigFacts, CallError> {
        let prepared = self.prepare(plugin, tenant).await?;
        match &prepared.validation {
            Ok(()) => Ok(prepared.reported.clone().unwrap_or_default()),
            Err(error) => Err(CallError::Guest(error.clone())),
        }
    }

    /// The outbound origins `tenant` may reach under `plugin`.
    pub async fn allowed_origins_async(
        &self,
        plugin: &Plugin,
        tenant: &Tenant,
    ) -> Result<Vec<String>, CallError> {
        Ok(self.prepare(plugin, tenant).await?.policy.origins())
    }

    async fn run_validate(
        &self,
        plugin: &Plugin,
        tenant: &Tenant,
    ) -> Result<Option<ConfigFacts>, CallError> {
        let _permit = self.permits.acquire().await;
        // No network while validating: the policy is what this call is about to decide.
        let state = CallState::new(
            tenant,
            Arc::new(OutboundPolicy::deny_all(&tenant.id)),
            Arc::clone(&self.options),
        );
        let output = run_call(plugin.pre(), state, async |instance, store| {
            instance.validate_config(store, &tenant.config).await
        })
        .await;
        output.result?.map_err(CallError::Guest)
    }

    /// The tenant's policy and redaction under `plugin`, from `validate-config` (once per tenant
    /// and plugin version).
    async fn prepare(&self, plugin: &Plugin, tenant: &Tenant) -> Result<Arc<Prepared>, CallError> {
        self.check_limits(&tenant.limits)
            .map_err(|e| CallError::InvalidLimits(e.to_string()))?;
        if let Some(prepared) = tenant.prepared_for(plugin.id()) {
            return Ok(prepared);
        }
        let reported = self.run_validate(plugin, tenant).await;
        let (validation, facts) = match reported.clone() {
            Ok(Some(facts)) => (Ok(()), facts),
            // A 0.1.0 plugin reports nothing: the templates are filled from the config's own
            // top-level strings (still one DNS label each, so nothing widens).
            Ok(None) => (
                Ok(()),
                ConfigFacts {
                    origin_values: top_level_strings(&tenant.config),
                    secrets: Vec::new(),
                },
            ),
            Err(CallError::Guest(error)) => (Err(error), ConfigFacts::default()),
            // A trap says nothing about the config: report it, and ask again next time.
            Err(mut error) => {
                error.scrub(&Redactor::new(&tenant.config, []));
                return Err(error);
            }
        };
        let redactor = Redactor::new(&tenant.config, facts.secrets.iter().map(String::as_str));
        let validation = validation.map_err(|mut error| {
            error.scrub(&redactor);
            tracing::debug!(tenant = %tenant.id, "config refused by the plugin: {error}");
            error
        });
        // The platform's own values win over what the plugin says.
        let values = tenant.origin_values().unwrap_or(&facts.origin_values);
        let policy = OutboundPolicy::new(&tenant.id, tenant.allowed_origins(), values);
        tracing::debug!(tenant = %tenant.id, origins = ?policy.origins(), "tenant prepared");
        let prepared = Arc::new(Prepared {
            plugin_id: plugin.id(),
            reported: reported.ok().flatten(),
            validation,
            policy: Arc::new(policy),
            redactor,
        });
        tenant.remember(Arc::clone(&prepared));
        Ok(prepared)
    }
}

pub(crate) fn top_level_strings(config_json: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<serde_json::Value>(config_json) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter_map(|(key, value)| Some((key, value.as_str()?.to_string())))
            .collect(),
        _ => Vec::new(),
    }
}
