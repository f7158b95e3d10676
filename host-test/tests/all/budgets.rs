//! Per-call budgets against a flooding guest: logs, request count, huge request bodies. Each is
//! stopped with a classified error, bystander tenants succeed, and the host's peak memory stays
//! bounded while 8 floods run at once. Its own test binary, so the peak RSS it reads is its own.

use std::path::Path;
use std::sync::Arc;

use destination_host::{
    CallError, CallReport, Limits, Plugin, Runtime, RuntimeOptions, Tenant, TrapKind,
};
use host_test::transports::MockTransport;
use mock_zendesk::MockZendesk;
use serde_json::json;

/// What the host process may use at its peak while 8 floods and 4 bystanders run.
const PEAK_RSS_BOUND_MIB: u64 = 256;

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Resets the peak RSS to the current RSS (Linux >= 4.0), so compiling the plugins before the
/// measurement does not count.
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
}

fn trap(report: &CallReport) -> (TrapKind, String) {
    match &report.result {
        Err(CallError::Trap { kind, message }) => (*kind, message.clone()),
        other => panic!("not stopped by the host: {other:?}"),
    }
}

#[test]
fn floods_are_stopped_by_their_budgets_and_memory_stays_bounded() {
    // It measures the process's peak RSS: other tests must not run beside it.
    if !crate::common::in_own_process(
        "budgets::floods_are_stopped_by_their_budgets_and_memory_stays_bounded",
    ) {
        return;
    }
    let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
    let adversary = runtime
        .load_plugin_file(Path::new(env!("ADVERSARY_WASM")))
        .expect("adversary");
    let zendesk = runtime
        .load_plugin_file(Path::new(env!("ZENDESK_WASM")))
        .expect("zendesk");
    let mock = MockZendesk::new();
    let transport = Arc::new(MockTransport::new(mock.clone()));
    let limits = Limits {
        memory_mib: 32,
        ..Limits::default()
    };
    let flooder = |i: usize| {
        host_test::zendesk_tenant(
            format!("flood-{i}"),
            r#"{"subdomain":"adv"}"#,
            limits.clone(),
            transport.clone(),
        )
    };
    let url = "https://adv.zendesk.com/api/v2/users.json";
    let floods = [
        (
            json!({"type": "log-flood"}),
            TrapKind::LogBudget,
            "max_log_kib",
        ),
        (
            json!({"type": "log-flood", "bytes": 100}),
            TrapKind::LogBudget,
            "max_log_kib",
        ),
        (
            json!({"type": "fetch-flood", "url": url}),
            TrapKind::FetchBudget,
            "max_fetches",
        ),
        (
            json!({"type": "big-body", "url": url, "mib": 8}),
            TrapKind::RequestSize,
            "max_request_kib",
        ),
        (
            json!({"type": "log-flood"}),
            TrapKind::LogBudget,
            "max_log_kib",
        ),
        (
            json!({"type": "fetch-flood", "url": url}),
            TrapKind::FetchBudget,
            "max_fetches",
        ),
        (
            json!({"type": "big-body", "url": url, "mib": 16}),
            TrapKind::RequestSize,
            "max_request_kib",
        ),
        (
            json!({"type": "big-body", "url": url, "mib": 8}),
            TrapKind::RequestSize,
            "max_request_kib",
        ),
    ];
    let bystanders: Vec<Tenant> = (0..4)
        .map(|i| {
            let config =
                json!({"subdomain": format!("good{i}"), "email": "a@b.c", "apiToken": "t0k3n"});
            host_test::zendesk_tenant(
                format!("good-{i}"),
                config.to_string(),
                Limits::default(),
                transport.clone(),
            )
        })
        .collect();

    reset_peak_rss();
    let before_kib = vm_hwm_kib();
    let (flood_reports, bystander_reports) = std::thread::scope(|scope| {
        let floods: Vec<_> = floods
            .iter()
            .enumerate()
            .map(|(i, (event, _, _))| {
                let (runtime, adversary, tenant) = (&runtime, &adversary, flooder(i));
                scope.spawn(move || runtime.transform(adversary, &tenant, &event.to_string()))
            })
            .collect();
        let others: Vec<_> = bystanders
            .iter()
            .map(|tenant| {
                let (runtime, zendesk): (&Runtime, &Plugin) = (&runtime, &zendesk);
                scope.spawn(move || {
                    let event = json!({"type": "identify", "userId": "u1", "traits": {"name": "Ann", "email": "ann@example.com"}});
                    runtime.transform(zendesk, tenant, &event.to_string())
                })
            })
            .collect();
        (
            floods
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>(),
            others
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>(),
        )
    });
    let peak_mib = vm_hwm_kib() / 1024;
    eprintln!(
        "peak RSS during the floods: {peak_mib} MiB (was {} MiB before)",
        before_kib / 1024
    );

    for ((event, kind, key), report) in floods.iter().zip(&flood_reports) {
        let (stopped_by, message) = trap(report);
        assert_eq!(stopped_by, *kind, "{event}: {message}");
        assert!(
            message.contains(key),
            "{event}: the message names the limit: {message}"
        );
        assert!(
            report
                .result
                .as_ref()
                .unwrap_err()
                .class()
                .starts_with("trap-")
        );
        assert!(!report.result.as_ref().unwrap_err().is_retryable());
    }
    // The fetch floods sent exactly their budget, and the big bodies sent nothing.
    let sent = mock.requests_for("adv").len();
    assert_eq!(
        sent,
        2 * Limits::default().max_fetches as usize,
        "requests that reached the mock"
    );
    for report in &bystander_reports {
        assert!(
            report.result.is_ok(),
            "bystander {} was affected: {:?}",
            report.tenant,
            report.result
        );
    }
    for i in 0..4 {
        assert!(
            mock.account(&format!("good{i}"))
                .user_by_email("ann@example.com")
                .is_some()
        );
    }
    assert!(
        peak_mib < PEAK_RSS_BOUND_MIB,
        "peak RSS {peak_mib} MiB >= {PEAK_RSS_BOUND_MIB} MiB"
    );
}

#[test]
fn budgets_are_per_tenant_limits() {
    let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
    let adversary = runtime
        .load_plugin_file(Path::new(env!("ADVERSARY_WASM")))
        .expect("adversary");
    let mock = MockZendesk::new();
    let url = "https://adv.zendesk.com/api/v2/users.json";
    let tight = Limits {
        max_fetches: 3,
        max_request_kib: 1,
        ..Limits::default()
    };
    let tenant = host_test::zendesk_tenant(
        "tight",
        r#"{"subdomain":"adv"}"#,
        tight,
        Arc::new(MockTransport::new(mock.clone())),
    );
    let report = runtime.transform(
        &adversary,
        &tenant,
        &json!({"type": "fetch-flood", "url": url}).to_string(),
    );
    assert_eq!(trap(&report).0, TrapKind::FetchBudget);
    assert_eq!(report.fetches.len(), 3);
    assert_eq!(mock.requests_for("adv").len(), 3);
    // 1 KiB is allowed, 2 KiB are not (`mib` is rounded to whole MiB, so use the body budget).
    let report = runtime.transform(
        &adversary,
        &tenant,
        &json!({"type": "big-body", "url": url, "mib": 1}).to_string(),
    );
    let (kind, message) = trap(&report);
    assert_eq!(kind, TrapKind::RequestSize);
    assert!(
        message.contains("1048576 bytes") && message.contains("1 KiB"),
        "{message}"
    );
    // Impossible limits are refused before anything runs, naming the key.
    let impossible = Limits {
        memory_mib: 4096,
        ..Limits::default()
    };
    let tenant = host_test::zendesk_tenant(
        "big",
        r#"{"subdomain":"adv"}"#,
        impossible,
        Arc::new(MockTransport::new(mock)),
    );
    let report = runtime.transform(&adversary, &tenant, r#"{"type":"ok"}"#);
    let error = report.result.unwrap_err();
    assert_eq!(error.class(), "invalid-limits");
    assert!(error.to_string().contains("`memory_mib`"), "{error}");
}
