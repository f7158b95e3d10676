//! One attempt at delivering events of one tenant, whatever their source: admission (the
//! config is valid, the tenant is not far behind its account's rate limit), the plugin call
//! (one event, or a batch), each event's share of the requests, and what the result means for
//! each event ([`Settlement`]). A source keeps only its queue and acknowledgements.

use std::sync::Arc;
use std::time::Duration;

use crate::credentials::TokenSource;
use crate::hot_swap::PluginSlot;
use crate::plugin::Plugin;
use crate::redact::Redactor;
use crate::report::{
    BatchResults, CallError, CallReport, FetchRecord, GuestError, LogRecord, Operation, Outcome,
    Scrub,
};
use crate::retry::RetryPolicy;
use crate::runtime::Runtime;
use crate::tenant::Tenant;

use super::{Settlement, settle};

/// Past this much pacing backlog, events wait in their source's queue (their keys parked),
/// not in a call holding a sandbox.
pub const PACING_PARK: Duration = Duration::from_secs(1);

/// An event handed to [`Engine::attempt`].
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The event, JSON text.
    pub event: String,
    /// Earlier attempts that reached the plugin (0 for a new event).
    pub earlier_attempts: u32,
    /// Time since the first attempt (or since the event was published), which the retry
    /// budget counts from.
    pub elapsed: Duration,
}

/// What an attempt did.
#[derive(Debug)]
pub enum Attempted {
    /// Not called: the tenant is behind its rate limit. Try again after this long (it does not
    /// count as an attempt).
    Paced(Duration),
    Called(Call),
}

/// One plugin call (or a config refused without one), and each event's settlement.
#[derive(Debug)]
pub struct Call {
    /// The plugin version that served the call (`None`: refused before any call).
    pub plugin_version: Option<String>,
    pub fetches: Vec<FetchRecord>,
    pub logs: Vec<LogRecord>,
    pub duration: Duration,
    /// One per event, in order.
    pub results: Vec<EventResult>,
}

/// What one event's attempt came to.
#[derive(Debug)]
pub struct EventResult {
    pub settlement: Settlement,
    /// This attempt's number (1 for the first).
    pub attempts: u32,
    /// Its share of the call's requests that Zendesk answered (the shares add up to the call's).
    pub calls: u64,
    /// Its share of the requests that got no answer (connection failures, timeouts).
    pub unanswered: u64,
    /// Its share of the requests the host sent again within the call (transient failures).
    pub resends: u64,
    /// The operations its outcome names (a batch's shared bulk requests among them).
    pub operations: Vec<Operation>,
    /// The error of a failed attempt, for logs (retries included).
    pub failure: Option<String>,
}

/// The delivery engine: the runtime, the plugin slot (hot swapped) and the retry policy.
pub struct Engine {
    pub runtime: Arc<Runtime>,
    pub slot: Arc<PluginSlot>,
    pub retry: RetryPolicy,
}

impl Engine {
    pub fn new(runtime: Arc<Runtime>, slot: Arc<PluginSlot>, retry: RetryPolicy) -> Engine {
        Engine {
            runtime,
            slot,
            retry,
        }
    }

    /// [`Engine::attempt_async`], blocking the calling thread.
    pub fn attempt(&self, tenant: &Tenant, events: &[Attempt]) -> Attempted {
        crate::bridge::block_on(self.attempt_async(tenant, events))
    }

    /// Attempts `events` of `tenant` (one per order key): one `transform` for one event, one
    /// `transform-batch` for more. While the plugin waits on the destination, the attempt holds
    /// no thread.
    pub async fn attempt_async(&self, tenant: &Tenant, events: &[Attempt]) -> Attempted {
        let plugin = self.slot.current();
        // An OAuth tenant calls with a fresh access token in its config.
        let (tenant, token) = match tenant.authorized_async().await {
            Ok(authorized) => authorized,
            Err(error) => return self.not_called(events, error),
        };
        // A bad config is a dead letter without a call (the answer is kept per tenant and
        // plugin version, so this costs one sandbox run per tenant).
        if let Err(error) = self.runtime.validate_config_async(&plugin, &tenant).await {
            return self.not_called(events, error);
        }
        let backlog = tenant.rate.backlog(&tenant.id);
        if backlog > PACING_PARK {
            return Attempted::Paced(backlog);
        }
        let texts: Vec<String> = events.iter().map(|a| a.event.clone()).collect();
        let mut report = self
            .runtime
            .transform_batch_async(&plugin, &tenant, &texts)
            .await;
        let mut outcomes = match std::mem::replace(&mut report.result, Ok(Vec::new())) {
            Ok(results) => results,
            Err(error) => vec![Err(error); events.len()],
        };
        if let Some(token) = token {
            self.after_401(&tenant, &plugin, &texts, &token, &mut report, &mut outcomes)
                .await;
        }
        let count = events.len().max(1);
        let share =
            |total: usize, n: usize| (total / count + usize::from(n < total % count)) as u64;
        let answered = report.fetches.iter().filter(|f| f.status.is_some()).count();
        let unanswered = report.fetches.len() - answered;
        let resends = report.fetches.iter().filter(|f| f.resent).count();
        let results = events
            .iter()
            .zip(outcomes)
            .enumerate()
            .map(|(n, (attempt, result))| {
                let operations = match &result {
                    Ok(outcome) => outcome.operations.clone(),
                    Err(_) => Vec::new(),
                };
                let failure = result.as_ref().err().map(ToString::to_string);
                let attempts = attempt.earlier_attempts + 1;
                EventResult {
                    settlement: settle(
                        result,
                        attempts,
                        attempt.elapsed,
                        &self.retry,
                        fastrand::f64(),
                    ),
                    attempts,
                    calls: share(answered, n),
                    unanswered: share(unanswered, n),
                    resends: share(resends, n),
                    operations,
                    failure,
                }
            })
            .collect();
        Attempted::Called(Call {
            plugin_version: Some(report.plugin_version),
            fetches: report.fetches,
            logs: report.logs,
            duration: report.duration,
            results,
        })
    }

    /// The events' settlements when the plugin was not called (a refused config, no token).
    fn not_called(&self, events: &[Attempt], error: CallError) -> Attempted {
        let results = events
            .iter()
            .map(|attempt| EventResult {
                failure: Some(error.to_string()),
                settlement: settle(
                    Err(error.clone()),
                    attempt.earlier_attempts + 1,
                    attempt.elapsed,
                    &self.retry,
                    fastrand::f64(),
                ),
                attempts: attempt.earlier_attempts,
                calls: 0,
                unanswered: 0,
                resends: 0,
                operations: Vec::new(),
            })
            .collect();
        Attempted::Called(Call {
            plugin_version: None,
            fetches: Vec::new(),
            logs: Vec::new(),
            duration: Duration::ZERO,
            results,
        })
    }

    /// Events the destination refused with 401 under `token`: the token is refreshed once (or
    /// taken from whoever refreshed it already) and they are sent again at once; a 401 for an
    /// expired token is neither a failure nor a retry. Every token is scrubbed from the report.
    async fn after_401(
        &self,
        tenant: &Tenant,
        plugin: &Plugin,
        texts: &[String],
        token: &str,
        report: &mut CallReport<BatchResults>,
        outcomes: &mut [Result<Outcome, CallError>],
    ) {
        let refused: Vec<usize> = (0..outcomes.len())
            .filter(|&n| {
                matches!(
                    &outcomes[n],
                    Err(CallError::Guest(GuestError::Rejected { status: 401, .. }))
                )
            })
            .collect();
        let mut tokens = vec![token.to_string()];
        if let (false, Some(source)) = (refused.is_empty(), tenant.token_source()) {
            // Refreshing may block on the token endpoint and on other refreshes.
            let refreshed = {
                let (source, token) = (Arc::clone(source), token.to_string());
                tokio::task::spawn_blocking(move || source.after_refusal(&token)).await
            };
            let refreshed =
                refreshed.unwrap_or_else(|joined| std::panic::resume_unwind(joined.into_panic()));
            match refreshed {
                Ok(fresh) => {
                    let again: Vec<String> = refused.iter().map(|&n| texts[n].clone()).collect();
                    let retried = self
                        .runtime
                        .transform_batch_async(plugin, &tenant.with_access_token(&fresh), &again)
                        .await;
                    let results = match retried.result {
                        Ok(results) => results,
                        Err(error) => vec![Err(error); again.len()],
                    };
                    for (&n, result) in refused.iter().zip(results) {
                        outcomes[n] = expired_meanwhile(result, source, &fresh);
                    }
                    report.fetches.extend(retried.fetches);
                    report.logs.extend(retried.logs);
                    report.duration += retried.duration;
                    tokens.push(fresh);
                }
                Err(error) => {
                    for &n in &refused {
                        outcomes[n] = Err(error.clone().into());
                    }
                }
            }
        }
        let redactor = Redactor::new("{}", tokens.iter().map(String::as_str));
        report.scrub(&redactor);
        for outcome in outcomes.iter_mut() {
            match outcome {
                Ok(outcome) => outcome.scrub(&redactor),
                Err(error) => error.scrub(&redactor),
            }
        }
    }
}

/// A second 401, for a token that expired before the destination read it (a slow call), is the
/// token's expiry, not a refusal: the grant is fine, and the event waits for a retry.
fn expired_meanwhile(
    result: Result<Outcome, CallError>,
    source: &TokenSource,
    token: &str,
) -> Result<Outcome, CallError> {
    match result {
        Err(CallError::Guest(GuestError::Rejected { status: 401, .. }))
            if source.outlived(token) =>
        {
            Err(CallError::AuthUnavailable(
                "the access token expired during the call".into(),
            ))
        }
        other => other,
    }
}
