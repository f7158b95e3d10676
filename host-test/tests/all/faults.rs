//! The real HTTP path under injected faults: a multi-tenant stream through HttpTransport to a
//! loopback mock Zendesk that answers 30% of requests with 429 / 500 / 503 / 409. With retries,
//! the final state must equal a fault-free run's, nothing may be dead-lettered, and the runner
//! must actually have retried.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use destination_host::{Plugin, Runtime, RuntimeOptions};
use host_test::runner::{self, PluginSource, RetryPolicy, RunOptions, Summary, Target};
use host_test::transports::LoopbackOrigin;
use mock_zendesk::{FaultKind, Faults, MockZendesk};
use serde_json::{Value, json};

const TENANTS: [&str; 3] = ["north", "south", "west"];

fn loaded() -> PluginSource {
    static LOADED: OnceLock<(Arc<Runtime>, Plugin)> = OnceLock::new();
    let (runtime, plugin) = LOADED.get_or_init(|| {
        let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime starts");
        let plugin = runtime
            .load_plugin_file(Path::new(env!("ZENDESK_WASM")))
            .expect("the zendesk plugin loads");
        (Arc::new(runtime), plugin)
    });
    PluginSource::Loaded(Arc::clone(runtime), plugin.clone())
}

fn tenants_json() -> String {
    let tenants: serde_json::Map<String, Value> = TENANTS
        .iter()
        .map(|t| {
            let config = json!({"subdomain": t, "email": format!("admin@{t}.example"), "apiToken": "tok-faults"});
            (t.to_string(), config)
        })
        .collect();
    json!({ "tenants": tenants }).to_string()
}

/// Ten events per tenant: identifies with custom traits, groups (with and without groupId, one
/// for a user not identified yet), an update, tracks.
fn events_jsonl() -> String {
    let mut lines = Vec::new();
    for tenant in TENANTS {
        let events = [
            json!({"type": "identify", "userId": "u1", "traits": {"name": "Ann", "email": "ann@example.com", "planName": "pro", "seats": 3}}),
            json!({"type": "identify", "userId": "u2", "traits": {"firstName": "Ben", "lastName": "Ode", "email": "ben@example.com", "plan_name": "free"}}),
            json!({"type": "group", "userId": "u1", "groupId": "g1", "traits": {"name": format!("{tenant} Corp"), "tags": ["vip"], "industry": "retail"}}),
            json!({"type": "group", "userId": "u2", "groupId": "g1", "traits": {"name": format!("{tenant} Corp")}}),
            json!({"type": "group", "userId": "u3", "groupId": "g2", "traits": {"name": "Side Co"}, "context": {"traits": {"name": "Cy", "email": "cy@example.com"}}}),
            json!({"type": "group", "userId": "u2", "traits": {"name": "Nameless Club"}}),
            json!({"type": "identify", "userId": "u1", "traits": {"name": "Ann B", "email": "ann@example.com", "seats": 5}}),
            json!({"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"total": 10}}),
            json!({"type": "track", "userId": "u2", "event": "Signed Up", "properties": {}}),
            json!({"type": "track", "userId": "u3", "event": "Order Completed", "properties": {"total": 3}}),
        ];
        lines.extend(
            events
                .iter()
                .map(|event| json!({"tenant": tenant, "event": event}).to_string()),
        );
    }
    lines.join("\n")
}

fn run_against(mock: &MockZendesk, retry: RetryPolicy) -> Summary {
    let server = mock_zendesk::server::serve(mock.clone(), "127.0.0.1:0".parse().unwrap())
        .expect("the mock server starts");
    let origin: LoopbackOrigin = format!("http://{}", server.addr())
        .parse()
        .expect("loopback origin");
    let mut options = RunOptions::new(tenants_json(), events_jsonl(), Target::Loopback(origin));
    options.plugin = loaded();
    options.concurrency = 3;
    options.retry = retry;
    let summary = runner::run(options).expect("the run completes");
    server.shutdown();
    summary
}

#[test]
fn injected_faults_are_retried_to_the_same_final_state() {
    let retry = RetryPolicy {
        retry_for: Duration::from_secs(60),
        base: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
    };
    let faulty = MockZendesk::with_faults(Faults {
        rate: 0.3,
        seed: 20_250_301,
        kinds: vec![
            FaultKind::RateLimited,
            FaultKind::ServerError,
            FaultKind::Unavailable,
            FaultKind::Conflict,
        ],
        retry_after_seconds: 0,
        slow_ms: 0,
    });
    let clean = MockZendesk::new();

    let with_faults = run_against(&faulty, retry);
    let without_faults = run_against(&clean, retry);

    assert_eq!(without_faults.delivered, 30, "{without_faults:#?}");
    assert_eq!(without_faults.retries, 0);
    assert_eq!(with_faults.dead_lettered, 0, "{with_faults:#?}");
    assert_eq!(with_faults.delivered, 30);
    // Idempotent requests are sent again within the call, so an event does not repeat the
    // calls that already succeeded: the faulted run costs about 1 / (1 - 0.3) of the clean one.
    let ratio = with_faults.zendesk_calls as f64 / without_faults.zendesk_calls as f64;
    println!(
        "30% faults: {} calls against {} clean ({ratio:.2}x), {} event retries",
        with_faults.zendesk_calls, without_faults.zendesk_calls, with_faults.retries
    );
    assert!(ratio < 1.6, "{ratio}");
    // About 30% of the requests were faulted, as asked.
    let requests = faulty.requests();
    let faulted = requests.iter().filter(|r| r.fault.is_some()).count();
    let rate = faulted as f64 / requests.len() as f64;
    assert!(
        (0.2..0.4).contains(&rate),
        "{faulted} of {}",
        requests.len()
    );
    assert!(with_faults.zendesk_calls > without_faults.zendesk_calls);

    for tenant in TENANTS {
        let clean_state = clean.account(tenant).comparable();
        assert_eq!(
            clean_state["users"].as_array().map(Vec::len),
            Some(3),
            "{clean_state:#}"
        );
        assert_eq!(
            clean_state["memberships"].as_array().map(Vec::len),
            Some(4),
            "{clean_state:#}"
        );
        assert_eq!(
            clean_state["events"].as_array().map(Vec::len),
            Some(3),
            "{clean_state:#}"
        );
        assert_eq!(
            faulty.account(tenant).comparable(),
            clean_state,
            "tenant {tenant}: the faulty run ended in another state"
        );
    }
}
