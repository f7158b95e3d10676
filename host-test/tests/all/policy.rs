//! The outbound policy end to end: every subdomain shape the plugin accepts reaches its own
//! account and nothing else; a guest cannot steer the routing layer with its own headers.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use destination_host::{Limits, Plugin, Runtime, Tenant, Transport};
use host_test::transports::{LoopbackOrigin, MockTransport, RoutingTransport};
use mock_zendesk::MockZendesk;
use serde_json::json;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    // The reference host's runtime: its routing header is stripped from guest requests.
    RUNTIME.get_or_init(|| Runtime::new(host_test::runner::runtime_options(4)).expect("runtime"))
}

fn load(path: &str) -> Plugin {
    runtime()
        .load_plugin_file(Path::new(path))
        .expect("plugin loads")
}

fn zendesk() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| load(env!("ZENDESK_WASM")))
}

fn tenant(config: serde_json::Value, transport: Arc<dyn Transport>) -> Tenant {
    host_test::zendesk_tenant("t", config.to_string(), Limits::default(), transport)
}

#[test]
fn every_subdomain_shape_the_plugin_accepts_reaches_its_own_account_only() {
    let accepted = [
        json!({"subdomain": "acme"}),
        json!({"subdomain": "ACME"}),
        json!({"subdomain": " acme "}),
        json!({"subdomain": "acme.zendesk.com"}),
        json!({"subdomain": "https://acme.zendesk.com"}),
        json!({"subdomain": "https://acme.zendesk.com/"}),
        json!({"subdomain": "https://acme.zendesk.com/agent"}),
        json!({"subdomain": "https://ACME.zendesk.com/agent/tickets/1"}),
        json!({"subdomain": "http://acme.zendesk.com/"}),
        json!({"domain": "acme"}),
        json!({"domain": "https://acme.zendesk.com/agent"}),
        json!({"subdomain": "acme", "domain": "other"}),
    ];
    for shape in accepted {
        let mock = MockZendesk::new();
        let mut config = shape.clone();
        config["email"] = json!("admin@acme.com");
        config["apiToken"] = json!("token-123");
        let tenant = tenant(config, Arc::new(MockTransport::new(mock.clone())));
        runtime()
            .validate_config(zendesk(), &tenant)
            .unwrap_or_else(|e| panic!("{shape} is refused: {e}"));
        let origins = runtime()
            .allowed_origins(zendesk(), &tenant)
            .expect("origins");
        assert_eq!(origins, ["https://acme.zendesk.com"], "{shape}");

        let identify = json!({"type": "identify", "userId": "u1", "traits": {"name": "Ann", "email": "ann@example.com"}});
        let report = runtime().transform(zendesk(), &tenant, &identify.to_string());
        assert!(report.result.is_ok(), "{shape}: {:?}", report.result);
        assert!(
            mock.account("acme")
                .user_by_email("ann@example.com")
                .is_some(),
            "{shape}"
        );
        let elsewhere: Vec<_> = mock
            .requests()
            .into_iter()
            .filter(|r| r.subdomain != "acme")
            .collect();
        assert!(elsewhere.is_empty(), "{shape}: {elsewhere:?}");
    }
}

#[test]
fn shapes_the_plugin_refuses_reach_nothing() {
    for shape in [
        json!({"subdomain": "acme/../evil"}),
        json!({"subdomain": "ac me"}),
        json!({"subdomain": "evil.com"}),
        json!({"subdomain": ""}),
        json!({}),
    ] {
        let mock = MockZendesk::new();
        let mut config = shape.clone();
        config["oauthToken"] = json!("token-123");
        let tenant = tenant(config, Arc::new(MockTransport::new(mock.clone())));
        let error = runtime()
            .validate_config(zendesk(), &tenant)
            .expect_err("refused");
        assert_eq!(error.class(), "invalid-config", "{shape}");
        let report = runtime().transform(zendesk(), &tenant, r#"{"type":"identify","userId":"u"}"#);
        assert_eq!(
            report.result.unwrap_err().class(),
            "invalid-config",
            "{shape}"
        );
        assert!(mock.requests().is_empty(), "{shape}");
    }
}

#[test]
fn a_plugin_cannot_widen_its_own_allow_list() {
    // A 0.1.0 component reports no facts: the template is filled from the config's top-level
    // strings, and a value that is not one DNS label fills nothing.
    let adversary = load(env!("ADVERSARY_WASM"));
    let mock = MockZendesk::new();
    for subdomain in ["evil.com/x", "adv.zendesk.com.evil.com", "127.0.0.1"] {
        let tenant = tenant(
            json!({"subdomain": subdomain}),
            Arc::new(MockTransport::new(mock.clone())),
        );
        assert_eq!(
            runtime().allowed_origins(&adversary, &tenant).unwrap(),
            Vec::<String>::new()
        );
        let event = json!({"type": "fetch", "url": format!("https://{subdomain}/api")});
        let report = runtime().transform(&adversary, &tenant, &event.to_string());
        let message = report.result.unwrap_err().to_string();
        assert!(message.contains("not a single DNS label"), "{message}");
    }
    assert!(mock.requests().is_empty());
}

#[test]
fn guest_headers_cannot_reach_another_tenants_account() {
    let mock = MockZendesk::new();
    mock.require_credentials("adv", "Bearer adversary-secret");
    mock.require_credentials("victim", "Basic dmljdGltOnNlY3JldA==");
    let server =
        mock_zendesk::server::serve(mock.clone(), ([127, 0, 0, 1], 0).into()).expect("serve");
    let origin: LoopbackOrigin = format!("http://{}", server.addr()).parse().unwrap();
    let transport = Arc::new(RoutingTransport::new(
        Arc::new(destination_host::HttpTransport::new()),
        origin,
    ));
    let adversary = load(env!("ADVERSARY_WASM"));
    let tenant = tenant(json!({"subdomain": "adv"}), transport);
    for smuggled in [
        json!([["X-Zendesk-Subdomain", "victim"]]),
        json!([
            ["x-zendesk-subdomain", "victim"],
            ["Host", "victim.zendesk.com"]
        ]),
        json!([["Host", "victim.zendesk.com"]]),
        json!([
            ["Authorization", "Basic dmljdGltOnNlY3JldA=="],
            ["X-Zendesk-Subdomain", "victim"]
        ]),
        json!([
            ["Connection", "close"],
            ["Transfer-Encoding", "chunked"],
            ["X-Zendesk-Subdomain", "victim"]
        ]),
    ] {
        let event = json!({"type": "fetch", "url": "https://adv.zendesk.com/api/v2/users.json", "headers": smuggled});
        let report = runtime().transform(&adversary, &tenant, &event.to_string());
        let outcome = report
            .result
            .as_ref()
            .unwrap_or_else(|e| panic!("{smuggled}: {e}"));
        // 200: the request reached account `adv` with the tenant's own Authorization (the mock
        // answers 401 to any other value).
        assert_eq!(outcome.operations[0].status, 200, "{smuggled}");
        let stripped = report
            .logs
            .iter()
            .any(|l| l.message.starts_with("stripped request headers"));
        assert!(stripped, "{smuggled}: {:?}", report.logs);
    }
    assert!(
        mock.requests_for("victim").is_empty(),
        "{:?}",
        mock.requests_for("victim")
    );
    assert_eq!(mock.requests_for("adv").len(), 5);
    server.shutdown();
}
