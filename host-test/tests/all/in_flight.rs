//! The async call path at scale: a thousand calls wait on a slow Zendesk at once inside one
//! task (so none of them holds a thread), while hostile tenants' calls run beside them and are
//! stopped by their budgets as always.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use destination_host::{
    CallError, Limits, OutboundRequest, Plugin, Runtime, RuntimeOptions, Sending, Tenant,
    Transport, TrapKind,
};
use host_test::transports::MockTransport;
use mock_zendesk::MockZendesk;

const CALLS: usize = 1_000;
const TENANTS: usize = 100;
/// Long enough that every call is still waiting when the last one sends.
const LATENCY: Duration = Duration::from_millis(1_500);

/// The mock, answering each request after [`LATENCY`] (a timer, no thread), counting how many
/// requests wait at once.
struct SlowZendesk {
    inner: MockTransport,
    waiting: AtomicUsize,
    most_waiting: AtomicUsize,
}

impl Transport for SlowZendesk {
    fn send<'a>(
        &'a self,
        request: &'a OutboundRequest,
        timeout: Duration,
        max_response_bytes: u64,
    ) -> Sending<'a> {
        Box::pin(async move {
            let now = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_waiting.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(LATENCY).await;
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            self.inner.send(request, timeout, max_response_bytes).await
        })
    }
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(RuntimeOptions {
            max_instances: CALLS as u32 + 8,
            ..RuntimeOptions::default()
        })
        .expect("runtime")
    })
}

fn load(path: &str) -> Plugin {
    runtime()
        .load_plugin_file(std::path::Path::new(path))
        .expect("plugin loads")
}

#[test]
fn a_thousand_calls_wait_at_once_in_one_task_and_hostile_calls_are_still_stopped() {
    let zendesk = load(env!("ZENDESK_WASM"));
    let adversary = load(env!("ADVERSARY_WASM"));
    let mock = MockZendesk::new();
    let slow = Arc::new(SlowZendesk {
        inner: MockTransport::new(mock.clone()),
        waiting: AtomicUsize::new(0),
        most_waiting: AtomicUsize::new(0),
    });
    let tenants: Vec<Tenant> = (0..TENANTS)
        .map(|t| {
            let config = format!(
                r#"{{"subdomain":"acct{t}","email":"admin@example.com","apiToken":"t0k"}}"#
            );
            host_test::zendesk_tenant(format!("t{t}"), config, Limits::default(), slow.clone())
        })
        .collect();
    let events: Vec<(usize, String)> = (0..CALLS)
        .map(|n| {
            let event = format!(
                r#"{{"type":"identify","userId":"u{n}","traits":{{"name":"User {n}","email":"u{n}@example.com"}}}}"#
            );
            (n % TENANTS, event)
        })
        .collect();
    let hostile = host_test::zendesk_tenant(
        "hostile",
        r#"{"subdomain":"adv"}"#,
        Limits {
            cpu_ms: 200,
            memory_mib: 16,
            ..Limits::default()
        },
        slow.clone(),
    );
    // Time asleep in WASI is the guest's own: the wall budget is the one that ends it here.
    let sleeper = host_test::zendesk_tenant(
        "sleeper",
        r#"{"subdomain":"adv"}"#,
        Limits {
            wall_ms: 300,
            ..Limits::default()
        },
        slow.clone(),
    );

    // Two threads drive everything; the thousand calls are one future (`join_all`), so a call
    // waiting on the network cannot be holding a thread.
    let io = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (reports, (looped, hog, slept)) = io.block_on(async {
        let calls = futures_util::future::join_all(
            events
                .iter()
                .map(|(t, event)| runtime().transform_async(&zendesk, &tenants[*t], event)),
        );
        let hostile = async {
            tokio::join!(
                runtime().transform_async(&adversary, &hostile, r#"{"type":"loop"}"#),
                runtime().transform_async(&adversary, &hostile, r#"{"type":"alloc","mib":64}"#),
                runtime().transform_async(&adversary, &sleeper, r#"{"type":"sleep"}"#),
            )
        };
        tokio::join!(calls, hostile)
    });

    assert_eq!(
        slow.most_waiting.load(Ordering::SeqCst),
        CALLS,
        "every call waited on Zendesk at the same time"
    );
    for report in &reports {
        let outcome = report.result.as_ref().expect("delivered");
        assert_eq!(outcome.operations.len(), 1, "{outcome:?}");
        assert_eq!(outcome.operations[0].path, "/api/v2/users/create_or_update");
    }
    for n in 0..CALLS {
        let account = mock.account(&format!("acct{}", n % TENANTS));
        let user = account
            .user_by_email(&format!("u{n}@example.com"))
            .unwrap_or_else(|| panic!("user u{n} created"));
        assert_eq!(user.name, format!("User {n}"));
    }
    let trap = |report: &destination_host::CallReport| match &report.result {
        Err(CallError::Trap { kind, .. }) => Some(*kind),
        _ => None,
    };
    assert_eq!(
        trap(&looped),
        Some(TrapKind::CpuBudget),
        "{:?}",
        looped.result
    );
    assert_eq!(trap(&hog), Some(TrapKind::Memory), "{:?}", hog.result);
    assert_eq!(
        trap(&slept),
        Some(TrapKind::WallClock),
        "{:?}",
        slept.result
    );
    assert_eq!(runtime().calls_in_flight(), 0, "every pool slot came back");
}
