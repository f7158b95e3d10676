//! The multi-tenant runner as a library (`runner::run`) with the real plugin and the in-process
//! mock Zendesk: order per tenant, isolation between tenants, malformed input, invalid configs,
//! retries, hot swaps under --watch, the summary's accounting and the exit-code logic.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use destination_host::{Plugin, Runtime, RuntimeOptions};
use host_test::runner::{self, PluginSource, RetryPolicy, RunOptions, Summary, Target};
use mock_zendesk::MockZendesk;
use serde_json::{Value, json};

/// One compiled plugin for the whole test binary (compiling is the slow part).
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

fn config(subdomain: &str) -> Value {
    json!({"subdomain": subdomain, "email": format!("admin@{subdomain}.example"), "apiToken": format!("token-{subdomain}")})
}

fn tenants(ids: &[&str]) -> String {
    let tenants: serde_json::Map<String, Value> =
        ids.iter().map(|id| (id.to_string(), config(id))).collect();
    json!({ "tenants": tenants }).to_string()
}

fn line(tenant: &str, event: Value) -> String {
    json!({"tenant": tenant, "event": event}).to_string()
}

fn identify(user: &str, name: &str, extra: Value) -> Value {
    let mut traits = json!({"name": name, "email": format!("{user}@example.com")});
    if let (Some(traits), Some(extra)) = (traits.as_object_mut(), extra.as_object()) {
        traits.extend(extra.clone());
    }
    json!({"type": "identify", "userId": user, "traits": traits})
}

fn options(tenants_json: String, events: &[String], mock: &MockZendesk) -> RunOptions {
    let mut options = RunOptions::new(tenants_json, events.join("\n"), Target::Mock(mock.clone()));
    options.plugin = loaded();
    options.retry = RetryPolicy {
        retry_for: Duration::from_secs(2),
        base: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
    };
    options
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("output file exists")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

fn assert_adds_up(summary: &Summary) {
    assert_eq!(
        summary.delivered + summary.skipped + summary.dead_lettered,
        summary.lines
    );
}

#[test]
fn events_of_one_tenant_are_delivered_in_input_order() {
    let mock = MockZendesk::new();
    let mut events = Vec::new();
    // Ten updates of the same user per tenant, plus a track that needs the user to exist: any
    // reordering leaves another `step` than 9 or fails the track.
    for step in 0..10 {
        for tenant in ["a", "b", "c"] {
            events.push(line(tenant, identify("u1", "Ann", json!({ "step": step }))));
        }
    }
    for tenant in ["a", "b", "c"] {
        events.push(line(
            tenant,
            json!({"type": "track", "userId": "u1", "event": "Checked Out", "properties": {"n": 1}}),
        ));
    }
    let mut opts = options(tenants(&["a", "b", "c"]), &events, &mock);
    opts.concurrency = 3;
    let summary = runner::run(opts).unwrap();

    assert_eq!(summary.lines, 33);
    assert_eq!(summary.delivered, 33, "{summary:#?}");
    assert_adds_up(&summary);
    assert_eq!(summary.exit_code(), 0);
    for tenant in ["a", "b", "c"] {
        let account = mock.account(tenant);
        let user = account.user_by_external_id("u1").expect("user exists");
        assert_eq!(
            user.user_fields.get("step"),
            Some(&json!(9)),
            "tenant {tenant}"
        );
        assert_eq!(account.events.len(), 1);
        assert_eq!(summary.tenants[tenant].delivered, 11);
        // The identify's writes all precede the track's event POST.
        let paths: Vec<String> = mock
            .requests_for(tenant)
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        let first_event = paths.iter().position(|p| p.contains("/events")).unwrap();
        let last_upsert = paths
            .iter()
            .rposition(|p| p.contains("create_or_update"))
            .unwrap();
        assert!(last_upsert < first_event, "{paths:#?}");
    }
}

#[test]
fn tenants_are_isolated_from_each_other() {
    let mock = MockZendesk::new();
    let events = vec![
        line("a", identify("same-id", "Ann of A", json!({}))),
        line("b", identify("same-id", "Bob of B", json!({}))),
    ];
    let summary = runner::run(options(tenants(&["a", "b"]), &events, &mock)).unwrap();
    assert_eq!(summary.delivered, 2);
    let a = mock.account("a");
    let b = mock.account("b");
    assert_eq!(a.users.len(), 1);
    assert_eq!(b.users.len(), 1);
    assert_eq!(a.users[0].name, "Ann of A");
    assert_eq!(b.users[0].name, "Bob of B");
    assert_eq!(
        summary.tenants["a"].zendesk_calls,
        mock.requests_for("a").len() as u64
    );
    assert_eq!(
        summary.tenants["b"].zendesk_calls,
        mock.requests_for("b").len() as u64
    );
}

#[test]
fn malformed_lines_are_dead_lettered_with_their_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockZendesk::new();
    let events = vec![
        line("a", identify("u1", "Ann", json!({}))),
        "{this is not json".to_string(),
        json!({"event": {"type": "identify"}}).to_string(),
        json!({"tenant": "nobody", "event": {"type": "identify"}}).to_string(),
        json!({"tenant": "a"}).to_string(),
        String::new(),
        line("a", identify("u2", "Ben", json!({}))),
    ];
    let mut opts = options(tenants(&["a"]), &events, &mock);
    opts.dead_letter = Some(dir.path().join("dead.jsonl"));
    opts.summary_json = Some(dir.path().join("summary.json"));
    let summary = runner::run(opts).unwrap();

    assert_eq!(summary.lines, 6, "the blank line is not an input line");
    assert_eq!((summary.delivered, summary.dead_lettered), (2, 4));
    assert_adds_up(&summary);
    assert_eq!(summary.exit_code(), 1);

    let dead = read_jsonl(&dir.path().join("dead.jsonl"));
    let found: Vec<(u64, &str, &str)> = dead
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().unwrap(),
                d["error_class"].as_str().unwrap(),
                d["error"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(found.len(), 4);
    assert_eq!(found[0].0, 2);
    assert!(found[0].2.starts_with("not valid JSON"), "{found:?}");
    assert_eq!(found[1], (3, "malformed-input", "missing \"tenant\""));
    assert_eq!(
        found[2],
        (
            4,
            "malformed-input",
            "unknown tenant \"nobody\" (not in the tenants file)"
        )
    );
    assert_eq!(found[3], (5, "malformed-input", "missing \"event\""));
    assert_eq!(dead[0]["raw"], "{this is not json");
    assert_eq!(dead[2]["tenant"], "nobody");

    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(written["lines"], 6);
    assert_eq!(written["dead_lettered"], 4);
    assert_eq!(written["tenants"]["(no tenant)"]["dead_lettered"], 2);
    assert_eq!(written["tenants"]["nobody"]["dead_lettered"], 1);
}

#[test]
fn a_tenant_with_an_invalid_config_dead_letters_its_events_and_the_others_run() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockZendesk::new();
    let tenants_json = json!({"tenants": {
        "good": config("good"),
        "broken": {"subdomain": "broken"},
    }})
    .to_string();
    let events = vec![
        line("broken", identify("u1", "Ann", json!({}))),
        line("good", identify("u1", "Ann", json!({}))),
        line("broken", identify("u2", "Ben", json!({}))),
    ];
    let mut opts = options(tenants_json, &events, &mock);
    opts.dead_letter = Some(dir.path().join("dead.jsonl"));
    let summary = runner::run(opts).unwrap();

    assert_eq!((summary.delivered, summary.dead_lettered), (1, 2));
    assert_eq!(summary.tenants["broken"].dead_lettered, 2);
    assert!(mock.requests_for("broken").is_empty());
    assert_eq!(mock.account("good").users.len(), 1);
    let dead = read_jsonl(&dir.path().join("dead.jsonl"));
    // Written as each worker thread finishes: in any order under concurrency.
    let mut lines: Vec<u64> = dead.iter().map(|d| d["line"].as_u64().unwrap()).collect();
    lines.sort_unstable();
    assert_eq!(lines, vec![1, 3]);
    for letter in &dead {
        assert_eq!(letter["error_class"], "invalid-config");
        assert_eq!(letter["attempts"], 0);
        assert_eq!(letter["tenant"], "broken");
        assert!(
            letter["event"]["traits"].is_object(),
            "the event is kept for replay"
        );
    }
}

#[test]
fn skipped_events_count_as_handled_and_exit_zero() {
    let mock = MockZendesk::new();
    let mut config = config("a");
    config["events"] = json!(["Order Completed"]);
    let tenants_json = json!({"tenants": {"a": config}}).to_string();
    let events = vec![
        line("a", identify("u1", "Ann", json!({}))),
        line(
            "a",
            json!({"type": "track", "userId": "u1", "event": "Newsletter Opened"}),
        ),
        line("a", json!({"type": "page", "userId": "u1", "name": "Home"})),
        line(
            "a",
            json!({"type": "track", "userId": "u1", "event": "Order Completed"}),
        ),
    ];
    let summary = runner::run(options(tenants_json, &events, &mock)).unwrap();
    assert_eq!(
        (summary.delivered, summary.skipped, summary.dead_lettered),
        (2, 2, 0)
    );
    assert_eq!(summary.exit_code(), 0);
    assert_eq!(
        summary.skipped_reasons.len(),
        2,
        "{:?}",
        summary.skipped_reasons
    );
    assert!(summary.skipped_reasons.keys().any(|r| r.contains("page")));
    assert!(
        summary
            .skipped_reasons
            .keys()
            .any(|r| r.contains("Newsletter Opened"))
    );
    assert_eq!(mock.account("a").events.len(), 1);
}

#[test]
fn a_retry_after_longer_than_the_budget_is_never_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockZendesk::new();
    // No such user and nothing to create it from: the plugin answers "retryable" (the identify
    // may still be on its way), asking for 60 s. Within a 2 s budget the runner does not ask
    // again early: it dead-letters after the one attempt.
    let events = vec![line(
        "a",
        json!({"type": "track", "userId": "ghost", "event": "Paid"}),
    )];
    let mut opts = options(tenants(&["a"]), &events, &mock);
    opts.dead_letter = Some(dir.path().join("dead.jsonl"));
    opts.trace = Some(dir.path().join("trace.jsonl"));
    let started = std::time::Instant::now();
    let summary = runner::run(opts).unwrap();

    assert!(started.elapsed() < Duration::from_secs(2), "no waiting");
    assert_eq!((summary.dead_lettered, summary.retries), (1, 0));
    let dead = read_jsonl(&dir.path().join("dead.jsonl"));
    assert_eq!(dead[0]["error_class"], "retryable");
    assert_eq!(dead[0]["attempts"], 1);
    assert!(
        dead[0]["error"].as_str().unwrap().contains("ghost"),
        "{}",
        dead[0]
    );
    let trace = read_jsonl(&dir.path().join("trace.jsonl"));
    assert_eq!(trace.len() as u64, summary.zendesk_calls);
    assert_eq!(trace.len(), mock.requests_for("a").len());
    assert!(
        trace
            .iter()
            .all(|t| t["tenant"] == "a" && t["line"] == 1 && t["attempt"] == 1)
    );
}

#[test]
fn the_observer_sees_every_event_with_its_calls() {
    let mock = MockZendesk::new();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let events = vec![
        line("a", identify("u1", "Ann", json!({}))),
        line(
            "a",
            json!({"type": "alias", "userId": "u1", "previousId": "x"}),
        ),
    ];
    let mut opts = options(tenants(&["a"]), &events, &mock);
    let sink = Arc::clone(&seen);
    opts.on_event = Some(Arc::new(move |report| {
        sink.lock().unwrap().push(report.clone())
    }));
    runner::run(opts).unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].event_type, "identify");
    assert!(
        seen[0]
            .calls
            .iter()
            .any(|c| c.to_string() == "POST /api/v2/users/create_or_update -> 201"),
        "{:?}",
        seen[0].calls
    );
    let PluginSource::Loaded(_, plugin) = loaded() else {
        unreachable!("the tests' plugin is loaded once")
    };
    assert_eq!(seen[0].plugin_version.as_deref(), Some(plugin.version()));
    assert!(matches!(
        seen[1].disposition,
        runner::Disposition::Skipped { .. }
    ));
    assert!(seen[1].calls.is_empty());
}

/// `--watch`: a new plugin file is swapped in between two events of the same tenant; a broken
/// file is rejected and the serving version carries on. No event fails or is lost.
#[test]
fn watch_swaps_the_plugin_between_events_and_rejects_a_broken_file() {
    use std::sync::mpsc;

    let dir = tempfile::tempdir().unwrap();
    let plugin_path = dir.path().join("zendesk.wasm");
    std::fs::copy(env!("ZENDESK_WASM"), &plugin_path).unwrap();
    let v1 = std::fs::read(env!("ZENDESK_WASM")).unwrap();
    let v2 = std::fs::read(env!("ZENDESK_SWAP_WASM")).unwrap();
    // Writers replace the file atomically (temp file + rename), as documented.
    let install = move |bytes: &[u8]| {
        let temp = plugin_path.with_extension("tmp");
        std::fs::write(&temp, bytes).unwrap();
        std::fs::rename(&temp, &plugin_path).unwrap();
    };

    let mock = MockZendesk::new();
    let events: Vec<String> = (1..=12)
        .map(|n| {
            line(
                "a",
                identify(&format!("u{n}"), &format!("User {n}"), json!({})),
            )
        })
        .collect();
    let mut opts = options(tenants(&["a"]), &events, &mock);
    opts.plugin = PluginSource::File(dir.path().join("zendesk.wasm"));
    opts.watch = true;
    opts.concurrency = 1;

    let (swap_tx, swap_rx) = mpsc::channel::<String>();
    let swap_tx = std::sync::Mutex::new(swap_tx);
    opts.on_swap = Some(Arc::new(move |event| {
        let text = match event {
            destination_host::SwapEvent::Swapped(report) => {
                format!("swapped to {}", report.to_version)
            }
            destination_host::SwapEvent::Rejected { .. } => "rejected".to_string(),
        };
        let _ = swap_tx.lock().unwrap().send(text);
    }));
    let swap_rx = std::sync::Mutex::new(swap_rx);
    let served = Arc::new(std::sync::Mutex::new(Vec::new()));
    let served_by = Arc::clone(&served);
    let swaps = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen_swaps = Arc::clone(&swaps);
    opts.on_event = Some(Arc::new(move |report| {
        served_by
            .lock()
            .unwrap()
            .push(report.plugin_version.clone().unwrap_or_default());
        // Between events 4 and 5: install v2; between 8 and 9: a truncated file. The run waits
        // (in this observer) until the watcher has dealt with each file.
        let file = match report.line {
            4 => v2.clone(),
            8 => v1[..v1.len() / 2].to_vec(),
            _ => return,
        };
        install(&file);
        let event = swap_rx
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| {
                panic!("no swap event after the file of line {}: {e}", report.line)
            });
        seen_swaps.lock().unwrap().push(event);
    }));
    let summary = runner::run(opts).unwrap();

    assert_eq!(summary.delivered, 12, "{summary:#?}");
    let served = served.lock().unwrap();
    let v1_version = served[0].clone();
    let v2_version = format!("{v1_version}-swap");
    assert!(served[..4].iter().all(|v| *v == v1_version), "{served:?}");
    assert!(served[4..].iter().all(|v| *v == v2_version), "{served:?}");
    assert_eq!(
        *swaps.lock().unwrap(),
        vec![format!("swapped to {v2_version}"), "rejected".to_string()]
    );
    assert_eq!(mock.account("a").users.len(), 12);
}

/// Ctrl-C on `host-test run` drains: the calls in flight finish, every event read and not
/// delivered is a dead letter of class `interrupted` (to deliver again), the summary (text and
/// JSON) accounts for every line, and the exit status is the usual one (1: dead letters).
#[test]
fn ctrl_c_drains_and_writes_the_summary() {
    use std::process::{Command, Stdio};

    let mock = MockZendesk::with_faults("rate=1,kinds=slow,slow_ms=300".parse().unwrap());
    let server = mock_zendesk::server::serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..100)
        .map(|u| {
            json!({"tenant": "acme", "event": {"type": "identify", "userId": format!("u{u}"),
                "traits": {"name": format!("User {u}")}}})
            .to_string()
        })
        .collect();
    let (tenants, events) = acme_files(dir.path(), &lines);
    let (dead, summary) = (
        dir.path().join("dead.jsonl"),
        dir.path().join("summary.json"),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .args(["run", "--concurrency", "2", "--zendesk-origin"])
        .arg(format!("http://{}", server.addr()))
        .arg("--tenants")
        .arg(&tenants)
        .arg("--events")
        .arg(&events)
        .arg("--dead-letter")
        .arg(&dead)
        .arg("--summary-json")
        .arg(&summary)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once deliveries are under way (the child may take a while to start).
    let waited = std::time::Instant::now();
    while mock.account("acme").users.len() < 2 {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "no delivery started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The drain waits only for the two calls in flight (300 ms each), not for the 98 others.
    assert!(started.elapsed() < Duration::from_secs(15), "{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("interrupted: finishing the calls in flight"),
        "{stderr}"
    );

    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let delivered = summary["delivered"].as_u64().unwrap();
    let letters = std::fs::read_to_string(&dead).unwrap();
    let interrupted = letters
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .inspect(|letter| {
            assert_eq!(letter["error_class"], "interrupted");
            assert!(letter["event"]["userId"].is_string());
        })
        .count() as u64;
    assert!(
        delivered >= 2 && interrupted >= 50,
        "{delivered} {interrupted}"
    );
    assert_eq!(delivered + interrupted, 100);
    assert_eq!(summary["dead_lettered"].as_u64(), Some(interrupted));
    assert_eq!(mock.account("acme").users.len() as u64, delivered);
}

/// A run that waits says so: a track of a user Zendesk cannot find yet waits a minute for its
/// retry, and `run` (stderr not a terminal) names what it waits for within ten seconds.
#[test]
fn a_waiting_event_is_named_while_it_waits() {
    use std::process::{Command, Stdio};

    let mock = MockZendesk::new();
    let server = mock_zendesk::server::serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let track =
        json!({"tenant": "acme", "event": {"type": "track", "userId": "ghost", "event": "Opened"}});
    let (tenants, events) = acme_files(dir.path(), &[track.to_string()]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .args(["run", "--zendesk-origin"])
        .arg(format!("http://{}", server.addr()))
        .arg("--tenants")
        .arg(&tenants)
        .arg("--events")
        .arg(&events)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Lines as they come; the status line within ten seconds of the wait starting (the child
    // may take a while to start under load).
    let (lines, arrived) = std::sync::mpsc::channel::<String>();
    let stream = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stream)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    let mut stderr = String::new();
    let mut first_request = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !stderr.contains("wait for a retry") {
        assert!(
            std::time::Instant::now() < deadline,
            "no status line:\n{stderr}"
        );
        if first_request.is_none() && !mock.requests_for("acme").is_empty() {
            first_request = Some(std::time::Instant::now());
        }
        if let Ok(line) = arrived.recv_timeout(Duration::from_millis(100)) {
            stderr.push_str(&line);
            stderr.push('\n');
        }
    }
    let waited = first_request.expect("the track reached Zendesk").elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "named only after {waited:?}"
    );
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    stderr.extend(arrived.try_iter().map(|line| line + "\n"));
    assert!(
        stderr.contains("1 event(s) wait for a retry; next: line 1 (acme) in "),
        "{stderr}"
    );
    assert!(
        stderr.contains("ghost"),
        "the reason names the user: {stderr}"
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
}

/// `--log-format json`: every line on stderr is one JSON object, the plugin's logs, the dead
/// letters and the summary alike; in text, no colour codes when stderr is not a terminal.
#[test]
fn json_logs_are_one_object_per_line() {
    use std::process::Command;

    let dir = tempfile::tempdir().unwrap();
    let lines = [
        json!({"tenant": "acme", "event": {"type": "identify", "userId": "u1", "traits": {"name": "A"}}}).to_string(),
        "{not json".to_string(),
    ];
    let (tenants, events) = acme_files(dir.path(), &lines);
    let run = |format: &str| {
        Command::new(env!("CARGO_BIN_EXE_host-test"))
            // Nothing listens: the plugin logs the failed request (a warning with its tenant).
            .args([
                "run",
                "--zendesk-origin",
                "http://127.0.0.1:9",
                "--retry-for",
                "1s",
            ])
            .args(["--log-format", format, "--tenants"])
            .arg(&tenants)
            .arg("--events")
            .arg(&events)
            .env("HOST_TEST_LOG", "info")
            .output()
            .unwrap()
    };
    let output = run("json");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let objects: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(
        objects.iter().any(|o| o["level"] == "WARN"
            && o["message"]
                .as_str()
                .is_some_and(|m| m.contains("malformed-input"))),
        "{stderr}"
    );
    assert!(
        objects
            .iter()
            .any(|o| o["tenant"] == "acme" && o["source"].is_string()),
        "a plugin log with its tenant: {stderr}"
    );
    assert_eq!(objects.last().unwrap()["summary"]["dead_lettered"], 2);

    let text = String::from_utf8_lossy(&run("text").stderr).into_owned();
    assert!(!text.contains('\u{1b}'), "colour codes in a file: {text}");
    assert!(text.contains("WARN"), "{text}");
}

/// `--zendesk-origin https://…` in front of the plain-HTTP mock: named at start-up (a usage
/// error), instead of each request waiting out its timeout.
#[test]
fn an_https_origin_that_speaks_plain_http_is_named_at_once() {
    use std::process::Command;

    let mock = MockZendesk::new();
    let server = mock_zendesk::server::serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let identify = json!({"tenant": "acme", "event": {"type": "identify", "userId": "u1", "traits": {"name": "A"}}});
    let (tenants, events) = acme_files(dir.path(), &[identify.to_string()]);
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .args(["run", "--zendesk-origin"])
        .arg(format!("https://{}", server.addr()))
        .arg("--tenants")
        .arg(&tenants)
        .arg("--events")
        .arg(&events)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(started.elapsed() < Duration::from_secs(10), "{stderr}");
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let plain = format!("use --zendesk-origin http://{}", server.addr());
    assert!(
        stderr.contains("answers in plain HTTP, not TLS") && stderr.contains(&plain),
        "{stderr}"
    );
}

/// A tenants file with tenant `acme` (API token) and an events file of `lines`, in `dir`.
fn acme_files(dir: &Path, lines: &[String]) -> (std::path::PathBuf, std::path::PathBuf) {
    let tenants = dir.join("tenants.json");
    let config = json!({"subdomain": "acme", "email": "a@acme.example", "apiToken": "t"});
    std::fs::write(&tenants, json!({"tenants": {"acme": config}}).to_string()).unwrap();
    let events = dir.join("events.jsonl");
    std::fs::write(&events, lines.join("\n")).unwrap();
    (tenants, events)
}
