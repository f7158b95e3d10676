//! The ingest contract with a plain NATS client (not the project's producer): events on
//! `cdp.ingest` and `cdp.ingest.<tenant>` are partitioned by the workers' router, delivered in
//! per-key order together with `produce`'s, and deduplicated by message id across both paths.
//! Nothing published under the prefix is stranded: strays under `cdp.events.` are re-routed
//! or dead-lettered, counted.

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::HeaderMap;
use serde_json::{Value, json};

use crate::common::fleet::{Worker, dead_letters, produce, start_nats, wait_until};
use crate::fleet::{config, identify, metric_sum, sequences};
use mock_zendesk::MockZendesk;
use mock_zendesk::server::serve;

/// Publishes with JetStream's acknowledgement; whether it was a duplicate.
async fn publish(
    js: &async_nats::jetstream::Context,
    subject: &str,
    id: Option<&str>,
    body: Value,
) -> bool {
    let mut headers = HeaderMap::new();
    if let Some(id) = id {
        headers.insert("Nats-Msg-Id", id);
    }
    js.publish_with_headers(subject.to_string(), headers, body.to_string().into())
        .await
        .expect("published")
        .await
        .expect("stored")
        .duplicate
}

#[test]
fn a_plain_nats_client_publishes_to_the_ingest_subject() {
    let Some(nats) = start_nats() else {
        return;
    };
    let mock = MockZendesk::new();
    let server = serve(mock.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let origin = format!("http://{}", server.addr());
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.json");
    let manifest =
        json!({"tenants": {"acme": config("acme", "t-acme"), "beta": config("beta", "t-beta")}});
    std::fs::write(&tenants, manifest.to_string()).unwrap();
    let worker = Worker::start(
        &nats.url,
        &tenants,
        &origin,
        &["--metrics", "127.0.0.1:0"],
        dir.path().join("worker.log"),
    );
    wait_until(Duration::from_secs(20), "the worker's streams", || {
        std::fs::read_to_string(&worker.log)
            .unwrap_or_default()
            .contains("started")
    });

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = async_nats::connect(&nats.url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        for seq in 0..10 {
            for user in 0..4 {
                // acme: the `{"tenant", "event"}` wrapper on `cdp.ingest`, with a dedupe id.
                let line = identify("acme", user, seq);
                let id = line["event"]["messageId"].as_str().unwrap().to_string();
                assert!(!publish(&js, "cdp.ingest", Some(&id), line).await);
                // beta: the bare event on its tenant's subject, as a bridge forwards it.
                let line = identify("beta", user, seq);
                assert!(!publish(&js, "cdp.ingest.beta", None, line["event"].clone()).await);
            }
        }
        // The same ids again: dropped by JetStream.
        for user in 0..4 {
            let line = identify("acme", user, 3);
            let id = line["event"]["messageId"].as_str().unwrap().to_string();
            assert!(publish(&js, "cdp.ingest", Some(&id), line).await);
        }
        // Strays under the events prefix, and a message that is not an event.
        publish(&js, "cdp.events.99", None, identify("acme", 9, 0)).await;
        js.publish("cdp.events.junk", "not json".into())
            .await
            .unwrap()
            .await
            .unwrap();
        js.publish("cdp.ingest", "{\"tenant\": \"acme\"".into())
            .await
            .unwrap()
            .await
            .unwrap();
    });
    // `produce` sends beta's events again (same messageIds: delivered once) and a later step.
    let lines: Vec<String> = (0..4)
        .flat_map(|user| [identify("beta", user, 5), identify("beta", user, 10)])
        .map(|line| line.to_string())
        .collect();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, lines.join("\n")).unwrap();
    let (status, stderr) = produce(&nats.url, &events);
    assert_eq!(status, 0, "{stderr}");

    let complete = |tenant: &str, steps: usize| {
        let seen = sequences(&mock, tenant);
        (0..4).all(|u| seen.get(&format!("u{u}")).is_some_and(|s| s.len() == steps))
    };
    wait_until(Duration::from_secs(60), "every event delivered", || {
        complete("acme", 10) && complete("beta", 11) && sequences(&mock, "acme").contains_key("u9")
    });
    wait_until(Duration::from_secs(20), "the dead letters", || {
        dead_letters(&nats.url, false).len() == 2
    });

    // Each user's steps once each, in order, whichever path they took.
    for (tenant, steps) in [("acme", 10), ("beta", 11)] {
        for (user, seqs) in sequences(&mock, tenant) {
            if user == "u9" {
                continue;
            }
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "{tenant} {user}: {seqs:?}"
            );
            assert_eq!(
                seqs.iter().collect::<BTreeSet<_>>().len(),
                steps,
                "{tenant} {user}"
            );
        }
    }
    let letters = dead_letters(&nats.url, false);
    let by_source = |source: &str| letters.iter().find(|l| l["source"] == source).cloned();
    let junk = by_source("nats:cdp.events.junk").expect("the stray is a dead letter");
    assert!(
        junk["error"]
            .as_str()
            .unwrap()
            .contains("which no partition reads"),
        "{junk}"
    );
    let bad = by_source("nats:cdp.ingest").expect("the bad message is a dead letter");
    assert!(bad["error"].as_str().unwrap().contains("not JSON"), "{bad}");
    assert_eq!(bad["error_class"], "malformed-input");

    let count = |outcome: &str| {
        metric_sum(
            &worker,
            &format!("cdp_ingest_total{{outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(count("routed"), 80.0);
    assert_eq!(count("dead_lettered"), 1.0);
    assert_eq!(count("stray_rerouted"), 1.0);
    assert_eq!(count("stray_dead_lettered"), 1.0);
    assert_eq!(worker.terminate(Duration::from_secs(30)), 0);
}
