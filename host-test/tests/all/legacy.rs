//! The Zendesk component as released under contract 0.1.0 (built once from the frozen contract
//! and the guest as it was, kept in `tests/fixtures/`) keeps loading and delivering in today's
//! host, with the configs migrating platforms send: RudderStack's `domain` as well as
//! `subdomain`. It reports no config facts, so the host fills its origin from the config, and
//! it still reaches nothing but its own account.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use destination_host::{Manifest, Plugin, Runtime, RuntimeOptions};
use host_test::runner::{self, PluginSource, RunOptions, Target};
use host_test::transports::MockTransport;
use mock_zendesk::MockZendesk;
use mock_zendesk::workload::StandardStream;
use serde_json::{Value, json};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/zendesk-0.1.0.wasm"
);

fn released() -> (Arc<Runtime>, Plugin) {
    static LOADED: OnceLock<(Arc<Runtime>, Plugin)> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime starts");
            let plugin = runtime
                .load_plugin_file(Path::new(FIXTURE))
                .expect("the released 0.1.0 component loads");
            (Arc::new(runtime), plugin)
        })
        .clone()
}

fn stream(tenant: &str) -> String {
    let events = StandardStream {
        events: 200,
        users: 40,
        organizations: 5,
        seed: 11,
    }
    .generate();
    events
        .into_iter()
        .map(|event| json!({"tenant": tenant, "event": event}).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The users the stream identifies.
fn identified_users() -> usize {
    let stream = stream("acct0");
    let users: std::collections::BTreeSet<String> = stream
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["event"].clone())
        .filter(|event| event["type"] == "identify")
        .map(|event| event["userId"].as_str().unwrap().to_string())
        .collect();
    users.len()
}

fn deliver(config: Value) -> (MockZendesk, runner::Summary) {
    let (runtime, plugin) = released();
    assert_eq!(plugin.contract_version(), "0.1.0");
    let mock = MockZendesk::new();
    let tenants = json!({"tenants": {"acct0": config}}).to_string();
    let mut options = RunOptions::new(tenants, stream("acct0"), Target::Mock(mock.clone()));
    options.plugin = PluginSource::Loaded(runtime, plugin);
    let summary = runner::run(options).expect("the run completes");
    (mock, summary)
}

#[test]
fn the_released_component_delivers_the_standard_stream_with_a_domain_or_subdomain_config() {
    for key in ["domain", "subdomain"] {
        let config =
            json!({key: "acct0", "email": "admin@acct0.example", "apiToken": "t0k3n-acct0"});
        let (mock, summary) = deliver(config);
        assert_eq!(summary.lines, 200, "{key}");
        assert_eq!(summary.dead_lettered, 0, "{key}: {summary:?}");
        assert_eq!(summary.delivered + summary.skipped, 200, "{key}");
        let account = mock.account("acct0");
        assert_eq!(
            account.users.len(),
            identified_users(),
            "{key}: every identified user"
        );
        assert_eq!(account.organizations.len(), 5, "{key}");
        let accounts: Vec<String> = mock
            .state_json()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(accounts, ["acct0"], "{key}: no other account was reached");
    }
}

#[test]
fn its_origin_is_its_own_account_and_the_platform_can_pin_it() {
    let (runtime, plugin) = released();
    let mock = MockZendesk::new();
    let origins = |manifest: Value| {
        let specs = Manifest::parse(&manifest.to_string())
            .unwrap()
            .tenants(&RuntimeOptions::default(), &host_test::zendesk_origins())
            .unwrap();
        let tenant = specs[0].tenant(Arc::new(MockTransport::new(mock.clone())));
        runtime.allowed_origins(&plugin, &tenant).unwrap()
    };
    let config = |pairs: Value| {
        let mut config = json!({"email": "admin@acct0.example", "apiToken": "t0k3n"});
        config
            .as_object_mut()
            .unwrap()
            .extend(pairs.as_object().unwrap().clone());
        config
    };
    assert_eq!(
        origins(json!({"tenants": {"a": config(json!({"domain": "acct0"}))}})),
        ["https://acct0.zendesk.com"]
    );
    assert_eq!(
        origins(
            json!({"tenants": {"a": config(json!({"subdomain": "acct1", "domain": "acct0"}))}})
        ),
        ["https://acct1.zendesk.com"],
        "`subdomain` first, as the plugin reads it"
    );
    // Nothing widens: a value that is not one DNS label fills nothing.
    assert!(origins(json!({"tenants": {"a": config(json!({"domain": "evil.com/x"}))}})).is_empty());
    // The platform's own values win over the config.
    assert_eq!(
        origins(json!({"tenants": {"a": config(json!({"domain": "acct1"}))},
                       "origin_values": {"a": {"subdomain": "acct0"}}})),
        ["https://acct0.zendesk.com"]
    );
}

/// The Zendesk component as released under contract 0.2.0 (built from the guest at the last
/// 0.2.0 commit, kept in `tests/fixtures/`): it still loads, delivers in batches on the bulk
/// endpoints, and lists the fields of the object types 0.2.0 knows; the ones 0.3.0 added are
/// `unsupported-export`, naming the version they need.
mod released_0_2_0 {
    use super::*;
    use destination_host::{CallError, Limits, ObjectType};
    use host_test::runner::Batching;
    use std::time::Duration;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/zendesk-0.2.0.wasm"
    );

    #[test]
    fn it_delivers_in_batches_and_lists_the_fields_it_knows() {
        let runtime = Arc::new(Runtime::new(RuntimeOptions::default()).unwrap());
        let plugin = runtime
            .load_plugin_file(Path::new(FIXTURE))
            .expect("the released 0.2.0 component loads");
        assert_eq!(plugin.contract_version(), "0.2.0");
        assert!(plugin.description().max_batch_size > 1);

        let mock = MockZendesk::new();
        let config = json!({"subdomain": "acct0", "email": "admin@acct0.example",
            "apiToken": "t0k3n-acct0"});
        let tenants = json!({"tenants": {"acct0": config}}).to_string();
        let mut options = RunOptions::new(tenants, stream("acct0"), Target::Mock(mock.clone()));
        options.plugin = PluginSource::Loaded(runtime.clone(), plugin.clone());
        options.batching = Batching {
            size: 100,
            wait: Duration::from_millis(50),
        };
        let summary = runner::run(options).expect("the run completes");
        assert_eq!(summary.dead_lettered, 0, "{summary:?}");
        assert_eq!(summary.delivered + summary.skipped, 200);
        let account = mock.account("acct0");
        assert_eq!(account.users.len(), identified_users());
        assert_eq!(account.organizations.len(), 5);
        let bulk = mock
            .requests_for("acct0")
            .iter()
            .filter(|r| r.path.ends_with("_many"))
            .count();
        assert!(bulk > 0, "batches took the bulk endpoints");

        let transport = Arc::new(MockTransport::new(mock.clone()));
        let tenant =
            host_test::zendesk_tenant("acct0", config.to_string(), Limits::default(), transport);
        let users = runtime.list_fields(&plugin, &tenant, ObjectType::Users);
        assert!(
            users
                .result
                .unwrap()
                .iter()
                .any(|f| f.key.as_deref() == Some("email"))
        );
        let custom = runtime.list_fields(&plugin, &tenant, ObjectType::CustomObjects);
        match custom.result {
            Err(error @ CallError::Unsupported(_)) => {
                assert!(
                    error.to_string().contains("needs contract 0.3.0"),
                    "{error}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
