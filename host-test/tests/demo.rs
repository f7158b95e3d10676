//! `host-test demo` end to end: the bundled sample through the real plugin and the mock.

use std::process::Command;

#[test]
fn the_demo_delivers_the_sample_and_shows_the_final_state() {
    let output = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .arg("demo")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");

    let expect = [
        // Per event: the calls with their statuses and the plugin version.
        "POST /api/v2/users/create_or_update -> 201",
        "POST /api/v2/users/create_or_update -> 200",
        "[plugin ",
        // The allow-list skip and the unsupported page event.
        "track \"Newsletter Opened\"",
        "skipped",
        "page (userId u-1001) -> skipped",
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
        "Summary: 15 events",
        "0 failed",
    ];
    for text in expect {
        assert!(stdout.contains(text), "missing {text:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("FAILED"), "{stdout}");
    // Grace joined Globex through company.id; Peter left Initech through company.remove.
    let row_with = |a: &str, b: &str| stdout.lines().any(|l| l.contains(a) && l.contains(b));
    assert!(row_with("Grace Hopper (u-1002)", "Globex Corporation"), "{stdout}");
    assert!(row_with("Ada Lovelace (u-1001)", "Globex Corporation"), "{stdout}");
    assert!(!row_with("Peter Gibbons (u-1003)", "Initech"), "{stdout}");
    // The demo config's token is never echoed.
    assert!(!stdout.contains("demo-token") && !stderr.contains("demo-token"));
}
