//! The delivery core under load: pacing a backlog to the account's rate limit (one process and
//! two workers), in-call retries at a 30% fault rate, and bounded memory on a 1,000,000-line
//! stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::fleet::{NatsServer, Worker, produce, start_nats, wait_until};
use host_test::runner::{self, PluginSource, RetryPolicy, RunOptions, Target};
use mock_zendesk::server::serve;
use mock_zendesk::{Faults, MockZendesk};
use serde_json::{Value, json};

fn config(subdomain: &str) -> Value {
    json!({"subdomain": subdomain, "email": format!("admin@{subdomain}.example"),
        "apiToken": format!("token-{subdomain}")})
}

fn identify(tenant: &str, user: usize, step: usize) -> String {
    json!({"tenant": tenant, "event": {"type": "identify", "userId": format!("u{user}"),
        "messageId": format!("{tenant}-{user}-{step}"),
        "traits": {"name": format!("User {user} v{step}"), "email": format!("u{user}@x.example")}}})
    .to_string()
}

/// 3,000 identifies of 300 users: one Zendesk call each.
fn backlog(tenant: &str) -> Vec<String> {
    (0..3000)
        .map(|i| identify(tenant, i % 300, i / 300))
        .collect()
}

const LIMIT: u32 = 2400;

fn throttled(mock: &MockZendesk, tenant: &str) -> (usize, usize) {
    let requests = mock.requests_for(tenant);
    let refused = requests.iter().filter(|r| r.status == 429).count();
    (requests.len(), refused)
}

#[test]
fn a_backlog_drains_at_the_account_s_rate_limit_in_one_process_and_across_two_workers() {
    let Some(nats) = start_nats() else {
        return;
    };
    let fleet = std::thread::spawn(move || two_workers(&nats));

    let mock = MockZendesk::new();
    mock.set_rate_limit("solo", Some(LIMIT));
    let tenants = json!({"tenants": {"solo": config("solo")}}).to_string();
    let mut options = RunOptions::new(
        tenants,
        backlog("solo").join("\n"),
        Target::Mock(mock.clone()),
    );
    options.plugin = PluginSource::File(env!("ZENDESK_WASM").into());
    options.retry.retry_for = Duration::from_secs(600);
    let started = Instant::now();
    let summary = runner::run(options).unwrap();
    let elapsed = started.elapsed();
    let (calls, refused) = throttled(&mock, "solo");
    let floor = Duration::from_secs_f64(calls as f64 / f64::from(LIMIT) * 60.0);
    println!("run: {calls} calls in {elapsed:?} (limit floor {floor:?}), {refused} answered 429");
    assert_eq!((summary.delivered, summary.dead_lettered), (3000, 0));
    assert!(elapsed <= floor.mul_f64(1.25), "{elapsed:?} vs {floor:?}");
    assert!(
        (refused as f64) < 0.02 * calls as f64,
        "{refused} of {calls}"
    );

    fleet.join().unwrap();
}

fn two_workers(nats: &NatsServer) {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockZendesk::new();
    mock.set_rate_limit("pair", Some(LIMIT));
    let server = serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let origin = format!("http://{}", server.addr());
    let tenants = dir.path().join("tenants.json");
    std::fs::write(
        &tenants,
        json!({"tenants": {"pair": config("pair")}}).to_string(),
    )
    .unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, backlog("pair").join("\n")).unwrap();
    let workers: Vec<Worker> = (0..2)
        .map(|n| {
            let log = dir.path().join(format!("w{n}.log"));
            Worker::start(&nats.url, &tenants, &origin, &[], log)
        })
        .collect();
    // Both announce themselves before the backlog arrives, so each paces at half the limit.
    std::thread::sleep(Duration::from_secs(3));
    let (status, stderr) = produce(&nats.url, &events);
    assert_eq!(status, 0, "{stderr}");
    let upserts = || {
        mock.requests_for("pair")
            .iter()
            .filter(|r| r.status < 300)
            .count()
    };
    let elapsed = wait_until(Duration::from_secs(400), "the pair's backlog", || {
        upserts() >= 3000
    });
    let (calls, refused) = throttled(&mock, "pair");
    let floor = Duration::from_secs_f64(calls as f64 / f64::from(LIMIT) * 60.0);
    println!(
        "2 workers: {calls} calls in {elapsed:?} (limit floor {floor:?}), {refused} answered 429"
    );
    assert!(elapsed <= floor.mul_f64(1.25), "{elapsed:?} vs {floor:?}");
    assert!(
        (refused as f64) < 0.02 * calls as f64,
        "{refused} of {calls}"
    );
    let letters = crate::common::fleet::dead_letters(&nats.url, false);
    assert!(letters.is_empty(), "{letters:?}");
    for worker in workers {
        assert_eq!(worker.terminate(Duration::from_secs(30)), 0);
    }
    drop(server);
}

#[test]
fn at_a_30_percent_fault_rate_first_identifies_cost_under_one_and_a_half_times_the_calls() {
    // Each tenant's first identify: list fields, create 3 fields, upsert, membership: 6 calls.
    let tenants: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    let run = |mock: &MockZendesk| {
        let mut lines = Vec::new();
        for tenant in &tenants {
            let org = mock.seed_organization(tenant, json!({"name": "Org", "external_id": "o"}));
            lines.push(
                json!({"tenant": tenant, "event": {"type": "identify", "userId": "u1",
                    "traits": {"name": "Ann", "email": "ann@x.example", "plan": "pro",
                        "seats": 3, "beta": true, "company": {"id": org}}}})
                .to_string(),
            );
        }
        let configs: serde_json::Map<String, Value> =
            tenants.iter().map(|t| (t.clone(), config(t))).collect();
        let mut options = RunOptions::new(
            json!({ "tenants": configs }).to_string(),
            lines.join("\n"),
            Target::Mock(mock.clone()),
        );
        options.plugin = PluginSource::File(env!("ZENDESK_WASM").into());
        // One at a time: the fault sequence is the same on every run.
        options.concurrency = 1;
        options.retry = RetryPolicy {
            retry_for: Duration::from_secs(60),
            base: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
        };
        runner::run(options).unwrap()
    };
    let clean = run(&MockZendesk::new());
    let faults: Faults = "rate=0.3,seed=7,kinds=429|500|503|409,retry_after=0"
        .parse()
        .unwrap();
    let faulty_mock = MockZendesk::with_faults(faults);
    let faulty = run(&faulty_mock);
    assert_eq!(clean.zendesk_calls, 6 * 20);
    assert_eq!((faulty.delivered, faulty.dead_lettered), (20, 0));
    let faulted = faulty_mock
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    let ratio = faulty.zendesk_calls as f64 / clean.zendesk_calls as f64;
    println!(
        "30% faults: {} calls ({faulted} faulted) against {} clean: {ratio:.2}x; {} event retries",
        faulty.zendesk_calls, clean.zendesk_calls, faulty.retries
    );
    assert!(faulted > 20, "faults were injected");
    assert!(ratio <= 1.5, "{ratio}");
}

/// Peak resident memory of this process (kB).
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .expect("VmHWM")
}

#[test]
fn a_million_line_stream_is_read_in_bounded_memory() {
    // It measures the process's peak RSS: other tests must not run beside it.
    if !crate::common::in_own_process("delivery::a_million_line_stream_is_read_in_bounded_memory") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    {
        use std::io::Write;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..1_000_000usize {
            // A tenant whose config the plugin refuses: every event is dead-lettered without a
            // call, so the test measures the stream's path, not Zendesk's.
            writeln!(file, "{}", identify("broken", i % 5000, i)).unwrap();
        }
    }
    let tenants = json!({"tenants": {"broken": {"subdomain": "no such subdomain!"}}}).to_string();
    let mut options = RunOptions::new(tenants, "", Target::Mock(MockZendesk::new()));
    options.events = runner::EventSource::File(path);
    options.plugin = PluginSource::File(env!("ZENDESK_WASM").into());
    let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = Arc::clone(&seen);
    options.on_event = Some(Arc::new(move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }));
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    let before = peak_rss_kb();
    let summary = runner::run(options).unwrap();
    let grown_mib = peak_rss_kb().saturating_sub(before) / 1024;
    println!("1,000,000 lines: peak RSS grew by {grown_mib} MiB");
    assert_eq!(
        (summary.lines, summary.dead_lettered),
        (1_000_000, 1_000_000)
    );
    assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 1_000_000);
    assert!(grown_mib < 200, "{grown_mib} MiB");
}
