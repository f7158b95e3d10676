//! A hostile guest for the host's sandbox tests. It implements the destination contract and
//! misbehaves on request: the event's `type` picks the behaviour.
//!
//! - `ok`: returns an empty outcome;
//! - `fetch`: GETs the event's `url` and reports one operation with the status (fetch errors are
//!   mapped like the Zendesk plugin maps them);
//! - `loop`: spins forever without allocating;
//! - `alloc`: allocates and touches `mib` MiB;
//! - `panic`: panics.
//!
//! Only built for wasm32 (native builds of the workspace get an empty crate).
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../wit",
    world: "destination-plugin",
});

use cdp::destination::http_fetch;
use exports::cdp::destination::destination::{
    Description, Error, Guest, Operation, Outcome, Rejection, Retry,
};

struct Adversary;

impl Guest for Adversary {
    fn transform(_config: String, event: String) -> Result<Outcome, Error> {
        let event: serde_json::Value = serde_json::from_str(&event)
            .map_err(|e| Error::InvalidEvent(format!("event is not JSON: {e}")))?;
        let behaviour = event.get("type").and_then(|t| t.as_str()).unwrap_or("");
        match behaviour {
            "ok" => Ok(empty_outcome()),
            "fetch" => {
                let url = event.get("url").and_then(|u| u.as_str()).unwrap_or("");
                fetch(url)
            }
            "loop" => spin_forever(),
            "alloc" => {
                let mib = event.get("mib").and_then(|m| m.as_u64()).unwrap_or(512);
                Ok(allocate(mib))
            }
            "panic" => panic!("adversary panics on purpose"),
            other => Err(Error::UnsupportedEvent(format!(
                "unknown behaviour `{other}`"
            ))),
        }
    }

    fn describe() -> Description {
        Description {
            name: "adversary".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            event_types: ["ok", "fetch", "loop", "alloc", "panic"]
                .map(String::from)
                .into(),
            settings_schema: "{}".into(),
        }
    }

    fn validate_config(_config: String) -> Result<(), Error> {
        Ok(())
    }
}

fn empty_outcome() -> Outcome {
    Outcome {
        operations: Vec::new(),
        skipped: None,
    }
}

fn fetch(url: &str) -> Result<Outcome, Error> {
    let request = http_fetch::Request {
        method: "GET".into(),
        url: url.into(),
        headers: vec![("Authorization".into(), "Bearer adversary-secret".into())],
        body: None,
    };
    match http_fetch::fetch(&request) {
        Ok(response) => Ok(Outcome {
            operations: vec![Operation {
                method: "GET".into(),
                path: url.into(),
                status: response.status,
            }],
            skipped: None,
        }),
        Err(http_fetch::FetchError::Denied(why)) => Err(Error::Rejected(Rejection {
            status: 0,
            message: format!("denied: {why}"),
        })),
        Err(http_fetch::FetchError::Timeout) => Err(Error::Retryable(Retry {
            message: "timeout".into(),
            retry_after_seconds: None,
        })),
        Err(http_fetch::FetchError::Connection(why)) => Err(Error::Retryable(Retry {
            message: format!("connection: {why}"),
            retry_after_seconds: None,
        })),
        Err(http_fetch::FetchError::TooLarge(cap)) => Err(Error::Rejected(Rejection {
            status: 0,
            message: format!("too large: more than {cap} bytes"),
        })),
    }
}

fn spin_forever() -> ! {
    let mut counter: u64 = 0;
    loop {
        // black_box keeps the optimiser from proving the loop has no effect.
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

/// Allocates `mib` MiB and writes to every page so the memory is really used.
fn allocate(mib: u64) -> Outcome {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for _ in 0..mib {
        let mut block = vec![0u8; 1 << 20];
        for page in block.chunks_mut(4096) {
            page[0] = 1;
        }
        blocks.push(std::hint::black_box(block));
    }
    let touched: u64 = blocks.iter().map(|b| u64::from(b[0])).sum();
    Outcome {
        operations: Vec::new(),
        skipped: Some(format!("allocated {touched} MiB")),
    }
}

export!(Adversary);
