//! The library's example source (`crates/destination-host/examples/channel_source.rs`): a queue
//! of its own, the delivery engine for each event. Run here against the mock.

#[allow(dead_code)] // its `main` is for `cargo run --example channel_source`
#[path = "../../../crates/destination-host/examples/channel_source.rs"]
mod example;

use std::path::Path;
use std::sync::{Arc, mpsc};

use host_test::transports::MockTransport;
use mock_zendesk::MockZendesk;
use serde_json::json;

use example::{Fate, deliver_channel};

#[test]
fn the_example_source_delivers_from_a_channel_and_dead_letters_what_fails() {
    let mock = MockZendesk::new();
    let (events, receiver) = mpsc::channel();
    for event in [
        json!({"type": "identify", "userId": "u1", "traits": {"name": "Ann", "email": "ann@example.com"}}),
        json!({"type": "track", "userId": "u1", "event": "Signed Up"}),
        json!({"type": "page", "userId": "u1"}),
        json!({"type": "identify", "userId": 7}),
    ] {
        events.send(event.to_string()).unwrap();
    }
    drop(events);
    let fates = deliver_channel(
        Path::new(env!("ZENDESK_WASM")),
        receiver,
        Arc::new(MockTransport::new(mock.clone())),
    )
    .expect("the source runs");

    assert_eq!(fates.len(), 4);
    assert!(
        matches!(fates[0], Fate::Delivered { calls } if calls >= 1),
        "{:?}",
        fates[0]
    );
    assert_eq!(fates[1], Fate::Delivered { calls: 1 });
    assert!(
        matches!(&fates[2], Fate::Skipped(reason) if reason.contains("page")),
        "{:?}",
        fates[2]
    );
    let Fate::DeadLettered(letter) = &fates[3] else {
        panic!("{:?}", fates[3]);
    };
    assert_eq!(
        (letter.line, letter.error_class.as_str(), letter.attempts),
        (4, "invalid-event", 1)
    );
    let account = mock.account("acme");
    assert_eq!(account.users.len(), 1);
    assert_eq!(
        account.events.len(),
        1,
        "the track became one Zendesk event"
    );
}
