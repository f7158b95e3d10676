//! Tenants share a host: in `run` and in a fleet worker, one tenant's calls stay within
//! `--per-tenant` (and one until its first is done), so a tenant with a backlog does not hold
//! back a tenant with a few events. Against the HTTP mock answering after 100 ms, as a real
//! account would.

use std::time::Duration;

use host_test::runner::{self, PluginSource, RunOptions, Target};
use mock_zendesk::MockZendesk;
use mock_zendesk::server::{Latency, ServerHandle, serve_with_latency};
use serde_json::{Value, json};

use crate::common::fleet::{Worker, produce, start_nats, wait_until};
use crate::fleet::{config, identify};

const BIG: usize = 60;
const SMALL: usize = 6;

/// `big`'s identifies of 60 users, then `small`'s of 6: the small tenant's events come last.
fn stream() -> Vec<Value> {
    let big = (0..BIG).map(|user| identify("big", user, 0));
    let small = (0..SMALL).map(|user| identify("small", user, 0));
    big.chain(small).collect()
}

fn tenants() -> Value {
    json!({"tenants": {"big": config("big", "token-big"), "small": config("small", "token-small")}})
}

fn slow_mock() -> (MockZendesk, ServerHandle) {
    let mock = MockZendesk::new();
    let latency = Latency {
        base: Duration::from_millis(100),
        jitter_pct: 0,
    };
    let server = serve_with_latency(mock.clone(), ([127, 0, 0, 1], 0).into(), latency).unwrap();
    (mock, server)
}

/// Users the account has now.
fn users(mock: &MockZendesk, tenant: &str) -> usize {
    mock.account(tenant).users.len()
}

/// Once `small` has all its users, how many `big` has: few, if `small` was not held behind.
fn big_users_when_small_is_done(mock: &MockZendesk) -> usize {
    wait_until(Duration::from_secs(60), "the small tenant's users", || {
        users(mock, "small") == SMALL
    });
    users(mock, "big")
}

/// What both hosts must show: every user delivered, each tenant's requests at most two at a
/// time (and two at some point: the calls did run side by side), and the small tenant done
/// while the big one is far from it.
fn assert_shared_fairly(host: &str, mock: &MockZendesk, server: &ServerHandle, big_then: usize) {
    assert_eq!(users(mock, "big"), BIG, "{host}");
    assert_eq!(users(mock, "small"), SMALL, "{host}");
    assert_eq!(
        server.peak_in_flight("big"),
        2,
        "{host}: big's requests at once"
    );
    let small = server.peak_in_flight("small");
    assert!(
        (1..=2).contains(&small),
        "{host}: small had {small} at once"
    );
    // 60 users two at a time take 3 s; the small tenant's 6 take 0.3 s.
    assert!(
        big_then <= BIG / 2,
        "{host}: big had {big_then} users already"
    );
}

#[test]
fn a_tenant_keeps_to_its_share_of_calls_in_run_and_in_the_worker() {
    // run, in-process, against the HTTP mock.
    let (mock, server) = slow_mock();
    let lines: Vec<String> = stream().iter().map(Value::to_string).collect();
    let target = Target::Loopback(server.origin().parse().unwrap());
    let mut options = RunOptions::new(tenants().to_string(), lines.join("\n"), target);
    options.plugin = PluginSource::File(env!("ZENDESK_WASM").into());
    options.per_tenant = 2;
    let summary = std::thread::scope(|scope| {
        let run = scope.spawn(|| runner::run(options).unwrap());
        let big_then = big_users_when_small_is_done(&mock);
        let summary = run.join().unwrap();
        assert_shared_fairly("run", &mock, &server, big_then);
        summary
    });
    assert_eq!(summary.delivered as usize, BIG + SMALL);

    // A worker, over a real nats-server.
    let Some(nats) = start_nats() else {
        return;
    };
    let (mock, server) = slow_mock();
    let dir = tempfile::tempdir().unwrap();
    let tenants_path = dir.path().join("tenants.json");
    std::fs::write(&tenants_path, tenants().to_string()).unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, lines.join("\n")).unwrap();
    // Published before the worker starts: its first pull of each partition holds both tenants'
    // events there, as a worker's backlog would.
    let (status, stderr) = produce(&nats.url, &events);
    assert_eq!(status, 0, "{stderr}");
    let _worker = Worker::start(
        &nats.url,
        &tenants_path,
        &server.origin(),
        &["--per-tenant", "2"],
        dir.path().join("worker.log"),
    );
    let big_then = big_users_when_small_is_done(&mock);
    wait_until(Duration::from_secs(60), "the big tenant's users", || {
        users(&mock, "big") == BIG
    });
    assert_shared_fairly("worker", &mock, &server, big_then);
}
