//! Benchmarks of the plugin and its sandbox: `cargo bench -p host-test`.
//!
//! Prints one table: component size, load (compile + pre-instantiate + describe) and hot-swap
//! time, time per sandboxed call, events per second through the sandbox against the in-process
//! mock, and the number of Zendesk calls per event by type, cold (nothing cached) and warm.
//! Numbers, not assertions: the call counts are asserted by tests/economy.rs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use destination_host::{Limits, PluginSlot, Runtime, RuntimeOptions, Tenant};
use host_test::runner::{self, PluginSource, RunOptions, Target};
use host_test::transports::MockTransport;
use mock_zendesk::MockZendesk;
use serde_json::json;

const WASM: &str = env!("ZENDESK_WASM");

fn main() -> anyhow::Result<()> {
    let runtime = Runtime::new(RuntimeOptions::default())?;
    let bytes = std::fs::read(WASM)?;
    println!("| measure | value |\n|---|---|");
    // `cargo bench -p host-test -- records`: the warehouse figures alone.
    if std::env::args().any(|arg| arg == "records") {
        let plugin = runtime.load_plugin(&bytes)?;
        record_sync(&runtime, &plugin);
        record_batches(&runtime, &plugin);
        return Ok(());
    }
    // `cargo bench -p host-test -- delivery`: `run` and the workers alone.
    if std::env::args().any(|arg| arg == "delivery") {
        return delivery();
    }
    println!("| component size | {} KiB |", bytes.len() / 1024);

    let load = time_per(3, || {
        runtime
            .load_plugin(&bytes)
            .expect("the built component loads");
    });
    println!(
        "| load (compile + pre-instantiate + describe) | {} |",
        ms(load)
    );
    let plugin = runtime.load_plugin(&bytes)?;
    let slot = PluginSlot::new(plugin.clone());
    let swap = time_per(3, || {
        slot.reload_from(&runtime, WASM.as_ref())
            .expect("the built component reloads");
    });
    println!("| hot swap (reload_from) | {} |", ms(swap));

    let mock = MockZendesk::new();
    let bench_tenant = tenant("bench", &mock);
    // A new tenant each time: a tenant's validation is run once, then reused.
    let per_call = time_per(2000, || {
        runtime
            .validate_config(&plugin, &tenant("bench", &mock))
            .expect("the bench config is valid");
    });
    println!(
        "| fresh sandbox per call (instantiate + validate-config, new tenant) | {:.1} µs |",
        per_call.as_secs_f64() * 1e6
    );

    // Steady state: 50 users identified again and again (fields and ids cached).
    let identify = |i: usize| {
        json!({"type": "identify", "userId": format!("u{}", i % 50), "traits": {
            "name": format!("User {}", i % 50), "email": format!("u{}@example.com", i % 50),
            "plan": "pro", "loginCount": i}})
        .to_string()
    };
    for i in 0..50 {
        runtime
            .transform(&plugin, &bench_tenant, &identify(i))
            .result
            .ok();
    }
    let n = 2000;
    let started = Instant::now();
    for i in 0..n {
        let report = runtime.transform(&plugin, &bench_tenant, &identify(i));
        assert!(report.result.is_ok(), "{:?}", report.result);
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("| identify events/s, 1 thread (in-process mock) | {rate:.0} |");

    let threads = 2;
    let tenants: Vec<Tenant> = (0..threads)
        .map(|t| tenant(&format!("bench{t}"), &mock))
        .collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for tenant in &tenants {
            let (runtime, plugin) = (&runtime, &plugin);
            scope.spawn(move || {
                for i in 0..n {
                    runtime.transform(plugin, tenant, &identify(i)).result.ok();
                }
            });
        }
    });
    let rate = (n * threads) as f64 / started.elapsed().as_secs_f64();
    println!("| identify events/s, {threads} threads / {threads} tenants | {rate:.0} |");

    record_sync(&runtime, &plugin);
    record_batches(&runtime, &plugin);
    calls_per_event(&runtime, &plugin);
    delivery()?;
    Ok(())
}

/// Events per second through the delivery core: `run` against the in-process mock and the HTTP
/// mock, and 1, 2 and 4 workers (processes of the release binary) over NATS JetStream against
/// the HTTP mock.
fn delivery() -> anyhow::Result<()> {
    const EVENTS: usize = 10_000;
    let lines = |tenant: &str| -> Vec<String> {
        (0..EVENTS)
            .map(|i| {
                json!({"tenant": tenant, "event": {"type": "identify",
                    "userId": format!("u{}", i % 1000), "messageId": format!("{tenant}-{i}"),
                    "traits": {"name": format!("User {i}"), "email": format!("u{}@x.example", i % 1000)}}})
                .to_string()
            })
            .collect()
    };
    let tenants = |tenant: &str| {
        json!({"tenants": {tenant: {"subdomain": tenant, "email": "a@x.example", "apiToken": "t"}}})
            .to_string()
    };
    println!("\n| delivery ({EVENTS} identifies, 1,000 users) | events/s |\n|---|---|");
    for (name, http) in [("run, in-process mock", false), ("run, HTTP mock", true)] {
        let mock = MockZendesk::new();
        let server = mock_zendesk::server::serve(mock.clone(), ([127, 0, 0, 1], 0).into())?;
        let target = match http {
            true => Target::Loopback(
                format!("http://{}", server.addr())
                    .parse()
                    .map_err(anyhow::Error::msg)?,
            ),
            false => Target::Mock(mock.clone()),
        };
        let mut options = RunOptions::new(tenants("bench"), lines("bench").join("\n"), target);
        options.plugin = PluginSource::File(WASM.into());
        let summary = runner::run(options)?;
        assert_eq!(summary.delivered as usize, EVENTS);
        // From the first event on (compiling the plugin is paid once per process).
        let delivering = summary.elapsed_ms.saturating_sub(summary.startup_ms);
        let rate = EVENTS as f64 / (delivering.max(1) as f64 / 1e3);
        println!("| {name} | {rate:.0} |");
    }
    if !host_test::nats::installed() {
        println!("| workers | (nats-server not installed) |");
        return Ok(());
    }
    for workers in [1, 2, 4] {
        let rate = workers_rate(workers, &tenants("fleet"), &lines("fleet"))?;
        println!("| {workers} worker(s), HTTP mock, NATS JetStream | {rate:.0} |");
    }
    Ok(())
}

fn workers_rate(workers: usize, tenants: &str, lines: &[String]) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let tenants_path = dir.path().join("tenants.json");
    std::fs::write(&tenants_path, tenants)?;
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, lines.join("\n"))?;
    let server = mock_zendesk::server::serve(MockZendesk::new(), ([127, 0, 0, 1], 0).into())?;
    let run = host_test::bench::fleet::deliver(
        env!("CARGO_BIN_EXE_host-test").as_ref(),
        workers,
        WASM.as_ref(),
        &tenants_path,
        &events,
        lines.len() as u64,
        &server.origin(),
    )?;
    Ok(run.events as f64 / run.seconds)
}

/// A 10,000-record users sync in upsert mode: Zendesk calls per record, and records per second.
fn record_sync(runtime: &Runtime, plugin: &destination_host::Plugin) {
    let mock = MockZendesk::new();
    let config = json!({"subdomain": "rows", "email": "admin@example.com",
        "apiToken": "bench-token", "objectType": "users"});
    let transport = Arc::new(MockTransport::new(mock.clone()));
    let tenant =
        host_test::zendesk_tenant("rows", config.to_string(), Limits::default(), transport);
    let records = 10_000;
    let started = Instant::now();
    for i in 0..records {
        let row = json!({"type": "record", "action": "insert",
            "fields": {"name": format!("User {i}"), "email": format!("u{i}@example.com"),
                "plan": if i % 2 == 0 { "pro" } else { "free" }},
            "identifiers": {"external_id": format!("u-{i}")}});
        let report = runtime.transform(plugin, &tenant, &row.to_string());
        assert!(report.result.is_ok(), "{:?}", report.result);
    }
    let elapsed = started.elapsed();
    let calls = mock.requests_for("rows").len();
    println!(
        "| users sync, 10,000 records, upsert: Zendesk calls per record | {:.4} ({calls} calls) |",
        calls as f64 / f64::from(records)
    );
    println!(
        "| users sync records/s, 1 thread (in-process mock) | {:.0} |",
        f64::from(records) / elapsed.as_secs_f64()
    );
}

/// 10,000-row warehouse syncs in batches of 100 (`run --batch-size 100`): Zendesk calls per
/// record on the bulk endpoints, per object and mode.
fn record_batches(runtime: &Runtime, plugin: &destination_host::Plugin) {
    const ROWS: usize = 10_000;
    let user = |i: usize, action: &str| {
        json!({"type": "record", "action": action,
            "fields": {"name": format!("User {i}"), "email": format!("u{i}@example.com"),
                "plan": if i.is_multiple_of(2) { "pro" } else { "free" }},
            "identifiers": {"external_id": format!("u-{i}")}})
    };
    let seed_users = |mock: &MockZendesk| {
        mock.seed_user_field("rows", "plan", "text");
        for i in 0..ROWS {
            mock.seed_user(
                "rows",
                json!({"name": format!("Old {i}"), "email": format!("u{i}@example.com"),
                    "external_id": format!("u-{i}")}),
            );
        }
    };
    let bulk_import = |mock: &MockZendesk| {
        mock.set_bulk(
            "rows",
            mock_zendesk::BulkSettings {
                user_import: true,
                ..Default::default()
            },
        )
    };
    let ticket = |i: usize| {
        json!({"type": "record", "action": "insert",
            "fields": {"subject": format!("Ticket {i}"), "description": "It broke",
                "requester_email": format!("r{}@example.com", i % 100)},
            "identifiers": {"external_id": format!("t-{i}")}})
    };
    type Setup = Box<dyn Fn(&MockZendesk)>;
    type Rows = Box<dyn Fn(usize) -> serde_json::Value>;
    let cases: Vec<(&str, serde_json::Value, Setup, Rows)> = vec![
        (
            "users upsert, new users, bulk import on",
            json!({"objectType": "users"}),
            Box::new(bulk_import),
            Box::new(move |i| user(i, "insert")),
        ),
        (
            "users upsert, existing users, bulk import off",
            json!({"objectType": "users"}),
            Box::new(seed_users),
            Box::new(move |i| user(i, "update")),
        ),
        (
            "users delete (soft), existing users",
            json!({"objectType": "users", "allowDeletes": true}),
            Box::new(seed_users),
            Box::new(move |i| user(i, "delete")),
        ),
        (
            "organizations upsert, new",
            json!({"objectType": "organizations"}),
            Box::new(|_: &MockZendesk| {}),
            Box::new(|i| {
                json!({"type": "record", "action": "insert",
                    "fields": {"name": format!("Org {i}"), "tier": "gold"},
                    "identifiers": {"external_id": format!("o-{i}")}})
            }),
        ),
        (
            "tickets upsert, new (looked up one at a time)",
            json!({"objectType": "tickets"}),
            Box::new(|_: &MockZendesk| {}),
            Box::new(ticket),
        ),
        (
            "custom object records upsert",
            json!({"objectType": "custom_objects", "customObjectKey": "car"}),
            Box::new(|mock: &MockZendesk| {
                mock.seed_custom_object("rows", "car", "Car", &[("make", "text")])
            }),
            Box::new(|i| {
                json!({"type": "record", "action": "insert",
                    "fields": {"name": format!("Car {i}"), "make": "Kia"},
                    "identifiers": {"external_id": format!("c-{i}")}})
            }),
        ),
    ];
    for (name, sync, setup, row) in cases {
        let mock = MockZendesk::new();
        setup(&mock);
        mock.clear_requests();
        let mut config = json!({"subdomain": "rows", "email": "admin@example.com",
            "apiToken": "bench-token"});
        config
            .as_object_mut()
            .unwrap()
            .extend(sync.as_object().unwrap().clone());
        let transport = Arc::new(MockTransport::new(mock.clone()));
        let tenant =
            host_test::zendesk_tenant("rows", config.to_string(), Limits::default(), transport);
        let started = Instant::now();
        for first in (0..ROWS).step_by(100) {
            let batch: Vec<String> = (first..first + 100).map(|i| row(i).to_string()).collect();
            let report = runtime.transform_batch(plugin, &tenant, &batch);
            let results = report.result.expect("the batch runs");
            assert!(results.iter().all(Result::is_ok), "{name}: {results:?}");
        }
        let mut calls = mock.requests_for("rows").len();
        if name.starts_with("tickets") {
            // The same rows again: every ticket's id is remembered.
            println!(
                "| {name}, 10,000 records in batches of 100: Zendesk calls per record | {:.4} ({calls} calls) |",
                calls as f64 / ROWS as f64
            );
            mock.clear_requests();
            for first in (0..ROWS).step_by(100) {
                let batch: Vec<String> = (first..first + 100).map(|i| row(i).to_string()).collect();
                let report = runtime.transform_batch(plugin, &tenant, &batch);
                assert!(
                    report
                        .result
                        .expect("the batch runs")
                        .iter()
                        .all(Result::is_ok)
                );
            }
            calls = mock.requests_for("rows").len();
            println!(
                "| tickets upsert, the same 10,000 rows again: Zendesk calls per record | {:.4} ({calls} calls) |",
                calls as f64 / ROWS as f64
            );
            continue;
        }
        println!(
            "| {name}, 10,000 records in batches of 100: Zendesk calls per record | {:.4} ({calls} calls, {:.0} records/s) |",
            calls as f64 / ROWS as f64,
            ROWS as f64 / started.elapsed().as_secs_f64()
        );
    }
}

/// Zendesk calls made per event type, on a fresh account (cold) and once everything is cached.
fn calls_per_event(runtime: &Runtime, plugin: &destination_host::Plugin) {
    let mock = MockZendesk::new();
    let tenant = tenant("calls", &mock);
    let events = [
        (
            "identify",
            json!({"type": "identify", "userId": "u1", "traits": {
            "name": "Ann Lee", "email": "ann@example.com", "plan": "pro", "seats": 3}}),
        ),
        (
            "identify + company.id",
            json!({"type": "identify", "userId": "u1", "traits": {
            "name": "Ann Lee", "email": "ann@example.com", "company": {"id": "ORG"}}}),
        ),
        (
            "group",
            json!({"type": "group", "userId": "u1", "groupId": "g1", "traits": {
            "name": "Initech", "industry": "software"}}),
        ),
        (
            "track",
            json!({"type": "track", "userId": "u1", "event": "Order Completed",
            "properties": {"revenue": 12}}),
        ),
        (
            "track (context.zendesk_user_id)",
            json!({"type": "track", "event": "Viewed",
            "context": {"zendesk_user_id": "USER"}, "properties": {}}),
        ),
        (
            "Ticket Created",
            json!({"type": "track", "userId": "u1", "event": "Ticket Created",
            "properties": {"subject": "Help", "comment": "It broke"}}),
        ),
    ];
    println!("\n| event | Zendesk calls, cold | warm |\n|---|---|---|");
    let mut org_id = String::new();
    let mut user_id = String::new();
    for (name, event) in events {
        let mut counts = Vec::new();
        for _round in 0..2 {
            let event = event
                .to_string()
                .replace("\"ORG\"", &org_id)
                .replace("USER", &user_id);
            let before = mock.requests_for("calls").len();
            let report = runtime.transform(plugin, &tenant, &event);
            assert!(report.result.is_ok(), "{name}: {:?}", report.result);
            counts.push(mock.requests_for("calls").len() - before);
            if org_id.is_empty() {
                // An organization to join by Zendesk id in the next events.
                let org = json!({"name": "Globex", "external_id": "globex"});
                org_id = mock.seed_organization("calls", org).to_string();
            }
            let account = mock.account("calls");
            if let Some(user) = account.user_by_external_id("u1") {
                user_id = user.id.to_string();
            }
        }
        println!("| {name} | {} | {} |", counts[0], counts[1]);
    }
}

fn tenant(id: &str, mock: &MockZendesk) -> Tenant {
    let config = json!({"subdomain": id, "email": "admin@example.com", "apiToken": "bench-token"});
    let transport = Arc::new(MockTransport::new(mock.clone()));
    host_test::zendesk_tenant(id, config.to_string(), Limits::default(), transport)
}

fn time_per(iterations: u32, mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..iterations {
        f();
    }
    started.elapsed() / iterations
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}
