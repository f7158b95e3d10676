//! Sandbox contract, in obeyed/violated pairs, against the real adversary component. Every
//! violation runs while other tenants' events go through the real Zendesk plugin, which must not
//! notice.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use destination_host::{
    CallError, CallReport, GuestError, HttpTransport, Limits, Plugin, Runtime, RuntimeOptions,
    Tenant, Transport, TrapKind,
};
use host_test::transports::{LoopbackOrigin, MockTransport, RoutingTransport};
use mock_zendesk::MockZendesk;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(RuntimeOptions::default()).expect("runtime"))
}

fn adversary() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let path = std::path::Path::new(env!("ADVERSARY_WASM"));
        runtime().load_plugin_file(path).expect("adversary loads")
    })
}

fn zendesk() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let path = std::path::Path::new(env!("ZENDESK_WASM"));
        runtime().load_plugin_file(path).expect("zendesk loads")
    })
}

/// An adversary tenant whose policy allows `https://adv.zendesk.com` only.
fn adversary_tenant(
    limits: Limits,
    transport: Arc<dyn Transport>,
    origin: Option<LoopbackOrigin>,
) -> Tenant {
    let transport: Arc<dyn Transport> = match origin {
        Some(origin) => Arc::new(RoutingTransport::new(transport, origin)),
        None => transport,
    };
    host_test::zendesk_tenant("adv-tenant", r#"{"subdomain":"adv"}"#, limits, transport)
}

fn mock_transport() -> (MockZendesk, Arc<dyn Transport>) {
    let mock = MockZendesk::new();
    (mock.clone(), Arc::new(MockTransport::new(mock)))
}

fn run(tenant: &Tenant, event: &str) -> CallReport {
    runtime().transform(adversary(), tenant, event)
}

fn trap_kind(report: &CallReport) -> Option<TrapKind> {
    match &report.result {
        Err(CallError::Trap { kind, .. }) => Some(*kind),
        _ => None,
    }
}

/// Runs `violation` while three other tenants send identifies through the Zendesk plugin, then
/// checks that every one of them was delivered and created its users.
fn while_other_tenants_run<R>(violation: impl FnOnce() -> R) -> R {
    let (mock, transport) = mock_transport();
    let tenants: Vec<Tenant> = (0..3)
        .map(|i| {
            let config = format!(
                r#"{{"subdomain":"good{i}","email":"admin@example.com","apiToken":"t0k"}}"#
            );
            host_test::zendesk_tenant(
                format!("good-{i}"),
                config,
                Limits::default(),
                transport.clone(),
            )
        })
        .collect();
    let events = [
        r#"{"type":"identify","userId":"u1","traits":{"name":"Ann","email":"ann@example.com"}}"#,
        r#"{"type":"identify","userId":"u2","traits":{"name":"Bob","email":"bob@example.com"}}"#,
    ];
    let plugin = zendesk();
    let result = std::thread::scope(|scope| {
        let others: Vec<_> = tenants
            .iter()
            .map(|tenant| {
                scope.spawn(move || {
                    events
                        .iter()
                        .map(|event| runtime().transform(plugin, tenant, event))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let result = violation();
        for other in others {
            for report in other.join().expect("bystander thread") {
                assert!(
                    report.result.is_ok(),
                    "tenant {} was affected: {:?}",
                    report.tenant,
                    report.result
                );
            }
        }
        result
    });
    for i in 0..3 {
        let account = mock.account(&format!("good{i}"));
        let ann = account
            .user_by_email("ann@example.com")
            .expect("ann created");
        assert_eq!(ann.name, "Ann");
        assert!(
            account.user_by_email("bob@example.com").is_some(),
            "bob created"
        );
    }
    result
}

/// An "ok" call under `limits` succeeds; an endless loop is stopped by the `expected` budget
/// within a few seconds (the budget is a fraction of a second; the margin absorbs a loaded
/// 2-core machine) while other tenants keep working. Returns the loop's error.
fn endless_loop_is_stopped(limits: Limits, expected: TrapKind) -> CallError {
    let (_, transport) = mock_transport();
    let tenant = adversary_tenant(limits, transport, None);

    let ok = run(&tenant, r#"{"type":"ok"}"#);
    assert!(ok.result.is_ok(), "{:?}", ok.result);

    let started = Instant::now();
    let looped = while_other_tenants_run(|| run(&tenant, r#"{"type":"loop"}"#));
    assert_eq!(trap_kind(&looped), Some(expected), "{:?}", looped.result);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    looped.result.expect_err("trapped")
}

#[test]
fn cpu_budget_obeyed_and_violated() {
    let limits = Limits {
        cpu_ms: 200,
        ..Limits::default()
    };
    let error = endless_loop_is_stopped(limits, TrapKind::CpuBudget);
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("200 ms"), "{error}");
}

#[test]
fn wall_clock_budget_obeyed_and_violated() {
    let limits = Limits {
        cpu_ms: 10_000,
        wall_ms: 250,
        ..Limits::default()
    };
    let error = endless_loop_is_stopped(limits, TrapKind::WallClock);
    assert!(
        error.is_retryable(),
        "a wall-clock overrun may succeed later"
    );
    assert!(error.to_string().contains("250 ms"), "{error}");
}

#[test]
fn a_guest_sleeping_in_wasi_is_stopped_at_its_wall_budget() {
    let (_, transport) = mock_transport();
    let limits = Limits {
        wall_ms: 300,
        ..Limits::default()
    };
    let tenant = adversary_tenant(limits, transport, None);
    let short = run(&tenant, r#"{"type":"sleep","seconds":0}"#);
    assert!(short.result.is_ok(), "{:?}", short.result);
    let started = Instant::now();
    let slept = while_other_tenants_run(|| run(&tenant, r#"{"type":"sleep","seconds":3600}"#));
    assert_eq!(
        trap_kind(&slept),
        Some(TrapKind::WallClock),
        "{:?}",
        slept.result
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn memory_limit_obeyed_and_violated() {
    let (_, transport) = mock_transport();
    let tenant = adversary_tenant(Limits::default(), transport, None);

    let small = run(&tenant, r#"{"type":"alloc","mib":16}"#);
    let outcome = small.result.expect("16 MiB fits in 64 MiB");
    assert_eq!(outcome.skipped.as_deref(), Some("allocated 16 MiB"));

    let hog = while_other_tenants_run(|| run(&tenant, r#"{"type":"alloc","mib":512}"#));
    assert_eq!(trap_kind(&hog), Some(TrapKind::Memory), "{:?}", hog.result);
    let error = hog.result.expect_err("trapped");
    assert!(error.to_string().contains("64 MiB"), "{error}");
    assert_eq!(error.class(), "trap-memory");
}

#[test]
fn outbound_policy_allows_the_own_subdomain_only() {
    let (mock, transport) = mock_transport();
    let tenant = adversary_tenant(Limits::default(), transport, None);

    let own = run(
        &tenant,
        r#"{"type":"fetch","url":"https://adv.zendesk.com/api/v2/users/1"}"#,
    );
    let outcome = own.result.expect("own subdomain is reachable");
    assert_eq!(outcome.operations.len(), 1);
    assert_eq!(
        outcome.operations[0].status, 404,
        "user 1 does not exist in the mock"
    );
    assert_eq!(mock.requests_for("adv").len(), 1);
    assert_eq!(own.fetches.len(), 1);
    assert_eq!(
        own.fetches[0].sent_to.as_deref(),
        Some("https://adv.zendesk.com/api/v2/users/1")
    );

    for (url, origin) in [
        ("https://evil.example.com/steal", "https://evil.example.com"),
        (
            "https://good0.zendesk.com/api/v2/users.json",
            "https://good0.zendesk.com",
        ),
    ] {
        let event = format!(r#"{{"type":"fetch","url":"{url}"}}"#);
        let denied = while_other_tenants_run(|| run(&tenant, &event));
        let Err(CallError::Guest(GuestError::Rejected { status, message })) = &denied.result else {
            panic!("{url} was not denied: {:?}", denied.result);
        };
        assert_eq!(*status, 0);
        assert_eq!(
            message,
            &format!(
                "denied: {origin} is not allowed for tenant adv-tenant: only \
                 https://adv.zendesk.com (rule: allowed origins)"
            )
        );
        let host_log = denied
            .logs
            .iter()
            .find(|record| record.source == "host" && record.level == "warn")
            .expect("a host log record for the denial");
        assert!(
            host_log.message.contains("rule: allowed origins"),
            "{}",
            host_log.message
        );
        assert!(
            host_log
                .fields
                .contains(&("rule".into(), "allowed origins".into()))
        );
        let record = &denied.fetches[0];
        assert_eq!(record.sent_to, None, "a denied request is never sent");
        assert!(
            record
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("denied: "))
        );
    }
    // Nothing but the one allowed request reached the mock (the bystanders use their own).
    assert_eq!(mock.requests_for("adv").len(), 1);
    assert!(mock.requests_for("good0").is_empty());
}

#[test]
fn credentials_never_appear_in_fetch_records() {
    let (_, transport) = mock_transport();
    let tenant = adversary_tenant(Limits::default(), transport, None);
    for url in [
        "https://adv.zendesk.com/api/v2/users/1",
        "https://evil.example.com/",
    ] {
        let report = run(&tenant, &format!(r#"{{"type":"fetch","url":"{url}"}}"#));
        let header = &report.fetches[0].headers[0];
        assert_eq!(
            header,
            &("Authorization".to_string(), "[redacted]".to_string())
        );
        let everything = serde_json::to_string(&report).expect("report serialises");
        assert!(!everything.contains("adversary-secret"), "{everything}");
    }
}

/// A loopback HTTP server standing in for account `adv`: `/slow` answers after 2 s,
/// `/bytes/N` answers N bytes at once. A request without `X-Zendesk-Subdomain: adv` (which the
/// origin override must add) gets 400.
fn test_server() -> LoopbackOrigin {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve_one(stream));
        }
    });
    format!("http://127.0.0.1:{port}")
        .parse()
        .expect("loopback origin")
}

fn serve_one(stream: TcpStream) {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut subdomain = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.trim().is_empty() => break,
            Ok(_) => {
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("x-zendesk-subdomain")
                {
                    subdomain = value.trim().to_string();
                }
            }
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let status = if subdomain == "adv" {
        "200 OK"
    } else {
        "400 Bad Request"
    };
    let body = if path == "/slow" {
        std::thread::sleep(Duration::from_secs(2));
        b"late".to_vec()
    } else if let Some(size) = path.strip_prefix("/bytes/") {
        vec![b'x'; size.parse().unwrap_or(0)]
    } else {
        b"ok".to_vec()
    };
    let mut stream = &stream;
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

fn fetch_event(path: &str) -> String {
    format!(r#"{{"type":"fetch","url":"https://adv.zendesk.com{path}"}}"#)
}

#[test]
fn slow_server_times_out_at_the_request_timeout_and_at_the_wall_budget() {
    let origin = test_server();
    let transport: Arc<dyn Transport> = Arc::new(HttpTransport::new());
    let limits = Limits {
        request_timeout_ms: 300,
        ..Limits::default()
    };
    let tenant = adversary_tenant(limits, transport.clone(), Some(origin.clone()));

    let fast = run(&tenant, &fetch_event("/fast"));
    // 200: the override sent it to the local server with the account header.
    assert_eq!(fast.result.expect("fast answer").operations[0].status, 200);
    let sent_to = fast.fetches[0].sent_to.as_deref().expect("sent");
    assert_eq!(sent_to, format!("{origin}/fast"));

    let started = Instant::now();
    let slow = while_other_tenants_run(|| run(&tenant, &fetch_event("/slow")));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    let Err(CallError::Guest(GuestError::Retryable { message, .. })) = &slow.result else {
        panic!("expected a timeout: {:?}", slow.result);
    };
    assert_eq!(message, "timeout");
    assert_eq!(slow.fetches[0].error.as_deref(), Some("timeout"));

    // A generous request timeout is still cut to what is left of the call's wall budget.
    let short_call = Limits {
        wall_ms: 300,
        ..Limits::default()
    };
    let tenant = adversary_tenant(short_call, transport, Some(origin));
    let started = Instant::now();
    let slow = run(&tenant, &fetch_event("/slow"));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(slow.result.is_err_and(|e| e.is_retryable()));
}

#[test]
fn response_size_cap_obeyed_and_violated() {
    let origin = test_server();
    let limits = Limits {
        max_response_kib: 1024,
        ..Limits::default()
    };
    let tenant = adversary_tenant(limits, Arc::new(HttpTransport::new()), Some(origin));

    let fits = run(&tenant, &fetch_event(&format!("/bytes/{}", 100 * 1024)));
    assert!(fits.result.is_ok(), "{:?}", fits.result);

    let huge =
        while_other_tenants_run(|| run(&tenant, &fetch_event(&format!("/bytes/{}", 8 << 20))));
    let Err(CallError::Guest(GuestError::Rejected { status: 0, message })) = &huge.result else {
        panic!("expected too-large: {:?}", huge.result);
    };
    assert_eq!(message, "too large: more than 1048576 bytes");
    assert_eq!(
        huge.fetches[0].error.as_deref(),
        Some("too large: response exceeded 1048576 bytes")
    );
}

#[test]
fn panic_fails_that_call_only() {
    let (_, transport) = mock_transport();
    let tenant = adversary_tenant(Limits::default(), transport, None);
    let panicked = while_other_tenants_run(|| run(&tenant, r#"{"type":"panic"}"#));
    assert_eq!(
        trap_kind(&panicked),
        Some(TrapKind::Panic),
        "{:?}",
        panicked.result
    );
    let error = panicked.result.expect_err("trapped");
    assert!(
        error.to_string().contains("adversary panics on purpose"),
        "{error}"
    );

    let after = run(&tenant, r#"{"type":"ok"}"#);
    assert!(
        after.result.is_ok(),
        "the next call is unaffected: {:?}",
        after.result
    );
}

#[test]
fn more_concurrent_calls_than_pool_slots_wait_instead_of_failing() {
    let small = Runtime::new(RuntimeOptions {
        max_instances: 2,
        max_memory_mib: 128,
        ..RuntimeOptions::default()
    })
    .expect("small runtime");
    let path = std::path::Path::new(env!("ADVERSARY_WASM"));
    let plugin = small.load_plugin_file(path).expect("adversary loads");
    let (_, transport) = mock_transport();
    let tenant = adversary_tenant(Limits::default(), transport, None);
    let reports: Vec<CallReport> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| small.transform(&plugin, &tenant, r#"{"type":"alloc","mib":4}"#))
            })
            .collect();
        calls.into_iter().map(|c| c.join().expect("call")).collect()
    });
    for report in reports {
        assert!(report.result.is_ok(), "{:?}", report.result);
    }
}

/// Nothing of one call is left in the pool slot for the next, whoever it belongs to: tenant A
/// stashes a secret in static and heap memory, and tenant B's calls, on the same few slots,
/// scan their whole linear memory for it. Both ways a slot is reset: the pagemap scan of a
/// large pool (a thin resident budget per slot) and the plain reset of a small one.
#[test]
fn no_call_sees_what_an_earlier_call_left_in_its_slot() {
    for (pool_resident_mib, how) in [(1, "pagemap scan"), (64, "first pages reset")] {
        let runtime = Runtime::new(RuntimeOptions {
            max_instances: 4,
            pool_resident_mib,
            ..RuntimeOptions::default()
        })
        .expect("runtime");
        let path = std::path::Path::new(env!("ADVERSARY_WASM"));
        let plugin = runtime.load_plugin_file(path).expect("adversary loads");
        let (_, transport) = mock_transport();
        let tenant_a = adversary_tenant(Limits::default(), Arc::clone(&transport), None);
        let tenant_b = adversary_tenant(Limits::default(), transport, None);
        let copies = |tenant: &Tenant, event: &str| -> usize {
            let report = runtime.transform(&plugin, tenant, event);
            let error = report.result.expect_err("stash and peek report by failing");
            let text = error.to_string();
            let count = text.rsplit("copies: ").next().unwrap_or_default();
            count.trim().parse().unwrap_or_else(|_| panic!("{text}"))
        };
        for round in 0..20 {
            let secret = format!("SECRET-A-{round}");
            let stash = format!(r#"{{"type":"stash","secret":"{secret}"}}"#);
            let peek = format!(r#"{{"type":"peek","secret":"{secret}"}}"#);
            assert!(
                copies(&tenant_a, &stash) >= 2,
                "{how}: the stash is in memory"
            );
            assert_eq!(copies(&tenant_b, &peek), 0, "{how}: round {round}");
            assert_eq!(
                copies(&tenant_a, &peek),
                0,
                "{how}: not even for A's next call"
            );
        }
    }
}
