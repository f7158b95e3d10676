//! One call in its own Store: limits installed, clocks started when the guest runs, and every
//! way it can end classified into a [`CallError`].

use wasmtime::{Store, Trap, UpdateDeadline};

use crate::call_state::CallState;
use crate::contract::{Instance, Pre};
use crate::report::{CallError, FetchRecord, LogRecord, TrapKind};

/// What a call produced, whatever its result type.
pub struct CallOutput<R> {
    pub result: Result<R, CallError>,
    pub fetches: Vec<FetchRecord>,
    pub logs: Vec<LogRecord>,
}

/// Instantiates the pre-linked plugin in a fresh Store holding `state` and runs `call` on it.
/// The guest runs on a fiber: a call waiting on the network (or a timer) holds no thread, and
/// guest code yields to the executor at every epoch tick, so a busy guest cannot starve others.
pub async fn run_call<R>(
    pre: &Pre,
    state: CallState,
    call: impl AsyncFnOnce(&Instance, &mut Store<CallState>) -> wasmtime::Result<R>,
) -> CallOutput<R> {
    let mut store = Store::new(pre.engine(), state);
    store.limiter(|state| &mut state.limiter);
    store.epoch_deadline_callback(|mut context| {
        let budget = &mut context.data_mut().budget;
        match budget.exceeded() {
            Some(kind) => {
                budget.stopped = Some(kind);
                Ok(UpdateDeadline::Interrupt)
            }
            None => Ok(UpdateDeadline::Yield(1)),
        }
    });
    store.set_epoch_deadline(1);
    // The guest starts running at instantiation (component start functions), so the clocks do.
    store.data_mut().budget.start();

    let result = match pre.instantiate(&mut store).await {
        Ok(instance) => call(&instance, &mut store)
            .await
            .map_err(|error| classify(store.data(), &error)),
        Err(error) => Err(match classify(store.data(), &error) {
            CallError::Trap {
                kind: TrapKind::Other,
                ..
            } => CallError::Instantiate(format!("{error:#}")),
            limit_hit => limit_hit,
        }),
    };

    let mut state = store.into_data();
    let stderr = state.stderr_text();
    if !stderr.is_empty() {
        state
            .logs
            .host("warn", format!("guest stderr: {stderr}"), Vec::new());
    }
    CallOutput {
        result,
        fetches: state.fetches,
        logs: state.logs.finish(),
    }
}

/// Attributes a failed call: a budget the epoch callback enforced, the memory limit, a panic,
/// or another trap.
fn classify(state: &CallState, error: &wasmtime::Error) -> CallError {
    if let Some(kind) = state.budget.stopped {
        let message = match (kind, &state.budget.stop_reason) {
            (_, Some(reason)) => reason.clone(),
            (TrapKind::CpuBudget, None) => format!(
                "the guest ran longer than its CPU budget of {} ms",
                state.budget.cpu().as_millis()
            ),
            (_, None) => format!(
                "the call took longer than its wall-clock budget of {} ms",
                state.budget.wall().as_millis()
            ),
        };
        return CallError::Trap { kind, message };
    }
    if state.limiter.memory_limit_hit {
        return CallError::Trap {
            kind: TrapKind::Memory,
            message: format!(
                "the guest needed more than its memory limit of {} MiB",
                state.limiter.memory_mib
            ),
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::UnreachableCodeReached) => {
            // The panic message is on stderr; std's hint about RUST_BACKTRACE is noise here.
            let stderr = state.stderr_text();
            let stderr: Vec<&str> = stderr
                .lines()
                .filter(|line| !line.starts_with("note: run with `RUST_BACKTRACE"))
                .collect();
            let stderr = stderr.join("\n");
            let message = if stderr.is_empty() {
                "the guest aborted (unreachable code reached)".to_string()
            } else {
                format!("the guest aborted: {stderr}")
            };
            CallError::Trap {
                kind: TrapKind::Panic,
                message,
            }
        }
        Some(trap) => CallError::Trap {
            kind: TrapKind::Other,
            message: trap.to_string(),
        },
        None => CallError::Trap {
            kind: TrapKind::Other,
            message: format!("{error:#}"),
        },
    }
}
