//! The tenant manifest's published JSON Schema and its parser agree: on every tenants file in
//! the repository and the README, and on a table of good and bad manifests. The published file
//! is the one the types generate.

use destination_host::{Manifest, RuntimeOptions};
use serde_json::{Value, json};

const PUBLISHED: &str = include_str!("../../../crates/destination-host/tenants.schema.json");
const README: &str = include_str!("../../../README.md");

fn parses(manifest: &Value) -> bool {
    Manifest::parse(&manifest.to_string())
        .and_then(|m| m.tenants(&RuntimeOptions::default(), &host_test::zendesk_origins()))
        .is_ok()
}

#[test]
fn the_published_schema_is_the_generated_one() {
    let published: Value = serde_json::from_str(PUBLISHED).unwrap();
    assert_eq!(
        published,
        Manifest::json_schema(),
        "regenerate crates/destination-host/tenants.schema.json with `host-test manifest-schema`"
    );
}

#[test]
fn the_schema_and_the_parser_agree() {
    let validator =
        jsonschema::validator_for(&Manifest::json_schema()).expect("the schema compiles");
    let config = json!({"subdomain": "acme", "email": "a@acme.com", "apiToken": "t"});
    let table = [
        (json!({"tenants": {"a": config}}), true),
        (
            json!({"tenants": {"a": {}}, "limits": {"*": {"cpu_ms": 500}, "a": {"memory_mib": 32}}}),
            true,
        ),
        (
            json!({"tenants": {"a": {}}, "allowed_origins": ["https://{subdomain}.example.com"]}),
            true,
        ),
        (
            json!({"tenants": {"a": {}}, "origin_values": {"a": {"subdomain": "acme"}}}),
            true,
        ),
        (json!({"tenants": {}}), false),
        (json!({}), false),
        (json!({"tenants": {"a": 1}}), false),
        (json!({"tenants": {"a": {}}, "tenant": {}}), false),
        (
            json!({"tenants": {"a": {}}, "limits": {"a": {"cpu": 1}}}),
            false,
        ),
        (
            json!({"tenants": {"a": {}}, "limits": {"a": {"cpu_ms": "1"}}}),
            false,
        ),
        (
            json!({"tenants": {"a": {}}, "limits": {"a": {"cpu_ms": -1}}}),
            false,
        ),
        (
            json!({"tenants": {"a": {}}, "limits": {"a": {"wall_ms": 0}}}),
            false,
        ),
        (
            json!({"tenants": {"a": {}}, "limits": {"a": {"max_log_kib": 2000000}}}),
            false,
        ),
        (
            json!({"tenants": {"a": {}}, "limits": {"a": {"requests_per_minute": 0}}}),
            true,
        ),
        (
            json!({"tenants": {"a": {}}, "allowed_origins": "https://x.example.com"}),
            false,
        ),
        (
            json!({"tenants": {"a": {}}, "origin_values": {"a": {"subdomain": 1}}}),
            false,
        ),
    ];
    for (manifest, valid) in table {
        assert_eq!(validator.is_valid(&manifest), valid, "schema: {manifest}");
        assert_eq!(parses(&manifest), valid, "parser: {manifest}");
    }
}

/// Every tenants file in the repository, and every manifest in the README, still loads.
#[test]
fn every_tenants_file_in_the_repo_and_the_readme_loads() {
    let validator = jsonschema::validator_for(&Manifest::json_schema()).unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut files = Vec::new();
    for dir in ["host-test/demo", "host-test/benches", "crates"] {
        collect(&std::path::Path::new(root).join(dir), &mut files);
    }
    let mut manifests: Vec<(String, Value)> = files
        .iter()
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.contains("tenants") && !name.contains("schema")
        })
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            (
                path.display().to_string(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    for block in README.split("```json").skip(1) {
        let text = block.split("```").next().unwrap();
        if let Ok(value) = serde_json::from_str::<Value>(text)
            && value.get("tenants").is_some()
        {
            manifests.push(("README".into(), value));
        }
    }
    assert!(!manifests.is_empty(), "{manifests:?}");
    for (name, manifest) in manifests {
        assert!(validator.is_valid(&manifest), "{name}");
        assert!(parses(&manifest), "{name}");
    }
}

fn collect(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !path.ends_with("target") {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
}
