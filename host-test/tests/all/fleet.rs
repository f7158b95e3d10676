//! The fleet end to end: a real nats-server, the HTTP mock (with injected faults), and worker
//! processes of the built binary that are started, drained and killed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::common::fleet::{
    Worker, dead_letters, dead_letters_with, produce, start_nats, wait_until,
};
use host_test::runner::{self, PluginSource, RetryPolicy, RunOptions, Target};
use mock_zendesk::server::serve;
use mock_zendesk::{Faults, MockZendesk};
use serde_json::{Value, json};

pub(crate) fn config(subdomain: &str, token: &str) -> Value {
    json!({"subdomain": subdomain, "email": format!("admin@{subdomain}.example"), "apiToken": token})
}

pub(crate) fn identify(tenant: &str, user: usize, seq: usize) -> Value {
    json!({"tenant": tenant, "event": {"type": "identify", "userId": format!("u{user}"),
        "messageId": format!("{tenant}-u{user}-{seq}"),
        "traits": {"name": format!("User {user}"), "email": format!("u{user}@{tenant}.example"),
            "seq": seq}}})
}

fn write_lines(path: &Path, lines: &[Value]) {
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(path, text.join("\n") + "\n").unwrap();
}

/// Each user's successful upserts' `seq`, in the order Zendesk saw them.
pub(crate) fn sequences(mock: &MockZendesk, tenant: &str) -> BTreeMap<String, Vec<u64>> {
    let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for request in mock.requests_for(tenant) {
        if request.path != "/api/v2/users/create_or_update" || !(200..300).contains(&request.status)
        {
            continue;
        }
        let body = request.body.unwrap_or(Value::Null);
        let user = body["user"]["external_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Some(seq) = body["user"]["user_fields"]["seq"].as_u64() {
            seen.entry(user).or_default().push(seq);
        }
    }
    seen
}

/// Users as (external id, name, email, custom fields): what a delivery must leave.
fn users(mock: &MockZendesk, tenant: &str) -> Vec<Value> {
    let mut users: Vec<Value> = mock
        .account(tenant)
        .users
        .iter()
        .map(|u| json!([u.external_id, u.name, u.email, u.user_fields]))
        .collect();
    users.sort_by_key(Value::to_string);
    users
}

/// The sum of a counter over its labels, from the worker's `/metrics` (its address is in its log).
pub(crate) fn metric_sum(worker: &Worker, name: &str) -> f64 {
    let log = std::fs::read_to_string(&worker.log).unwrap_or_default();
    let Some(url) = log
        .lines()
        .find_map(|line| line.split("metrics on ").nth(1))
        .map(str::trim)
    else {
        panic!("the worker did not say where its metrics are:\n{log}");
    };
    let body = ureq::get(url)
        .call()
        .expect("metrics answer")
        .body_mut()
        .read_to_string()
        .expect("metrics text");
    body.lines()
        .filter(|line| line.starts_with(name))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn workers_deliver_in_order_survive_a_kill_and_dead_letter_only_the_bad_tenant() {
    let Some(nats) = start_nats() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let faults: Faults = "rate=0.3,seed=42,kinds=429|500|503|409,retry_after=1"
        .parse()
        .unwrap();
    let mock = MockZendesk::with_faults(faults);
    mock.require_credentials(
        "bad",
        &crate::common::basic_auth("admin@bad.example", "right-token"),
    );
    let server = serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let origin = format!("http://{}", server.addr());
    let good = ["t1", "t2", "t3"];
    let mut tenants = serde_json::Map::new();
    for tenant in good {
        tenants.insert(tenant.into(), config(tenant, &format!("token-{tenant}")));
    }
    tenants.insert("bad".into(), config("bad", "wrong-token"));
    let tenants_path = dir.path().join("tenants.json");
    std::fs::write(&tenants_path, json!({ "tenants": tenants }).to_string()).unwrap();

    // 1,200 identifies (3 tenants x 20 users x 20 steps, interleaved), 30 of the bad tenant.
    let mut lines = Vec::new();
    for seq in 0..20 {
        for user in 0..20 {
            for tenant in good {
                lines.push(identify(tenant, user, seq));
            }
        }
    }
    for seq in 0..30 {
        lines.push(identify("bad", seq % 3, seq));
    }
    let events = dir.path().join("events.jsonl");
    write_lines(&events, &lines);

    // Workers may start before the producer: whichever comes first creates the streams.
    let extra = ["--retry-for", "10m", "--metrics", "127.0.0.1:0"];
    let log = |n: usize| dir.path().join(format!("worker{n}.log"));
    let w1 = Worker::start(&nats.url, &tenants_path, &origin, &extra, log(1));
    let w2 = Worker::start(&nats.url, &tenants_path, &origin, &extra, log(2));
    let (status, stderr) = produce(&nats.url, &events);
    assert_eq!(status, 0, "{stderr}");
    assert!(stderr.contains("1230 published"), "{stderr}");
    let w3 = Worker::start(&nats.url, &tenants_path, &origin, &extra, log(3));

    // Kill one worker mid-stream (it holds unacknowledged messages), then add a fourth.
    let delivered = || {
        good.iter()
            .map(|t| sequences(&mock, t).values().map(Vec::len).sum::<usize>())
            .sum::<usize>()
    };
    wait_until(Duration::from_secs(60), "some deliveries", || {
        delivered() > 150
    });
    w2.kill();
    let w4 = Worker::start(&nats.url, &tenants_path, &origin, &extra, log(4));

    let all_delivered = || {
        good.iter().all(|tenant| {
            let seen = sequences(&mock, tenant);
            seen.len() == 20
                && seen
                    .values()
                    .all(|s| s.iter().collect::<BTreeSet<_>>().len() == 20)
        })
    };
    wait_until(
        Duration::from_secs(180),
        "every good event delivered",
        all_delivered,
    );
    let letters = || dead_letters(&nats.url, false);
    // Counted by event: a worker killed between storing a dead letter and acknowledging its
    // event stores it again on the redelivery (at least once).
    wait_until(
        Duration::from_secs(60),
        "the bad tenant's dead letters",
        || {
            let letters = letters();
            let events: BTreeSet<&str> = letters
                .iter()
                .filter_map(|l| l["event"]["messageId"].as_str())
                .collect();
            events.len() == 30
        },
    );
    // Some message really was redelivered: events that failed were NAKed with their delay and
    // came back (the workers' retry counters), besides what the killed worker held.
    let retries: f64 = [&w1, &w3, &w4]
        .iter()
        .map(|w| metric_sum(w, "cdp_retries_total"))
        .sum();
    assert!(retries > 0.0, "no redelivery seen");
    for worker in [w1, w3, w4] {
        assert_eq!(
            worker.terminate(Duration::from_secs(30)),
            0,
            "drained and exited 0"
        );
    }

    // No user's sequence goes backwards; nothing lost.
    for tenant in good {
        for (user, seqs) in sequences(&mock, tenant) {
            assert!(
                seqs.windows(2).all(|w| w[0] <= w[1]),
                "{tenant} {user}: {seqs:?}"
            );
            assert_eq!(
                seqs.iter().collect::<BTreeSet<_>>().len(),
                20,
                "{tenant} {user}"
            );
        }
    }
    // The only dead letters are the bad tenant's 401s, every one of its events.
    let letters = letters();
    let ids: BTreeSet<&str> = letters
        .iter()
        .map(|l| l["event"]["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 30);
    for letter in &letters {
        assert_eq!(letter["tenant"], "bad", "{letter}");
        assert_eq!(letter["error_class"], "rejected", "{letter}");
        assert!(letter["line"].as_u64().unwrap() > 1200, "{letter}");
    }
    // Each worker logs the dead letters it stored, one line each, naming tenant and reason.
    let logged: usize = (1..=4)
        .map(|n| std::fs::read_to_string(log(n)).unwrap_or_default())
        .map(|text| {
            text.lines()
                .filter(|l| {
                    l.contains("dead letter: tenant bad, identify") && l.contains("(rejected)")
                })
                .count()
        })
        .sum();
    assert!(
        logged >= 30,
        "{logged} dead-letter lines for 30 dead letters"
    );
    // About 30% of the requests were faulted, as asked.
    let requests = mock.requests();
    let faulted = requests.iter().filter(|r| r.fault.is_some()).count();
    let rate = faulted as f64 / requests.len() as f64;
    assert!(
        (0.2..0.4).contains(&rate),
        "{faulted} of {}",
        requests.len()
    );

    // The same final state as a fault-free single-process run.
    let clean = MockZendesk::new();
    clean.require_credentials(
        "bad",
        &crate::common::basic_auth("admin@bad.example", "right-token"),
    );
    let mut options = RunOptions::new(
        json!({ "tenants": tenants }).to_string(),
        std::fs::read_to_string(&events).unwrap(),
        Target::Mock(clean.clone()),
    );
    options.plugin = PluginSource::File(env!("ZENDESK_WASM").into());
    options.retry = RetryPolicy::never();
    let summary = runner::run(options).unwrap();
    assert_eq!((summary.delivered, summary.dead_lettered), (1200, 30));
    for tenant in good {
        assert_eq!(
            users(&mock, tenant),
            users(&clean, tenant),
            "tenant {tenant}"
        );
    }
    drop(server);
}

#[test]
fn produce_deduplicates_dead_letters_malformed_lines_and_replays() {
    let Some(nats) = start_nats() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mock = MockZendesk::new();
    let server = serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let origin = format!("http://{}", server.addr());
    let tenants_path = dir.path().join("tenants.json");
    std::fs::write(
        &tenants_path,
        json!({"tenants": {"t1": config("t1", "token-1")}}).to_string(),
    )
    .unwrap();
    let events = dir.path().join("events.jsonl");
    let mut lines: Vec<String> = (0..10)
        .map(|seq| identify("t1", 1, seq).to_string())
        .collect();
    lines.push("{not json".into());
    lines.push(json!({"tenant": "nobody", "event": {"type": "identify"}}).to_string());
    std::fs::write(&events, lines.join("\n")).unwrap();

    let (status, stderr) = produce(&nats.url, &events);
    assert_eq!(
        status, 1,
        "a dead-lettered line makes the exit status non-zero: {stderr}"
    );
    assert!(
        stderr.contains("11 published") && stderr.contains("1 dead-lettered"),
        "{stderr}"
    );
    let (_, stderr) = produce(&nats.url, &events);
    assert!(
        stderr.contains("0 published, 11 already in the stream"),
        "{stderr}"
    );

    // The worker serves a copy of the plugin that it watches.
    let plugin = dir.path().join("zendesk.wasm");
    std::fs::copy(env!("ZENDESK_WASM"), &plugin).unwrap();
    let plugin_arg = plugin.to_str().unwrap().to_string();
    let log = dir.path().join("w.log");
    let worker = Worker::start(
        &nats.url,
        &tenants_path,
        &origin,
        &["--plugin", &plugin_arg, "--watch"],
        log.clone(),
    );
    wait_until(
        Duration::from_secs(60),
        "delivery and the unknown tenant's letter",
        || {
            sequences(&mock, "t1")
                .get("u1")
                .is_some_and(|s| s.len() == 10)
                && dead_letters(&nats.url, false).len() == 2
        },
    );
    // Hot swap: a new version written atomically (temp file + rename) serves the next events.
    let staged = dir.path().join("zendesk.wasm.tmp");
    std::fs::copy(env!("ZENDESK_SWAP_WASM"), &staged).unwrap();
    std::fs::rename(&staged, &plugin).unwrap();
    wait_until(Duration::from_secs(30), "the swap", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("plugin swapped")
    });
    let after = dir.path().join("after.jsonl");
    write_lines(&after, &[identify("t1", 2, 0)]);
    assert_eq!(produce(&nats.url, &after).0, 0);
    wait_until(Duration::from_secs(30), "an event after the swap", || {
        sequences(&mock, "t1").contains_key("u2")
    });
    assert_eq!(worker.terminate(Duration::from_secs(30)), 0);
    assert_eq!(sequences(&mock, "t1")["u1"], (0..10).collect::<Vec<u64>>());

    // Non-destructive and repeatable, in `run --dead-letter`'s line format (with `seq` and
    // `state`).
    let letters = dead_letters(&nats.url, false);
    assert_eq!(letters, dead_letters(&nats.url, false));
    assert_eq!(letters[0]["error_class"], "malformed-input");
    assert_eq!(letters[0]["raw"], "{not json");
    assert_eq!(letters[0]["line"], 11);
    assert_eq!(letters[1]["tenant"], "nobody");
    assert!(
        letters[1]["error"]
            .as_str()
            .unwrap()
            .contains("unknown tenant")
    );
    for key in ["line", "tenant", "error_class", "error", "attempts"] {
        assert!(letters[1].get(key).is_some(), "{key}: {}", letters[1]);
    }
    // Filters select; every letter has its sequence and state.
    let list = |args: &[&str]| dead_letters_with(&nats.url, args);
    assert_eq!(list(&["--tenant", "nobody"]).0, vec![letters[1].clone()]);
    // (An unknown tenant's event is malformed input too.)
    assert_eq!(list(&["--class", "malformed-input"]).0, letters);
    assert_eq!(list(&["--since", "1h"]).0.len(), 2);
    assert_eq!(list(&["--class", "auth"]).0.len(), 0);
    assert_eq!(letters[1]["state"], "open");
    let nobody = letters[1]["seq"].to_string();
    let malformed = letters[0]["seq"].to_string();

    // A selection replayed twice is published once.
    let (replayed, report) = list(&["--seq", &nobody, "--replay"]);
    assert_eq!(replayed.len(), 1);
    assert!(
        report.contains("1 events published again, 0 already replayed"),
        "{report}"
    );
    let (_, report) = list(&["--seq", &nobody, "--all", "--replay"]);
    assert!(
        report.contains("0 events published again, 1 already replayed"),
        "{report}"
    );
    // Open letters no longer list it; --all shows it replayed.
    assert_eq!(list(&[]).0, vec![letters[0].clone()]);
    let everything = list(&["--all"]).0;
    assert_eq!(everything[1]["state"], "replayed");

    // Resolve, then purge.
    let (_, report) = list(&["--seq", &malformed, "--resolve"]);
    assert!(report.contains("1 marked resolved"), "{report}");
    assert!(list(&[]).0.is_empty());
    assert_eq!(
        list(&["--all", "--class", "malformed-input"]).0[0]["state"],
        "resolved"
    );
    let (_, report) = list(&["--all", "--seq", &malformed, "--purge"]);
    assert!(report.contains("1 purged"), "{report}");
    assert_eq!(list(&["--all"]).0.len(), 1);
    drop(server);
}

#[test]
fn a_waiting_user_holds_back_only_its_own_events_in_the_worker_and_in_run() {
    let Some(nats) = start_nats() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // 2,000 events of one tenant; in the second stream, 20 of them are tracks of users Zendesk
    // has never seen, without an email: each waits 60 s (Retry-After) then is dead-lettered.
    let stream = |missing: bool| -> Vec<Value> {
        let mut lines = Vec::new();
        for i in 0..1980 {
            lines.push(identify("t1", i % 200, i / 200));
        }
        if missing {
            for ghost in 0..20 {
                let track = json!({"tenant": "t1", "event": {"type": "track",
                    "userId": format!("ghost-{ghost}"), "event": "Paid",
                    "messageId": format!("ghost-{ghost}")}});
                lines.insert(ghost * 99, track);
            }
        } else {
            for i in 0..20 {
                lines.push(identify("t1", 200 + i, 0));
            }
        }
        lines
    };
    let tenants = json!({"tenants": {"t1": config("t1", "token-1")}});

    // run: the clean stream, then the one with the 20.
    let run = |lines: &[Value]| {
        let mock = MockZendesk::new();
        let text: Vec<String> = lines.iter().map(Value::to_string).collect();
        let mut options = RunOptions::new(tenants.to_string(), text.join("\n"), Target::Mock(mock));
        options.plugin = PluginSource::File(env!("ZENDESK_WASM").into());
        options.retry.retry_for = Duration::from_secs(70);
        let ghosts = lines.iter().any(|l| l["event"]["type"] == "track");
        if ghosts {
            options.dead_letter = Some(dir.path().join("run-dead.jsonl"));
        }
        runner::run(options).unwrap()
    };
    let worker_run = {
        let nats_url = nats.url.clone();
        let dir = dir.path().to_path_buf();
        let lines = stream(true);
        std::thread::spawn(move || worker_timing(&nats_url, &dir, &lines))
    };
    // Side by side, so both see the same load on the machine.
    let clean_stream = stream(false);
    let (clean, blocked) = std::thread::scope(|scope| {
        let clean = scope.spawn(|| run(&clean_stream));
        let blocked = run(&stream(true));
        (clean.join().unwrap(), blocked)
    });
    assert_eq!(clean.delivered, 2000);
    assert_eq!((blocked.delivered, blocked.dead_lettered), (1980, 20));
    let clean_ms = clean.last_success_ms.unwrap() as f64;
    let blocked_ms = blocked.last_success_ms.unwrap() as f64;
    println!("run: clean {clean_ms} ms, with 20 waiting users {blocked_ms} ms");
    assert!(blocked_ms <= 1.5 * clean_ms, "{blocked_ms} vs {clean_ms}");
    let letters = std::fs::read_to_string(dir.path().join("run-dead.jsonl")).unwrap();
    assert_eq!(letters.lines().count(), 20);
    assert!(
        letters.contains("no Zendesk user with external_id \\\"ghost-7\\\""),
        "{letters}"
    );

    let (clean_worker, blocked_worker) = worker_run.join().unwrap();
    println!("worker: clean {clean_worker:?}, with 20 waiting users {blocked_worker:?}");
    // Without per-key parking the 20 would hold their partitions for their 60 s waits (20
    // times the clean stream's 3 s); the bound leaves room for the other tests sharing the
    // binary's two cores, and for the worker's 64 calls in flight competing for them.
    assert!(
        blocked_worker.as_secs_f64() <= 3.0 * clean_worker.as_secs_f64(),
        "{blocked_worker:?} vs {clean_worker:?}"
    );
}

/// The worker's time to deliver everything but the 20, with and without them (own mocks, one
/// nats-server, streams apart by tenant subdomain); then the 20 end dead-lettered.
fn worker_timing(nats: &str, dir: &Path, with_ghosts: &[Value]) -> (Duration, Duration) {
    let clean_lines: Vec<Value> = with_ghosts
        .iter()
        .filter(|l| l["event"]["type"] == "identify")
        .map(|l| {
            let mut l = l.clone();
            l["tenant"] = "clean".into();
            l
        })
        .collect();
    let tenants =
        json!({"tenants": {"t1": config("t1", "token-1"), "clean": config("clean", "token-c")}});
    let tenants_path = dir.join("hol-tenants.json");
    std::fs::write(&tenants_path, tenants.to_string()).unwrap();
    let mock = MockZendesk::new();
    let server = serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let origin = format!("http://{}", server.addr());
    let worker = Worker::start(
        nats,
        &tenants_path,
        &origin,
        &["--retry-for", "70s"],
        dir.join("hol-worker.log"),
    );
    let upserts = |tenant: &str| {
        mock.requests_for(tenant)
            .iter()
            .filter(|r| r.path == "/api/v2/users/create_or_update" && r.status < 300)
            .count()
    };
    // Both streams at once (one worker, the same load); each tenant's time to its 1,980th
    // upsert.
    for (name, lines) in [("hol-clean", &clean_lines[..]), ("hol-ghosts", with_ghosts)] {
        let path = dir.join(format!("{name}.jsonl"));
        write_lines(&path, lines);
        let (status, stderr) = produce(nats, &path);
        assert!(status == 0, "{stderr}");
    }
    let started = std::time::Instant::now();
    let (mut clean, mut blocked) = (None, None);
    wait_until(Duration::from_secs(120), "both streams", || {
        if clean.is_none() && upserts("clean") >= 1980 {
            clean = Some(started.elapsed());
        }
        if blocked.is_none() && upserts("t1") >= 1980 {
            blocked = Some(started.elapsed());
        }
        clean.is_some() && blocked.is_some()
    });
    let (clean, blocked) = (clean.unwrap(), blocked.unwrap());
    wait_until(Duration::from_secs(120), "the 20 dead letters", || {
        dead_letters(nats, false).len() == 20
    });
    let letters = dead_letters(nats, false);
    assert!(
        letters
            .iter()
            .all(|l| l["error"].as_str().unwrap().contains("ghost-"))
    );
    assert_eq!(worker.terminate(Duration::from_secs(30)), 0);
    drop(server);
    (clean, blocked)
}

/// An unreachable NATS is named within seconds, with the connection's own error, not a
/// JetStream timeout a minute later.
#[test]
fn an_unreachable_nats_fails_within_ten_seconds_naming_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let (status, stderr) = produce(&url, &events);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot connect to NATS at {url}")),
        "{stderr}"
    );
}

/// A worker for tenant `t1` (routed to `origin`), once it has started.
fn one_tenant_worker(nats: &str, dir: &Path, origin: &str, extra: &[&str]) -> Worker {
    let tenants = dir.join("tenants.json");
    let config = json!({"tenants": {"t1": config("t1", "token-1")}});
    std::fs::write(&tenants, config.to_string()).unwrap();
    let worker = Worker::start(nats, &tenants, origin, extra, dir.join("worker.log"));
    wait_until(Duration::from_secs(30), "the worker to start", || {
        std::fs::read_to_string(&worker.log).is_ok_and(|log| log.contains("started"))
    });
    worker
}

/// A quiet partition delivers an event as soon as it arrives: a pull does not wait to fill (it
/// used to wait out its 500 ms, whatever the load).
#[test]
fn a_quiet_worker_delivers_an_event_without_waiting_for_a_pull_to_fill() {
    let Some(nats) = start_nats() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mock = MockZendesk::new();
    let server = serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let origin = format!("http://{}", server.addr());
    let _worker = one_tenant_worker(&nats.url, dir.path(), &origin, &[]);
    let mut waits = Vec::new();
    for user in 0..10 {
        let events = dir.path().join(format!("event-{user}.jsonl"));
        write_lines(&events, &[identify("t1", user, 0)]);
        let (status, stderr) = produce(&nats.url, &events);
        assert_eq!(status, 0, "{stderr}");
        waits.push(wait_until(Duration::from_secs(10), "the user", || {
            mock.account("t1").users.len() == user + 1
        }));
    }
    // Each one alone in its partition: a pull that waits to fill ends 0 to 500 ms after the
    // event arrives (its 500 ms started earlier), 250 ms on average; now it is the delivery.
    let mean = waits.iter().sum::<Duration>() / 10;
    println!("a quiet worker: {mean:?} on average: {waits:?}");
    assert!(mean < Duration::from_millis(200), "{mean:?}: {waits:?}");
}

/// A worker whose NATS went away still stops on SIGTERM: its drain (acknowledging, handing the
/// partitions back) cannot finish, so it exits at `--drain-timeout` with status 1, saying why.
#[test]
fn a_worker_whose_nats_is_gone_exits_at_its_drain_timeout() {
    let Some(nats) = start_nats() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let origin = "http://127.0.0.1:9";
    let worker = one_tenant_worker(&nats.url, dir.path(), origin, &["--drain-timeout", "3s"]);
    let log = worker.log.clone();
    drop(nats);
    std::thread::sleep(Duration::from_millis(500));
    let status = worker.terminate(Duration::from_secs(20));
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status, 1, "{log}");
    assert!(log.contains("could not drain within 3s"), "{log}");
}

/// The shared tenant cache: each worker reads a local copy kept current by a watch. A writer
/// reads its own write at once; another worker (started before or after) sees it within a
/// moment; removals travel the same way; entries stay scoped by tenant and expire.
#[test]
fn workers_read_the_shared_cache_from_a_copy_kept_by_a_watch() {
    use destination_fleet::Fleet;
    use destination_fleet::kv_cache::{KvCache, KvMirror};
    use destination_host::CacheStore;
    let Some(nats) = start_nats() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let fleet = Fleet::connect(&nats.url).await.expect("connected");
        let first = KvMirror::start(fleet.cache.clone()).await.unwrap();
        let before = KvMirror::start(fleet.cache.clone()).await.unwrap();
        let writer = KvCache::new(first.clone(), "acme");
        writer.set("fields:user", r#"["plan"]"#, Duration::from_secs(60));
        assert_eq!(writer.get("fields:user").as_deref(), Some(r#"["plan"]"#));

        let reader = KvCache::new(before.clone(), "acme");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while reader.get("fields:user").is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "the watch delivers the write"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A worker started later loads what is there.
        let after = KvMirror::start(fleet.cache.clone()).await.unwrap();
        let late = KvCache::new(after, "acme");
        assert_eq!(late.get("fields:user").as_deref(), Some(r#"["plan"]"#));
        assert_eq!(KvCache::new(before, "globex").get("fields:user"), None);

        reader.remove("fields:user");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while writer.get("fields:user").is_some() || late.get("fields:user").is_some() {
            assert!(std::time::Instant::now() < deadline, "the removal travels");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        writer.set("short", "x", Duration::from_millis(1));
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(writer.get("short"), None, "expired");
    });
}
