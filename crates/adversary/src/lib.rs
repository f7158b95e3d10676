//! A hostile guest for the host's sandbox tests. It implements the destination contract and
//! misbehaves on request: the event's `type` picks the behaviour.
//!
//! - `ok`: returns an empty outcome;
//! - `fetch`: GETs the event's `url` and reports one operation with the status (fetch errors are
//!   mapped like the Zendesk plugin maps them);
//! - `loop`: spins forever without allocating;
//! - `alloc`: allocates and touches `mib` MiB;
//! - `panic`: panics;
//! - `log-flood`: logs records of `bytes` bytes (default 64 KiB) until the host stops it;
//! - `fetch-flood`: GETs the event's `url` until the host stops it;
//! - `big-body`: POSTs a body of `mib` MiB to the event's `url`;
//! - `stash`: keeps the event's `secret` (as `stash:<secret>`) in a static and in leaked heap
//!   memory, then fails with how many copies its linear memory holds (at least 2);
//! - `peek`: fails with how many `stash:<secret>` copies its linear memory holds: a fresh
//!   instance must hold none, whoever ran in its pool slot before;
//! - `leak`: puts its whole config in a log record, a request (query, header and body) and its
//!   error, so tests can prove the host scrubs credentials from everything it returns.
//!
//! `fetch` sends the event's `headers` (a list of `[name, value]`) after its own Authorization,
//! so tests can try to smuggle routing or credential headers past the host.
//!
//! It is built against the frozen `cdp:destination@0.1.0` contract: the tests use it to prove
//! that 0.1.0 components keep loading in newer hosts.
//!
//! Only built for wasm32 (native builds of the workspace get an empty crate).
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../wit/v0.1.0",
    world: "destination-plugin",
});

use cdp::destination::{http_fetch, log};
use exports::cdp::destination::destination::{
    Description, Error, Guest, Operation, Outcome, Rejection, Retry,
};

struct Adversary;

impl Guest for Adversary {
    fn transform(config: String, event: String) -> Result<Outcome, Error> {
        let event: serde_json::Value = serde_json::from_str(&event)
            .map_err(|e| Error::InvalidEvent(format!("event is not JSON: {e}")))?;
        let behaviour = event.get("type").and_then(|t| t.as_str()).unwrap_or("");
        match behaviour {
            "ok" => Ok(empty_outcome()),
            "fetch" => fetch("GET", url(&event), extra_headers(&event), None),
            "log-flood" => {
                let bytes = event
                    .get("bytes")
                    .and_then(|b| b.as_u64())
                    .unwrap_or(64 * 1024);
                let line = "x".repeat(bytes as usize);
                loop {
                    log::log(log::Level::Info, &line, &[("flood".into(), line.clone())]);
                }
            }
            "fetch-flood" => loop {
                fetch("GET", url(&event), Vec::new(), None)?;
            },
            "leak" => {
                log::log(
                    log::Level::Info,
                    &config,
                    &[("config".into(), config.clone())],
                );
                let query: String = config.chars().filter(char::is_ascii_alphanumeric).collect();
                let url = format!("{}?leak={query}", url(&event));
                let headers = vec![("X-Leak".into(), config.clone())];
                let _ = fetch("POST", &url, headers, Some(config.clone().into_bytes()));
                Err(Error::InvalidEvent(format!("leaking {config}")))
            }
            "big-body" => {
                let mib = event.get("mib").and_then(|m| m.as_u64()).unwrap_or(8);
                let body = vec![b'x'; (mib as usize) << 20];
                fetch("POST", url(&event), Vec::new(), Some(body))
            }
            "loop" => spin_forever(),
            // Blocks in WASI (monotonic-clock subscribe + poll) instead of spinning.
            "sleep" => {
                let seconds = event
                    .get("seconds")
                    .and_then(|s| s.as_u64())
                    .unwrap_or(3600);
                std::thread::sleep(std::time::Duration::from_secs(seconds));
                Ok(empty_outcome())
            }
            "alloc" => {
                let mib = event.get("mib").and_then(|m| m.as_u64()).unwrap_or(512);
                Ok(allocate(mib))
            }
            "panic" => panic!("adversary panics on purpose"),
            "stash" => {
                let secret = event.get("secret").and_then(|s| s.as_str()).unwrap_or("");
                let stashed = format!("{STASH_PREFIX}{secret}");
                *STASH.lock().unwrap_or_else(|p| p.into_inner()) = stashed.clone();
                Box::leak(stashed.into_boxed_str());
                Err(Error::InvalidEvent(format!(
                    "stashed; copies: {}",
                    copies_in_memory(secret)
                )))
            }
            "peek" => {
                let secret = event.get("secret").and_then(|s| s.as_str()).unwrap_or("");
                Err(Error::InvalidEvent(format!(
                    "copies: {}",
                    copies_in_memory(secret)
                )))
            }
            other => Err(Error::UnsupportedEvent(format!(
                "unknown behaviour `{other}`"
            ))),
        }
    }

    fn describe() -> Description {
        Description {
            name: "adversary".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            event_types: [
                "ok",
                "fetch",
                "loop",
                "alloc",
                "panic",
                "log-flood",
                "fetch-flood",
                "big-body",
                "leak",
                "stash",
                "peek",
            ]
            .map(String::from)
            .into(),
            settings_schema: "{}".into(),
        }
    }

    fn validate_config(_config: String) -> Result<(), Error> {
        Ok(())
    }
}

static STASH: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
const STASH_PREFIX: &str = "stash:";

/// How many times `stash:<secret>` appears anywhere in this instance's linear memory. The
/// pattern is compared piecewise, so the search itself leaves no copy of it.
fn copies_in_memory(secret: &str) -> usize {
    let size = core::arch::wasm32::memory_size::<0>() * 65536;
    // SAFETY: a wasm32 guest may read all of its own linear memory (address 0 is skipped).
    let memory = unsafe { core::slice::from_raw_parts(1 as *const u8, size - 1) };
    let (prefix, secret) = (STASH_PREFIX.as_bytes(), secret.as_bytes());
    let length = prefix.len() + secret.len();
    memory
        .windows(length)
        .filter(|window| window.starts_with(prefix) && window.ends_with(secret))
        .count()
}

fn empty_outcome() -> Outcome {
    Outcome {
        operations: Vec::new(),
        skipped: None,
    }
}

fn url(event: &serde_json::Value) -> &str {
    event.get("url").and_then(|u| u.as_str()).unwrap_or("")
}

/// The event's `headers`: `[["name", "value"], ...]`.
fn extra_headers(event: &serde_json::Value) -> Vec<(String, String)> {
    let pairs = event.get("headers").and_then(|h| h.as_array());
    pairs
        .into_iter()
        .flatten()
        .filter_map(|pair| {
            let name = pair.get(0)?.as_str()?;
            let value = pair.get(1)?.as_str()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

fn fetch(
    method: &str,
    url: &str,
    extra: Vec<(String, String)>,
    body: Option<Vec<u8>>,
) -> Result<Outcome, Error> {
    let mut headers = vec![("Authorization".into(), "Bearer adversary-secret".into())];
    headers.extend(extra);
    let request = http_fetch::Request {
        method: method.into(),
        url: url.into(),
        headers,
        body,
    };
    match http_fetch::fetch(&request) {
        Ok(response) => Ok(Outcome {
            operations: vec![Operation {
                method: method.into(),
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
