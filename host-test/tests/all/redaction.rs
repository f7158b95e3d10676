//! Credentials never leave the process in any output: a run of the real binary with a known
//! token, one tenant whose calls succeed and one whose calls Zendesk refuses (401), every output
//! file and the full debug log on stderr - none may contain the token, plainly or Basic-encoded.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mock_zendesk::MockZendesk;
use serde_json::{Value, json};

const TOKEN: &str = "SECRET-TOKEN-123";

#[test]
fn the_token_appears_in_no_trace_dead_letter_summary_or_console_output() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockZendesk::new();
    // Tenant "locked" only accepts other credentials: every call of the plugin gets a 401.
    mock.require_credentials("locked", "Basic c29tZW9uZS1lbHNl");
    let server = mock_zendesk::server::serve(mock.clone(), "127.0.0.1:0".parse().unwrap())
        .expect("the mock server starts");

    let tenants = json!({"tenants": {
        "open": {"subdomain": "open", "email": "admin@open.example", "apiToken": TOKEN},
        "locked": {"subdomain": "locked", "email": "admin@locked.example", "apiToken": TOKEN},
    }});
    let identify = |user: &str| json!({"type": "identify", "userId": user, "traits": {"name": "Ann", "email": "ann@example.com", "planName": "pro"}});
    let events = [
        json!({"tenant": "open", "event": identify("u1")}),
        json!({"tenant": "locked", "event": identify("u1")}),
        json!({"tenant": "open", "event": {"type": "track", "userId": "u1", "event": "Paid"}}),
    ];
    let events: Vec<String> = events.iter().map(Value::to_string).collect();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("tenants.json"), tenants.to_string()).unwrap();
    std::fs::write(path("events.jsonl"), events.join("\n")).unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .arg("run")
        .args(["--tenants", path("tenants.json").to_str().unwrap()])
        .args(["--events", path("events.jsonl").to_str().unwrap()])
        .args(["--zendesk-origin", &format!("http://{}", server.addr())])
        .args(["--trace", path("trace.jsonl").to_str().unwrap()])
        .args(["--dead-letter", path("dead.jsonl").to_str().unwrap()])
        .args(["--summary-json", path("summary.json").to_str().unwrap()])
        .args(["--retry-for", "2s"])
        .env("HOST_TEST_LOG", "trace")
        .output()
        .expect("the binary runs");
    server.shutdown();

    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "the 401 dead-letters an event\n{stderr}"
    );
    let trace = std::fs::read_to_string(path("trace.jsonl")).unwrap();
    let dead = std::fs::read_to_string(path("dead.jsonl")).unwrap();
    let summary = std::fs::read_to_string(path("summary.json")).unwrap();

    // The failing path really ran: a 401 in the trace, a rejected dead letter.
    let trace_lines: Vec<Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        trace_lines
            .iter()
            .any(|t| t["tenant"] == "locked" && t["status"] == 401),
        "{trace}"
    );
    assert!(
        trace_lines
            .iter()
            .any(|t| t["tenant"] == "open" && t["status"] == 201),
        "{trace}"
    );
    // And the Authorization header was sent, redacted in the trace.
    for line in &trace_lines {
        let headers = line["headers"].as_array().unwrap();
        let auth = headers
            .iter()
            .find(|h| {
                h[0].as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("authorization"))
            })
            .unwrap_or_else(|| panic!("no Authorization header in {line}"));
        assert_eq!(auth[1], "[redacted]");
    }
    let dead_letter: Value = serde_json::from_str(dead.lines().next().unwrap()).unwrap();
    assert_eq!(dead_letter["tenant"], "locked");
    assert_eq!(dead_letter["error_class"], "rejected");
    assert!(serde_json::from_str::<Value>(&summary).is_ok());

    let basic_open = STANDARD.encode(format!("admin@open.example/token:{TOKEN}"));
    let basic_locked = STANDARD.encode(format!("admin@locked.example/token:{TOKEN}"));
    for (name, text) in [
        ("trace", &trace),
        ("dead letters", &dead),
        ("summary", &summary),
        ("stdout", &stdout),
        ("stderr", &stderr),
    ] {
        for secret in [
            TOKEN,
            "SECRET-TOKEN",
            basic_open.as_str(),
            basic_locked.as_str(),
        ] {
            assert!(
                !text.contains(secret),
                "{name} contains {secret:?}:\n{text}"
            );
        }
    }
}
