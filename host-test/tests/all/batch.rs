//! Batch delivery through the real component and the delivery core: the same final state as one
//! call per event on the standard stream, its replay and under 30% faults (failed jobs and
//! items included); the bulk-import fallback reported once per tenant; a 0.1.0 plugin served
//! one event per call behind the same API; a worker fleet batching from NATS JetStream; and
//! the benchmark's economy targets.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use destination_host::{
    CallError, Limits, OriginTemplate, Plugin, Runtime, RuntimeOptions, Tenant,
};
use host_test::bench::{self, BenchOptions};
use host_test::runner::{
    self, Batching, EventReport, PluginSource, RetryPolicy, RunOptions, Summary, Target,
};
use host_test::transports::MockTransport;
use mock_zendesk::workload::StandardStream;
use mock_zendesk::{BulkSettings, Faults, MockZendesk};
use serde_json::{Value, json};

const TENANTS: [&str; 2] = ["east", "west"];

fn loaded() -> (Arc<Runtime>, Plugin) {
    static LOADED: OnceLock<(Arc<Runtime>, Plugin)> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime starts");
            let plugin = runtime
                .load_plugin_file(Path::new(env!("ZENDESK_WASM")))
                .expect("the zendesk plugin loads");
            (Arc::new(runtime), plugin)
        })
        .clone()
}

fn tenants_json() -> String {
    let tenants: serde_json::Map<String, Value> = TENANTS
        .iter()
        .map(|t| {
            let config = json!({"subdomain": t, "email": format!("admin@{t}.example"), "apiToken": "tok-batch"});
            (t.to_string(), config)
        })
        .collect();
    json!({ "tenants": tenants }).to_string()
}

fn stream_jsonl() -> String {
    let events = StandardStream {
        events: 1_500,
        users: 150,
        organizations: 15,
        seed: 11,
    }
    .generate();
    let mut lines = Vec::new();
    for event in &events {
        for tenant in TENANTS {
            lines.push(json!({"tenant": tenant, "event": event}).to_string());
        }
    }
    lines.join("\n")
}

fn bulk_on(mock: &MockZendesk, settings: BulkSettings) {
    mock.set_default_bulk(BulkSettings {
        user_import: true,
        ..settings
    });
}

/// One run of the stream; `batching` off or on. Returns the summary and every event's report.
fn deliver(
    mock: &MockZendesk,
    batching: Batching,
    retry: RetryPolicy,
) -> (Summary, Vec<EventReport>) {
    let (runtime, plugin) = loaded();
    let mut options = RunOptions::new(tenants_json(), stream_jsonl(), Target::Mock(mock.clone()));
    options.plugin = PluginSource::Loaded(runtime, plugin);
    options.concurrency = 2;
    options.batching = batching;
    options.retry = retry;
    let reports: Arc<Mutex<Vec<EventReport>>> = Arc::default();
    let collected = Arc::clone(&reports);
    options.on_event = Some(Arc::new(move |r: &EventReport| {
        collected.lock().unwrap().push(r.clone())
    }));
    let summary = runner::run(options).expect("the run completes");
    let reports = std::mem::take(&mut *reports.lock().unwrap());
    (summary, reports)
}

const BATCHES: Batching = Batching {
    size: 100,
    wait: Duration::from_millis(20),
};

fn assert_same_state(actual: &MockZendesk, expected: &MockZendesk) {
    for tenant in TENANTS {
        if let Some(differences) = actual
            .account(tenant)
            .differences(&expected.account(tenant))
        {
            panic!("{tenant}: the states differ:\n{differences}");
        }
    }
}

#[test]
fn batches_reach_the_per_event_state_on_the_stream_and_its_replay() {
    let one = MockZendesk::new();
    let many = MockZendesk::new();
    bulk_on(&many, BulkSettings::default());
    let (per_event, _) = deliver(&one, Batching::OFF, RetryPolicy::never());
    let (batched, reports) = deliver(&many, BATCHES, RetryPolicy::never());
    assert_eq!(per_event.dead_lettered, 0);
    assert_eq!(batched.dead_lettered, 0);
    assert_eq!(
        batched.delivered + batched.skipped,
        per_event.delivered + per_event.skipped
    );
    assert_same_state(&many, &one);
    // Batches really were batches: up to 100 events of one tenant, one per user.
    let mut sizes = std::collections::HashMap::<u64, Vec<&EventReport>>::new();
    // (An event alone when its batch formed is one `transform` call: no batch number.)
    for report in reports.iter().filter(|r| r.batch.is_some()) {
        sizes.entry(report.batch.unwrap()).or_default().push(report);
    }
    assert!(
        sizes.values().any(|events| events.len() > 20),
        "some batches fill up"
    );
    for events in sizes.values() {
        assert!(events.len() <= 100);
        assert!(events.iter().all(|e| e.tenant == events[0].tenant));
    }
    assert!(
        (batched.zendesk_calls as f64) < 0.7 * per_event.zendesk_calls as f64,
        "{} calls in batches against {} one per call",
        batched.zendesk_calls,
        per_event.zendesk_calls
    );
    // A replay of the whole stream changes nothing either way.
    deliver(&one, Batching::OFF, RetryPolicy::never());
    deliver(&many, BATCHES, RetryPolicy::never());
    assert_same_state(&many, &one);
}

#[test]
fn under_30_percent_faults_with_failed_jobs_and_items_batches_reach_the_same_state() {
    let clean = MockZendesk::new();
    deliver(&clean, Batching::OFF, RetryPolicy::never());
    let faults: Faults = "rate=0.3,seed=17,kinds=429|500|503|409,retry_after=1"
        .parse()
        .unwrap();
    let faulty = MockZendesk::with_faults(faults);
    bulk_on(
        &faulty,
        BulkSettings {
            job_failure_rate: 0.15,
            item_failure_rate: 0.1,
            seed: 3,
            ..BulkSettings::default()
        },
    );
    let retry = RetryPolicy {
        retry_for: Duration::from_secs(120),
        base: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
    };
    let (summary, _) = deliver(&faulty, BATCHES, retry);
    assert_eq!(summary.dead_lettered, 0, "{summary:?}");
    assert!(
        summary.retries > 50,
        "the faults were retried: {}",
        summary.retries
    );
    assert_same_state(&faulty, &clean);
}

#[test]
fn with_bulk_import_off_everything_is_delivered_and_the_fallback_reported_once_per_tenant() {
    let one = MockZendesk::new();
    let off = MockZendesk::new(); // Zendesk's default: bulk user import answers 403
    deliver(&one, Batching::OFF, RetryPolicy::never());
    let (summary, _) = deliver(&off, BATCHES, RetryPolicy::never());
    assert_eq!(summary.dead_lettered, 0);
    assert_same_state(&off, &one);
    for tenant in TENANTS {
        let requests = off.requests_for(tenant);
        let tried: Vec<_> = requests
            .iter()
            .filter(|r| r.path == "/api/v2/users/create_or_update_many")
            .collect();
        assert_eq!(tried.len(), 1, "{tenant}: tried once, then remembered");
        assert_eq!(tried[0].status, 403);
        assert!(
            requests
                .iter()
                .any(|r| r.path == "/api/v2/users/update_many")
        );
    }

    // The report: one warning per tenant, in the call that met the 403.
    let (runtime, plugin) = loaded();
    let mock = MockZendesk::new();
    let tenant = Tenant::new(
        "solo",
        json!({"subdomain": "solo", "email": "a@solo.example", "apiToken": "t"}).to_string(),
        Limits::default(),
        Arc::new(MockTransport::new(mock)),
    )
    .with_allowed_origins(["https://{subdomain}.zendesk.com"
        .parse::<OriginTemplate>()
        .unwrap()]);
    let warnings: usize = (0..3)
        .map(|n| {
            // Two events: a batch of one is a plain `transform` call.
            let events: Vec<String> = (0..2)
                .map(|k| {
                    json!({"type": "identify", "userId": format!("u{n}-{k}"), "traits": {"name": "N"}})
                        .to_string()
                })
                .collect();
            let report = runtime.transform_batch(&plugin, &tenant, &events);
            assert!(
                report.result.as_ref().unwrap()[0].is_ok(),
                "{:?}",
                report.result
            );
            report
                .logs
                .iter()
                .filter(|log| log.message.contains("bulk user import is off"))
                .count()
        })
        .sum();
    assert_eq!(warnings, 1);
}

#[test]
fn a_0_1_0_plugin_gets_one_call_per_event_behind_the_batch_api() {
    let (runtime, _) = loaded();
    let adversary = runtime
        .load_plugin_file(Path::new(env!("ADVERSARY_WASM")))
        .expect("the 0.1.0 adversary loads");
    assert_eq!(adversary.contract_version(), "0.1.0");
    assert_eq!(adversary.description().max_batch_size, 1);
    let tenant = Tenant::new(
        "old",
        json!({}).to_string(),
        Limits::default(),
        Arc::new(MockTransport::new(MockZendesk::new())),
    );
    let events: Vec<String> = ["ok", "panic", "ok"]
        .iter()
        .map(|t| json!({"type": t}).to_string())
        .collect();
    let report = runtime.transform_batch(&adversary, &tenant, &events);
    let results = report.result.expect("no whole-batch error");
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[2].is_ok());
    assert!(
        matches!(&results[1], Err(CallError::Trap { .. })),
        "only the panicking event fails: {:?}",
        results[1]
    );
    // The current plugin says how many it takes.
    let (_, zendesk) = loaded();
    assert_eq!(zendesk.description().max_batch_size, 100);
}

#[test]
fn the_benchmark_meets_the_economy_targets_on_the_standard_stream() {
    let options = BenchOptions {
        plugin: env!("ZENDESK_WASM").into(),
        tenants: 1,
        stream: StandardStream::default(),
        batching: BATCHES,
        concurrency: 2,
    };
    let report = bench::run(&options).expect("the benchmark runs");
    let overall = |batched: &str, dedupe: bool| {
        report
            .modes
            .iter()
            .find(|m| m.mode == batched && m.dedupe == dedupe)
            .map(|m| m.calls_per_event.overall)
            .unwrap()
    };
    println!("{}", report.table());
    // The default config (unchanged window 60 s) and the batch modes.
    assert!(
        overall("per-event", true) <= 0.88,
        "{}",
        overall("per-event", true)
    );
    assert!(
        overall("batch", false) <= 0.6,
        "{}",
        overall("batch", false)
    );
    assert!(overall("batch", true) <= 0.6, "{}", overall("batch", true));
    let per_event = &report.modes[1].calls_per_event;
    assert!((per_event.track - 1.0).abs() < 1e-9, "a track is one call");
}

#[test]
fn a_worker_delivers_batches_from_jetstream_to_the_same_state() {
    use crate::common::fleet::{Worker, produce, start_nats, wait_until};
    let Some(nats) = start_nats() else {
        return;
    };
    let clean = MockZendesk::new();
    deliver(&clean, Batching::OFF, RetryPolicy::never());
    let expected: usize = TENANTS.iter().map(|t| clean.account(t).users.len()).sum();

    let mock = MockZendesk::new();
    bulk_on(&mock, BulkSettings::default());
    let server = mock_zendesk::server::serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.json");
    std::fs::write(&tenants, tenants_json()).unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, stream_jsonl()).unwrap();
    let worker = Worker::start(
        &nats.url,
        &tenants,
        &format!("http://{}", server.addr()),
        &["--batch-size", "100", "--batch-wait-ms", "100"],
        dir.path().join("worker.log"),
    );
    let (status, stderr) = produce(&nats.url, &events);
    assert_eq!(status, 0, "{stderr}");
    // Done when the last event of the stream (a track or identify) has its effect in both
    // accounts: the same counts of users and events as the clean run.
    let events_expected: usize = TENANTS.iter().map(|t| clean.account(t).events.len()).sum();
    wait_until(Duration::from_secs(240), "the batched stream", || {
        let users: usize = TENANTS.iter().map(|t| mock.account(t).users.len()).sum();
        let tracked: usize = TENANTS.iter().map(|t| mock.account(t).events.len()).sum();
        users == expected && tracked == events_expected
    });
    // Let the last memberships' jobs finish, then compare everything.
    wait_until(Duration::from_secs(60), "the same state", || {
        TENANTS
            .iter()
            .all(|t| mock.account(t).comparable() == clean.account(t).comparable())
    });
    assert_same_state(&mock, &clean);
    let bulk = mock
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v2/users/create_or_update_many")
        .count();
    assert!(bulk > 5, "{bulk} bulk user requests");
    assert_eq!(worker.terminate(Duration::from_secs(30)), 0);
    drop(server);
}
