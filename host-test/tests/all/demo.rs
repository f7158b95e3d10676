//! The user-facing commands of the binary: `demo` end to end (the bundled sample through the
//! real plugin and the mock), `run`'s exit statuses, and `mock-zendesk`.

use std::path::Path;

use std::process::Command;

use serde_json::{Value, json};

/// The binary copied alone to another directory (its plugin component is inside it), run from
/// there with a home of its own.
fn demo_from_a_lone_binary() -> std::process::Output {
    let place = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let binary = place.path().join("host-test");
    std::fs::copy(env!("CARGO_BIN_EXE_host-test"), &binary).unwrap();
    Command::new(&binary)
        .arg("demo")
        .current_dir(place.path())
        .env("HOME", home.path())
        .env_remove("XDG_CACHE_HOME")
        .output()
        .expect("the binary runs")
}

#[test]
fn the_demo_delivers_the_sample_and_shows_the_final_state() {
    let output = demo_from_a_lone_binary();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let expect = [
        // Per event: the calls with their statuses and the plugin version.
        "POST /api/v2/users/create_or_update -> 201",
        "POST /api/v2/users/create_or_update -> 200",
        "[plugin ",
        // The allow-list skip and the unsupported page event.
        "track \"Newsletter Opened\"",
        "skipped",
        "page (userId u-1001) -> skipped",
        // The repeated identify (skipUnchangedWithinSeconds): no call.
        "skipped: unchanged: the same identify was delivered less than 600 s ago",
        // Final state: users with camelCase traits as snake_case custom fields.
        "Ada Lovelace",
        "plan_name=Enterprise Plus",
        "total_billed=2400",
        "is_beta_tester=true",
        "plan_name=Team",
        "grace.hopper@navy.example",
        "Globex Corporation",
        "Umbrella Labs",
        "Peter Gibbons",
        "Order o-1 arrived damaged",
        "Summary: 18 events",
        // A warehouse row and an audience list.
        "record (",
        "audiencelist (",
        "power_users=true",
        "0 failed",
    ];
    for text in expect {
        assert!(stdout.contains(text), "missing {text:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("FAILED"), "{stdout}");
    // Grace joined Globex through company.id; Peter left Initech through company.remove.
    let row_with = |a: &str, b: &str| stdout.lines().any(|l| l.contains(a) && l.contains(b));
    assert!(
        row_with("Grace Hopper (u-1002)", "Globex Corporation"),
        "{stdout}"
    );
    assert!(
        row_with("Ada Lovelace (u-1001)", "Globex Corporation"),
        "{stdout}"
    );
    assert!(!row_with("Peter Gibbons (u-1003)", "Initech"), "{stdout}");
    // The demo config's token is never echoed.
    assert!(!stdout.contains("demo-token") && !stderr.contains("demo-token"));
}

/// The README's excerpt of the demo's output is what the demo prints: its lines appear in the
/// real output in order (`...` stands for lines left out). The demo data's README describes
/// every line of the sample stream.
#[test]
fn the_readmes_demo_excerpt_and_data_notes_match_what_runs() {
    let output = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .arg("demo")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let real: Vec<&str> = stdout.lines().map(str::trim_end).collect();
    let readme = include_str!("../../../README.md");
    let section = &readme[readme.find("## The demo").unwrap()..];
    let block = section.split("```").nth(1).unwrap();
    let mut at = 0;
    for line in block.lines().map(str::trim_end) {
        if line.trim().is_empty() || line.trim() == "..." {
            continue;
        }
        match real[at..].iter().position(|r| *r == line) {
            Some(found) => at += found + 1,
            None => panic!("README demo line not in the output (in order): {line:?}\n{stdout}"),
        }
    }

    let notes = include_str!("../../demo/README.md");
    let events = include_str!("../../demo/events.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    for n in 1..=events {
        let numbered = notes.contains(&format!(" {n}. "))
            || notes.contains(&format!("{n}-"))
            || notes.contains(&format!("-{n}. "));
        assert!(
            numbered,
            "host-test/demo/README.md does not describe line {n}"
        );
    }
    assert!(
        !notes.contains(&format!(" {}. ", events + 1)),
        "a line the stream does not have"
    );
}

/// `describe`: the WIT's names, the contract version, the settings schema as JSON.
#[test]
fn describe_prints_the_description_under_the_wits_names() {
    let output = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .arg("describe")
        .output()
        .unwrap();
    assert!(output.status.success());
    let description: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(description["name"], "zendesk");
    assert_eq!(description["contract-version"], "0.3.0");
    assert!(
        description["settings-schema"]["properties"]["subdomain"].is_object(),
        "{description}"
    );
    assert!(
        description["event-types"]
            .as_array()
            .unwrap()
            .contains(&json!("identify"))
    );
    assert!(description["max-batch-size"].as_u64().unwrap() >= 1);
    assert!(description.get("settings_schema").is_none());
}

/// `host-test mock-zendesk`: serves on a loopback port, prints where, and on SIGTERM writes the
/// final state to --state-out.
#[test]
fn the_mock_server_command_serves_and_writes_its_state_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("state.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .args(["mock-zendesk", "--listen", "127.0.0.1:0", "--state-out"])
        .arg(&state_path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    let mut second = String::new();
    stdout.read_line(&mut second).unwrap();
    assert_eq!(second.trim(), format!("state: http://{addr}/__mock/state"));

    // A user created over HTTP shows up in the state file.
    let body = r#"{"user":{"name":"Ann","email":"ann@example.com"}}"#;
    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST /api/v2/users/create_or_update HTTP/1.1\r\nHost: {addr}\r\nX-Zendesk-Subdomain: acme\r\n\
         Authorization: Basic eDp5\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    assert_eq!(state["acme"]["users"][0]["name"], "Ann", "{state:#}");
}

/// The binary's exit status: 0 all handled, 1 something dead-lettered, 2 usage errors.
#[test]
fn run_exits_0_1_or_2() {
    let dir = tempfile::tempdir().unwrap();
    let tenants_path = dir.path().join("tenants.json");
    let config = r#"{"subdomain": "a", "email": "admin@a.example", "apiToken": "token-a"}"#;
    std::fs::write(
        &tenants_path,
        format!(r#"{{"tenants": {{"a": {config}}}}}"#),
    )
    .unwrap();
    let good = dir.path().join("good.jsonl");
    let identify = r#"{"type": "identify", "userId": "u1", "traits": {"name": "Ann", "email": "ann@example.com"}}"#;
    std::fs::write(&good, format!(r#"{{"tenant": "a", "event": {identify}}}"#)).unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "not json\n").unwrap();

    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_host-test"))
            .args(args)
            .output()
            .expect("the binary runs")
    };
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let (t, g, b) = (path(&tenants_path), path(&good), path(&bad));

    let ok = run(&["run", "--mock", "--tenants", &t, "--events", &g]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(stdout.contains("mock Zendesk account `a`"), "{stdout}");
    assert!(stdout.contains("Ann"), "{stdout}");

    let failed = run(&["run", "--mock", "--tenants", &t, "--events", &b]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("1 dead-lettered"));

    assert_eq!(run(&["run", "--tenants", &t]).status.code(), Some(2));
    assert_eq!(
        run(&["run", "--mock", "--tenants", &g, "--events", &g])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["run", "--watch", "--tenants", &t, "--events", &g])
            .status
            .code(),
        Some(2),
        "--watch needs --plugin"
    );
    let remote = run(&[
        "run",
        "--zendesk-origin",
        "http://example.com",
        "--tenants",
        &t,
        "--events",
        &g,
    ]);
    assert_eq!(remote.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&remote.stderr).contains("loopback"));
    let exposed = run(&["mock-zendesk", "--listen", "0.0.0.0:0"]);
    assert_eq!(exposed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&exposed.stderr).contains("loopback"));
}

/// `host-test mock-zendesk --oauth-client`: a person can try OAuth over HTTP. The first refresh
/// token goes to a private file, a refresh over HTTP rotates it, and the new access token opens
/// the API while a made-up one gets Zendesk's 401.
#[test]
fn the_mock_server_serves_oauth_over_http() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::os::unix::fs::PermissionsExt as _;
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let grants_path = dir.path().join("grants.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .args(["mock-zendesk", "--listen", "127.0.0.1:0"])
        .args([
            "--oauth-client",
            "acme:cdp:client-secret",
            "--access-ttl",
            "10s",
        ])
        .arg("--oauth-grants")
        .arg(&grants_path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let mode = std::fs::metadata(&grants_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let grants: Value =
        serde_json::from_str(&std::fs::read_to_string(&grants_path).unwrap()).unwrap();
    let refresh_token = grants["acme"]["cdp"].as_str().unwrap().to_string();

    let send = |method: &str, path: &str, headers: &str, body: &str| -> (u16, Value) {
        let mut stream = TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nX-Zendesk-Subdomain: acme\r\n{headers}\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    };
    let refresh = json!({"grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": "cdp", "client_secret": "client-secret"})
    .to_string();
    let (status, answer) = send("POST", "/oauth/tokens", "", &refresh);
    assert_eq!(status, 200);
    assert_eq!(answer["expires_in"], 10);
    assert_ne!(
        answer["refresh_token"].as_str(),
        Some(refresh_token.as_str())
    );
    let bearer = format!(
        "Authorization: Bearer {}\r\n",
        answer["access_token"].as_str().unwrap()
    );
    assert_eq!(send("GET", "/api/v2/users", &bearer, "").0, 200);
    let (status, refused) = send(
        "GET",
        "/api/v2/users",
        "Authorization: Bearer made-up\r\n",
        "",
    );
    assert_eq!((status, &refused["error"]), (401, &json!("invalid_token")));
    // The first refresh token was rotated away.
    let (status, reused) = send("POST", "/oauth/tokens", "", &refresh);
    assert_eq!((status, &reused["error"]), (400, &json!("invalid_grant")));

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
