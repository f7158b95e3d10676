//! The built components expose exactly the contract: one export, `cdp:destination/destination`,
//! and imports only from `cdp:destination/*` and `wasi:*`. The contract version is part of every
//! name (what `wasm-tools component wit` shows): the Zendesk plugin is built against 0.3.0 (and
//! its released 0.2.0 build against the frozen 0.2.0), the adversary against the frozen 0.1.0.

use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;
use wasmtime::{Config, Engine};

fn engine() -> Engine {
    let mut config = Config::new();
    config.wasm_component_model(true);
    Engine::new(&config).expect("engine")
}

fn load(engine: &Engine, path: &str) -> Component {
    Component::from_file(engine, path).unwrap_or_else(|e| panic!("{path}: {e:#}"))
}

fn assert_exports_exactly_the_contract(engine: &Engine, component: &Component, version: &str) {
    let destination = format!("cdp:destination/destination@{version}");
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    assert_eq!(exports, [destination.as_str()]);

    let Some(export) = ty.get_export(engine, &destination) else {
        panic!("missing {destination}");
    };
    let ComponentItem::ComponentInstance(instance) = export.ty else {
        panic!("{destination} is not an instance");
    };
    let mut functions: Vec<&str> = instance
        .exports(engine)
        .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
        .map(|(name, _)| name)
        .collect();
    functions.sort_unstable();
    let expected: &[&str] = match version {
        "0.1.0" => &["describe", "transform", "validate-config"],
        _ => &[
            "describe",
            "list-fields",
            "transform",
            "transform-batch",
            "validate-config",
        ],
    };
    assert_eq!(functions, expected);
}

fn imports(engine: &Engine, component: &Component) -> Vec<String> {
    let ty = component.component_type();
    ty.imports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

#[test]
fn the_zendesk_plugin_exports_the_contract_and_imports_only_the_host_and_wasi() {
    let engine = engine();
    let component = load(&engine, env!("ZENDESK_WASM"));
    assert_exports_exactly_the_contract(&engine, &component, "0.3.0");

    let imports = imports(&engine, &component);
    let foreign: Vec<&String> = imports
        .iter()
        .filter(|name| !name.starts_with("cdp:destination/") && !name.starts_with("wasi:"))
        .collect();
    assert!(foreign.is_empty(), "unexpected imports: {foreign:?}");
    for needed in ["http-fetch", "cache", "log"] {
        let name = format!("cdp:destination/{needed}@0.3.0");
        assert!(imports.contains(&name), "{name} not imported: {imports:?}");
    }
    // Minimal WASI: nothing that reaches the network or the filesystem beyond what std links.
    let sockets: Vec<&String> = imports
        .iter()
        .filter(|n| n.starts_with("wasi:sockets"))
        .collect();
    assert!(
        sockets.is_empty(),
        "the plugin imports sockets: {sockets:?}"
    );
}

#[test]
fn the_adversary_implements_the_frozen_first_contract() {
    let engine = engine();
    let component = load(&engine, env!("ADVERSARY_WASM"));
    assert_exports_exactly_the_contract(&engine, &component, "0.1.0");
    let imports = imports(&engine, &component);
    assert!(
        imports.contains(&"cdp:destination/http-fetch@0.1.0".to_string()),
        "{imports:?}"
    );
}

#[test]
fn the_swap_build_is_the_same_contract() {
    let engine = engine();
    let component = load(&engine, env!("ZENDESK_SWAP_WASM"));
    assert_exports_exactly_the_contract(&engine, &component, "0.3.0");
}

#[test]
fn the_released_0_2_0_plugin_implements_the_frozen_0_2_0_contract() {
    let engine = engine();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/zendesk-0.2.0.wasm"
    );
    let component = load(&engine, fixture);
    assert_exports_exactly_the_contract(&engine, &component, "0.2.0");
}
