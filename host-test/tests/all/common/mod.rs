//! Harness for the end-to-end scenario tests: the REAL zendesk.wasm (built by build.rs) running in
//! the wasmtime runtime, talking to a fresh stateful `MockZendesk` per test through a transport that
//! can fail one chosen request on demand.
//!
//! Each test binary shares one `Runtime` and one compiled `Plugin` (compiling is the slow part);
//! every `Scenario` has its own mock account and its own `Tenant` (so its own cache).
#![allow(dead_code)] // every test binary uses a different subset of the harness

mod credentials;
mod delivery;
mod flaky;
pub mod fleet;
mod query;
mod retries;
mod state;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use destination_host::{
    CallReport, HttpTransport, Limits, Plugin, Runtime, RuntimeOptions, Tenant,
};
use host_test::transports::{LoopbackOrigin, MockTransport, RoutingTransport};
use mock_zendesk::MockZendesk;
use mock_zendesk::server::{ServerHandle, serve};
use serde_json::{Value, json};

#[allow(unused_imports)] // each test binary uses a different subset
pub use credentials::{base64, basic_auth};
#[allow(unused_imports)]
pub use delivery::{
    Delivery, assert_invalid_config, assert_invalid_event, assert_mentions, call_line, rejected,
    retryable,
};
#[allow(unused_imports)]
pub use flaky::{FlakyTransport, Injected};
#[allow(unused_imports)]
pub use query::query_param;
#[allow(unused_imports)]
pub use retries::assert_retries_converge;
#[allow(unused_imports)]
pub use state::{State, id_of};

/// The mock account every scenario talks to.
pub const SUB: &str = "acme";
/// A fake API token; tests that check redaction look for it.
pub const API_TOKEN: &str = "scenario-test-token-7f3a";

struct Shared {
    runtime: Runtime,
    plugin: Plugin,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = Runtime::new(RuntimeOptions::default())
            .unwrap_or_else(|e| panic!("cannot start the wasmtime runtime: {e:#}"));
        let plugin = runtime
            .load_plugin_file(Path::new(env!("ZENDESK_WASM")))
            .unwrap_or_else(|e| panic!("cannot load {}: {e}", env!("ZENDESK_WASM")));
        Shared { runtime, plugin }
    })
}

pub fn runtime() -> &'static Runtime {
    &shared().runtime
}

pub fn plugin() -> &'static Plugin {
    &shared().plugin
}

/// The destination config every scenario starts from; `settings` are merged over it.
/// The scenario tests' config: the base credentials plus `settings`. The unchanged window is
/// off unless `settings` set it, so a replayed event really reaches Zendesk (the replay tests
/// prove Zendesk's writes converge); `economy.rs` tests the default window.
pub fn config_with(settings: Value) -> Value {
    let mut config = json!({
        "subdomain": SUB,
        "email": "admin@example.com",
        "apiToken": API_TOKEN,
        "skipUnchangedWithinSeconds": 0,
    });
    if let (Some(base), Some(extra)) = (config.as_object_mut(), settings.as_object()) {
        for (key, value) in extra {
            base.insert(key.clone(), value.clone());
        }
    }
    config
}

/// An identify event for `user_id` with these traits (the shape most scenario tests send).
pub fn identify(user_id: &str, traits: Value) -> Value {
    json!({"type": "identify", "userId": user_id, "traits": traits})
}

/// One tenant of the plugin wired to one fresh mock Zendesk.
pub struct Scenario {
    pub mock: MockZendesk,
    pub transport: Arc<FlakyTransport>,
    pub tenant: Tenant,
    /// The mock account this scenario's tenant writes to.
    pub subdomain: String,
    /// The loopback server when the scenario goes over real HTTP; stops on drop.
    server: Option<ServerHandle>,
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

impl Scenario {
    pub fn new() -> Self {
        Self::with_settings(json!({}))
    }

    /// A scenario whose destination config is the base config plus `settings`.
    pub fn with_settings(settings: Value) -> Self {
        Self::with_config(config_with(settings))
    }

    /// A scenario with exactly this destination config (for config-error tests).
    pub fn with_config(config: Value) -> Self {
        Self::on_mock(MockZendesk::new(), SUB, config)
    }

    /// Another tenant (own config, cache and account `subdomain`) on the same mock Zendesk.
    pub fn sibling(&self, subdomain: &str, settings: Value) -> Self {
        let mut config = config_with(settings);
        config["subdomain"] = json!(subdomain);
        Self::on_mock(self.mock.clone(), subdomain, config)
    }

    fn on_mock(mock: MockZendesk, subdomain: &str, config: Value) -> Self {
        let transport = Arc::new(FlakyTransport::new(Arc::new(MockTransport::new(
            mock.clone(),
        ))));
        let tenant = host_test::zendesk_tenant(
            format!("scenario-{subdomain}"),
            config.to_string(),
            Limits::default(),
            transport.clone(),
        );
        Scenario {
            mock,
            transport,
            tenant,
            subdomain: subdomain.to_string(),
            server: None,
        }
    }

    /// Like `with_settings`, but every request goes over real HTTP (the host's ureq transport and
    /// origin override) to the mock served on a loopback port.
    pub fn over_http(settings: Value) -> Self {
        Self::over_http_with_limits(settings, Limits::default())
    }

    /// `over_http` with this tenant's sandbox limits (e.g. a short request timeout).
    pub fn over_http_with_limits(settings: Value, limits: Limits) -> Self {
        let mock = MockZendesk::new();
        let server = serve(mock.clone(), ([127, 0, 0, 1], 0).into())
            .unwrap_or_else(|e| panic!("cannot serve the mock on loopback: {e}"));
        let origin: LoopbackOrigin = format!("http://{}", server.addr())
            .parse()
            .unwrap_or_else(|e| panic!("loopback origin refused: {e}"));
        let routed = RoutingTransport::new(Arc::new(HttpTransport::new()), origin);
        let transport = Arc::new(FlakyTransport::new(Arc::new(routed)));
        let tenant = host_test::zendesk_tenant(
            "scenario-http",
            config_with(settings).to_string(),
            limits,
            transport.clone(),
        );
        Scenario {
            mock,
            transport,
            tenant,
            subdomain: SUB.to_string(),
            server: Some(server),
        }
    }

    /// Runs one event (JSON) through the plugin; returns the result and the requests Zendesk saw.
    pub fn send(&self, event: Value) -> Delivery {
        self.send_raw(&event.to_string())
    }

    /// Runs one event given as raw text (for malformed-input tests).
    pub fn send_raw(&self, event_json: &str) -> Delivery {
        self.mock.clear_requests();
        let report = runtime().transform(plugin(), &self.tenant, event_json);
        let requests = self.mock.requests_for(&self.subdomain);
        assert_no_credentials(&report);
        Delivery { report, requests }
    }

    /// Runs one event that must succeed; panics with the error and the calls otherwise.
    pub fn deliver(&self, event: Value) -> Delivery {
        let delivery = self.send(event);
        delivery.outcome();
        delivery
    }

    /// Runs `events` at the same time, one thread each (a platform delivering in parallel), with
    /// every Zendesk answer delayed by `delay_ms` so the events interleave; returns each result.
    /// The request log is shared by all of them, so use `state()` to assert.
    pub fn send_concurrently(&self, events: &[Value], delay_ms: u64) -> Vec<CallReport> {
        self.mock.set_faults(mock_zendesk::Faults {
            rate: 1.0,
            seed: 1,
            kinds: vec![mock_zendesk::FaultKind::Slow],
            retry_after_seconds: 0,
            slow_ms: delay_ms,
        });
        let start = std::sync::Barrier::new(events.len());
        let reports = std::thread::scope(|scope| {
            let handles: Vec<_> = events
                .iter()
                .map(|event| {
                    let start = &start;
                    scope.spawn(move || {
                        start.wait();
                        runtime().transform(plugin(), &self.tenant, &event.to_string())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| panic!("an event thread panicked"))
                })
                .collect()
        });
        self.mock.set_faults(mock_zendesk::Faults::none());
        reports
    }

    /// The mock account's state as JSON, with finders.
    pub fn state(&self) -> State {
        State::of(&self.mock, &self.subdomain)
    }

    /// Delivers `event`, then delivers it again (a replay) and asserts the replay changed no
    /// entity. Returns both deliveries.
    pub fn replayed(&self, event: Value) -> (Delivery, Delivery) {
        let first = self.deliver(event.clone());
        let after_first = self.state();
        let replay = self.deliver(event);
        after_first.assert_same_entities(&self.state(), "after replaying the event");
        (first, replay)
    }

    /// Runs `events` twice on the same mock and tenant (a platform retrying a whole batch) and
    /// asserts the second round changed nothing: no duplicate users, identities, organizations,
    /// memberships or field definitions. Returns the second round's deliveries.
    pub fn run_twice(&self, events: &[Value]) -> Vec<Delivery> {
        for event in events {
            self.deliver(event.clone());
        }
        let after_first = self.state();
        let second: Vec<Delivery> = events.iter().map(|e| self.deliver(e.clone())).collect();
        after_first.assert_same_entities(&self.state(), "after running the same events again");
        second
    }
}

/// No credential in anything a platform would show or log: the result, fetch records, logs.
fn assert_no_credentials(report: &CallReport) {
    let shown = format!("{:?} {:?} {:?}", report.result, report.fetches, report.logs);
    let basic = basic_auth("admin@example.com", API_TOKEN);
    let encoded = basic.trim_start_matches("Basic ");
    assert!(!shown.contains(API_TOKEN), "the API token leaked: {shown}");
    assert!(
        !shown.contains(encoded),
        "the Basic credentials leaked: {shown}"
    );
}

/// Whether the calling test should run its body here: in a fresh process of this test binary,
/// alone. A test that measures the whole process (its peak RSS) calls it first; in the shared
/// binary it re-runs itself that way, checks that it passed, and returns false.
pub fn in_own_process(test: &str) -> bool {
    const CHILD: &str = "CDP_TEST_OWN_PROCESS";
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let output = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} in its own process:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // What it measured, in this test's own output.
    print!("{stdout}");
    false
}

/// A person's consent on the mock's authorization page at `url` (through `transport`): where
/// their browser is sent back to (the redirect with the code and state).
pub fn consent_redirect(transport: &dyn destination_host::Transport, url: &str) -> String {
    let request = destination_host::OutboundRequest {
        method: "GET".into(),
        url: url.to_string(),
        headers: vec![],
        body: None,
    };
    let response = destination_host::bridge::block_on(transport.send(
        &request,
        std::time::Duration::from_secs(5),
        1 << 16,
    ))
    .unwrap();
    assert_eq!(response.status, 302);
    response
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("location"))
        .map(|(_, value)| value.clone())
        .expect("a Location header")
}
