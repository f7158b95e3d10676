//! A source of events is small: it owns its queue and its acknowledgements, and the library's
//! delivery [`Engine`] owns each event's lifecycle (admission, the plugin call, the charge per
//! event, settling, the dead-letter record). This one delivers from an in-memory channel, in
//! order, one event at a time: a template for a Kafka consumer, an HTTP endpoint or a
//! platform's own queue.
//!
//! `cargo run -p destination-host --example channel_source -- zendesk.wasm` sends two events to
//! the real `acme.zendesk.com` (they fail there without real credentials: the dead letters say
//! why). The reference host's tests run the same `deliver_channel` against the mock.

use std::error::Error;
use std::path::Path;
use std::sync::{Arc, mpsc};

use destination_host::delivery::{Attempt, Attempted, DeadLetter, Engine, Settlement};
use destination_host::{
    HttpTransport, Limits, PluginSlot, RetryPolicy, Runtime, RuntimeOptions, Tenant, Transport,
};

fn main() -> Result<(), Box<dyn Error>> {
    let Some(plugin) = std::env::args().nth(1) else {
        return Err("usage: channel_source PLUGIN.wasm".into());
    };
    let (events, receiver) = mpsc::channel();
    events.send(
        r#"{"type": "identify", "userId": "u1", "traits": {"email": "ann@example.com"}}"#
            .to_string(),
    )?;
    events.send(r#"{"type": "track", "userId": "u1", "event": "Signed Up"}"#.to_string())?;
    drop(events);
    let fates = deliver_channel(plugin.as_ref(), receiver, Arc::new(HttpTransport::new()))?;
    for fate in fates {
        println!("{fate:?}");
    }
    Ok(())
}

/// How one event ended.
#[derive(Debug, PartialEq)]
pub enum Fate {
    Delivered { calls: u64 },
    Skipped(String),
    DeadLettered(DeadLetter),
}

/// Delivers every event of `receiver` for tenant `acme` until the channel closes.
pub fn deliver_channel(
    plugin: &Path,
    receiver: mpsc::Receiver<String>,
    transport: Arc<dyn Transport>,
) -> Result<Vec<Fate>, Box<dyn Error>> {
    let runtime = Arc::new(Runtime::new(RuntimeOptions::default())?);
    let slot = Arc::new(PluginSlot::new(runtime.load_plugin_file(plugin)?));
    let engine = Engine::new(runtime, slot, RetryPolicy::default());
    let config = r#"{"subdomain": "acme", "email": "admin@acme.com", "apiToken": "s3cr3t-t0ken"}"#;
    let tenant = Tenant::new("acme", config, Limits::default(), transport)
        .with_allowed_origins(["https://{subdomain}.zendesk.com".parse()?]);

    let mut fates = Vec::new();
    for (line, event) in receiver.into_iter().enumerate() {
        let started = std::time::Instant::now();
        let mut attempt = Attempt {
            event,
            earlier_attempts: 0,
            elapsed: Default::default(),
        };
        // The channel is this source's queue: an event waiting for its retry waits here.
        let fate = loop {
            let mut call = match engine.attempt(&tenant, std::slice::from_ref(&attempt)) {
                Attempted::Paced(wait) => {
                    std::thread::sleep(wait);
                    continue;
                }
                Attempted::Called(call) => call,
            };
            let result = call.results.remove(0);
            match result.settlement {
                Settlement::Delivered(_) => {
                    break Fate::Delivered {
                        calls: result.calls,
                    };
                }
                Settlement::Skipped(reason) => break Fate::Skipped(reason),
                Settlement::DeadLetter(error) => {
                    let event: serde_json::Value = serde_json::from_str(&attempt.event)?;
                    let letter =
                        DeadLetter::of_event(line + 1, &tenant.id, &event, &error, result.attempts);
                    break Fate::DeadLettered(letter);
                }
                Settlement::RetryAfter(wait) => {
                    std::thread::sleep(wait);
                    attempt.earlier_attempts = result.attempts;
                    attempt.elapsed = started.elapsed();
                }
            }
        };
        fates.push(fate);
    }
    Ok(fates)
}
