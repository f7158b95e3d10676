//! The library as an embedder uses it: no runner, no CLI. The README's example runs here, and
//! nothing the runtime returns ever carries a tenant's credential.

#[allow(dead_code)] // its `main` is for `cargo run --example embed`
#[path = "../../../crates/destination-host/examples/embed.rs"]
mod example;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use destination_host::{
    CallReport, FetchFailure, InboundResponse, Limits, OutboundRequest, Runtime, RuntimeOptions,
    Sending, Tenant, Transport,
};
use host_test::transports::MockTransport;
use mock_zendesk::MockZendesk;

const EXAMPLE: &str = include_str!("../../../crates/destination-host/examples/embed.rs");
const README: &str = include_str!("../../../README.md");

/// Every text of a report, as an embedder could log it.
fn everything(report: &CallReport) -> String {
    format!("{report:?} {}", serde_json::to_string(report).unwrap())
}

#[test]
fn the_readme_example_loads_calls_and_swaps() {
    let mock = MockZendesk::new();
    let io = tokio::runtime::Runtime::new().unwrap();
    let reports = io
        .block_on(example::embed(
            Path::new(env!("ZENDESK_WASM")),
            Path::new(env!("ZENDESK_SWAP_WASM")),
            Arc::new(MockTransport::new(mock.clone())),
        ))
        .expect("the example runs");

    let [identify, track] = reports.as_slice() else {
        panic!("two reports: {reports:?}");
    };
    let outcome = identify.result.as_ref().expect("the identify is delivered");
    assert_eq!(outcome.operations.len(), 1, "{outcome:?}");
    assert_eq!(outcome.operations[0].path, "/api/v2/users/create_or_update");
    assert!(
        track.plugin_version.ends_with("-swap"),
        "{}",
        track.plugin_version
    );
    let tracked = track.result.as_ref().expect("the track is delivered");
    let user_id = mock
        .account("acme")
        .user_by_email("ann@example.com")
        .expect("Ann")
        .id;
    assert_eq!(
        tracked.operations[0].path,
        format!("/api/v2/users/{user_id}/events")
    );

    let account = mock.account("acme");
    let ann = account
        .user_by_email("ann@example.com")
        .expect("Ann exists");
    assert_eq!(ann.external_id.as_deref(), Some("u1"));
    let basic = STANDARD.encode("admin@acme.com/token:s3cr3t-t0ken");
    for report in &reports {
        let text = everything(report);
        assert!(
            !text.contains("s3cr3t-t0ken") && !text.contains(&basic),
            "{text}"
        );
    }
}

#[test]
fn the_readme_shows_the_example_that_runs() {
    let start = EXAMPLE
        .find("pub async fn embed(")
        .expect("the example has `embed`");
    let body = &EXAMPLE[start..];
    assert!(
        README.contains(body.trim_end()),
        "README.md must show crates/destination-host/examples/embed.rs's `embed` verbatim"
    );
}

/// Answers every request with 401 and the request's own headers and body in the error, like a
/// server that echoes what it got.
struct Echo {
    seen: Mutex<Vec<OutboundRequest>>,
}

impl Transport for Echo {
    fn send<'a>(&'a self, request: &'a OutboundRequest, _: Duration, _: u64) -> Sending<'a> {
        Box::pin(std::future::ready(self.answer(request)))
    }
}

impl Echo {
    fn answer(&self, request: &OutboundRequest) -> Result<InboundResponse, FetchFailure> {
        self.seen.lock().unwrap().push(request.clone());
        let echoed = format!(
            "{:?} {}",
            request.headers,
            String::from_utf8_lossy(request.body.as_deref().unwrap_or_default())
        );
        let body = serde_json::json!({"error": "Couldn't authenticate you", "description": echoed});
        Ok(InboundResponse {
            status: 401,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            sent_to: None,
        })
    }
}

const TOKEN: &str = "Tk9pLmM0ZGVzZWNyZXQ";

fn runtime() -> Runtime {
    Runtime::new(RuntimeOptions::default()).expect("runtime")
}

#[test]
fn a_server_echoing_the_credentials_cannot_make_the_runtime_return_them() {
    let runtime = runtime();
    let plugin = runtime
        .load_plugin_file(Path::new(env!("ZENDESK_WASM")))
        .expect("loads");
    let echo = Arc::new(Echo {
        seen: Mutex::default(),
    });
    let config =
        format!(r#"{{"subdomain": "acme", "email": "admin@acme.com", "apiToken": "{TOKEN}"}}"#);
    let tenant = host_test::zendesk_tenant("acme", config, Limits::default(), echo.clone());
    let event = r#"{"type": "identify", "userId": "u1", "traits": {"name": "Ann", "email": "ann@example.com"}}"#;
    let report = runtime.transform(&plugin, &tenant, event);

    // The credential really went out (the transport saw it) and really came back...
    let basic = STANDARD.encode(format!("admin@acme.com/token:{TOKEN}"));
    let sent = format!("{:?}", echo.seen.lock().unwrap());
    assert!(sent.contains(&basic), "the request carried the credential");
    assert_eq!(report.result.as_ref().unwrap_err().class(), "rejected");
    // ...but nothing the runtime returned carries it.
    let text = everything(&report);
    assert!(!text.contains(TOKEN) && !text.contains(&basic), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
}

#[test]
fn a_guest_that_leaks_its_config_everywhere_leaks_nothing() {
    let runtime = runtime();
    let adversary = runtime
        .load_plugin_file(Path::new(env!("ADVERSARY_WASM")))
        .expect("loads");
    assert_eq!(adversary.contract_version(), "0.1.0");
    let mock = MockZendesk::new();
    let config = format!(
        r#"{{"subdomain": "adv", "apiToken": "{TOKEN}", "nested": {{"password": "hunter2hunter2"}}}}"#
    );
    let tenant = host_test::zendesk_tenant(
        "adv",
        config,
        Limits::default(),
        Arc::new(MockTransport::new(mock.clone())),
    );
    let report = runtime.transform(
        &adversary,
        &tenant,
        r#"{"type": "leak", "url": "https://adv.zendesk.com/api/v2/x"}"#,
    );
    assert_eq!(report.result.as_ref().unwrap_err().class(), "invalid-event");
    assert_eq!(report.fetches.len(), 1, "{report:?}");
    // The leaked log record is there, with its config scrubbed where it stood.
    let leaked = report
        .logs
        .iter()
        .find(|log| log.source == "guest" && log.fields.iter().any(|(key, _)| key == "config"))
        .expect("the guest's log record is kept");
    assert!(
        leaked.message.contains("\"subdomain\": \"adv\""),
        "{leaked:?}"
    );
    assert!(leaked.message.contains("[redacted]"), "{leaked:?}");
    assert!(leaked.fields[0].1.contains("[redacted]"), "{leaked:?}");
    let text = everything(&report);
    assert!(
        !text.contains(TOKEN) && !text.contains("hunter2hunter2"),
        "{text}"
    );
    // The request did carry it to the (own) destination: scrubbing is of records, not traffic.
    let sent = mock.requests_for("adv");
    assert!(format!("{sent:?}").contains(TOKEN));
}

#[test]
fn an_invalid_config_is_refused_before_the_plugin_runs_and_without_its_secret() {
    let runtime = runtime();
    let plugin = runtime
        .load_plugin_file(Path::new(env!("ZENDESK_WASM")))
        .expect("loads");
    let mock = MockZendesk::new();
    let config = format!(
        r#"{{"subdomain": "not a subdomain {TOKEN}", "apiToken": "{TOKEN}", "email": "a@b.c"}}"#
    );
    let tenant = Tenant::new(
        "bad",
        config,
        Limits::default(),
        Arc::new(MockTransport::new(mock.clone())),
    )
    .with_allowed_origins(host_test::zendesk_origins());
    let report = runtime.transform(&plugin, &tenant, r#"{"type": "identify", "userId": "u1"}"#);
    let error = report.result.as_ref().unwrap_err();
    assert_eq!(error.class(), "invalid-config");
    assert!(report.fetches.is_empty() && mock.requests().is_empty());
    assert!(!everything(&report).contains(TOKEN), "{report:?}");
    let validated = runtime.validate_config(&plugin, &tenant).unwrap_err();
    assert!(!validated.to_string().contains(TOKEN), "{validated}");
}

#[test]
fn an_idle_tenant_gives_back_its_prepared_state_and_its_next_call_rebuilds_it() {
    let mock = MockZendesk::new();
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = runtime
        .load_plugin_file(Path::new(env!("ZENDESK_WASM")))
        .unwrap();
    let tenant = host_test::zendesk_tenant(
        "idle",
        r#"{"subdomain":"idle","email":"admin@example.com","apiToken":"t0k"}"#,
        Limits::default(),
        Arc::new(MockTransport::new(mock.clone())),
    );
    assert!(
        !tenant.evict_if_idle(Duration::ZERO),
        "nothing prepared yet"
    );
    let event =
        r#"{"type":"identify","userId":"u1","traits":{"name":"Ann","email":"ann@example.com"}}"#;
    let report = runtime.transform(&plugin, &tenant, event);
    assert!(report.result.is_ok(), "{:?}", report.result);
    assert!(
        !tenant.evict_if_idle(Duration::from_secs(3600)),
        "used just now"
    );
    assert!(tenant.evict_if_idle(Duration::ZERO));
    assert!(!tenant.evict_if_idle(Duration::ZERO), "already given back");
    // Rebuilt on demand: the next call works and is prepared again.
    let report = runtime.transform(&plugin, &tenant, event);
    assert!(report.result.is_ok(), "{:?}", report.result);
    assert!(tenant.evict_if_idle(Duration::ZERO));
    assert!(
        mock.account("idle")
            .user_by_email("ann@example.com")
            .is_some()
    );
}
