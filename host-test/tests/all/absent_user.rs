// Named to sort first: libtest starts tests in name order, and this one mostly waits (150 s).
//! The seed scenario "track for an unknown user without email": with `run`'s defaults (a
//! 10-minute retry budget), it is dead-lettered within three minutes (the plugin's window for
//! Zendesk's search lag), naming the user, and holds back nothing else. An audience list that
//! names a user whose identify comes after it (another order key) waits for them too, and ends
//! with them in the audience, not "delivered" without them.

use std::path::Path;
use std::time::{Duration, Instant};

use host_test::runner::{self, RunOptions, Target};
use mock_zendesk::MockZendesk;
use serde_json::{Value, json};

#[test]
fn a_track_for_a_user_that_never_appears_is_dead_lettered_within_three_minutes() {
    let mock = MockZendesk::new();
    let dir = tempfile::tempdir().unwrap();
    let dead_letters = dir.path().join("dead.jsonl");
    let tenants = json!({"tenants": {"acme": {"subdomain": "acme", "email": "admin@acme.com",
        "apiToken": "t0k3n", "audienceKey": "vip"}}})
    .to_string();
    let events = [
        json!({"tenant": "acme", "event": {"type": "track", "userId": "u-typo", "event": "Paid"}}),
        json!({"tenant": "acme", "event": {"type": "audiencelist",
            "properties": {"listData": {"add": [{"userId": "u-1"}], "remove": []}}}}),
        json!({"tenant": "acme", "event": {"type": "identify", "userId": "u-1",
            "traits": {"name": "Ann", "email": "ann@example.com"}}}),
    ]
    .map(|line| line.to_string())
    .join("\n");
    let mut options = RunOptions::new(tenants, events, Target::Mock(mock.clone()));
    options.dead_letter = Some(dead_letters.clone());
    let started = Instant::now();
    let summary = runner::run(options).expect("the run completes");
    let took = started.elapsed();

    assert!(took < Duration::from_secs(180), "took {took:?}");
    assert!(
        took >= Duration::from_secs(150),
        "the search lag is waited for: {took:?}"
    );
    assert_eq!((summary.delivered, summary.dead_lettered), (2, 1));
    let account = mock.account("acme");
    assert_eq!(account.users.len(), 1, "the other user is not held back");
    // The list, which may run before Ann's identify (another key), waits for her and puts
    // her in.
    assert_eq!(account.users[0].user_fields["vip"], true);
    let letters = read(&dead_letters);
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["error_class"], "rejected");
    let error = letters[0]["error"].as_str().unwrap();
    assert!(error.contains("external_id \"u-typo\""), "{error}");
    assert_eq!(letters[0]["attempts"], 4, "at 0, 60, 120 and 150 s");
}

fn read(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}
