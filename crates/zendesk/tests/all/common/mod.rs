//! The mock Zendesk as the guest's host, natively (no wasm), with an in-memory cache.

#![allow(dead_code)]

use mock_zendesk::MockZendesk;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::HashMap;
use zendesk::{Error, FetchError, Host, HttpRequest, HttpResponse, Level, Outcome, transform};

pub const SUB: &str = "acme";

pub struct MockHost {
    pub mock: MockZendesk,
    pub cache: RefCell<HashMap<String, String>>,
    pub logs: RefCell<Vec<String>>,
    /// Virtual milliseconds `wait` has left in the current call (no real sleeping).
    pub wait_left_ms: std::cell::Cell<u64>,
}

/// What a call may wait in total, as a host's wall budget would allow.
pub const WAIT_BUDGET_MS: u64 = 20_000;

impl MockHost {
    pub fn new() -> Self {
        Self::with_mock(MockZendesk::new())
    }

    pub fn with_mock(mock: MockZendesk) -> Self {
        MockHost {
            mock,
            cache: RefCell::default(),
            logs: RefCell::default(),
            wait_left_ms: std::cell::Cell::new(WAIT_BUDGET_MS),
        }
    }

    /// Delivers `event` under the base config plus `config`; panics on an error.
    pub fn send(&self, config: &Value, event: Value) -> Outcome {
        self.try_send(config, &event)
            .unwrap_or_else(|e| panic!("{event}: {e}"))
    }

    pub fn try_send(&self, config: &Value, event: &Value) -> Result<Outcome, Error> {
        self.wait_left_ms.set(WAIT_BUDGET_MS);
        transform(self, &base_config(config), &event.to_string())
    }

    /// Delivers `events` in one `transform_batch` call under the base config plus `config`.
    pub fn send_batch(
        &self,
        config: &Value,
        events: &[Value],
    ) -> Result<Vec<Result<Outcome, Error>>, Error> {
        self.wait_left_ms.set(WAIT_BUDGET_MS);
        let texts: Vec<String> = events.iter().map(Value::to_string).collect();
        zendesk::transform_batch(self, &base_config(config), &texts)
    }

    /// `METHOD path` of every request since the last call, and forgets them.
    pub fn take_calls(&self) -> Vec<String> {
        let calls = self
            .mock
            .requests_for(SUB)
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        self.mock.clear_requests();
        calls
    }
}

impl Host for MockHost {
    fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let response = self.mock.handle(&mock_zendesk::Request {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body.unwrap_or_default(),
        });
        Ok(HttpResponse {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
    fn cache_get(&self, key: &str) -> Option<String> {
        self.cache.borrow().get(key).cloned()
    }
    fn cache_set(&self, key: &str, value: &str, _ttl_seconds: u32) {
        self.cache.borrow_mut().insert(key.into(), value.into());
    }
    fn cache_remove(&self, key: &str) {
        self.cache.borrow_mut().remove(key);
    }
    fn log(&self, _level: Level, message: &str, _fields: &[(&str, &str)]) {
        self.logs.borrow_mut().push(message.to_string());
    }
    fn wait(&self, millis: u32) -> bool {
        let left = self.wait_left_ms.get();
        let wanted = u64::from(millis);
        self.wait_left_ms.set(left.saturating_sub(wanted));
        wanted <= left
    }
}

/// Makes `host`'s mock fail 30% of requests (429, 500, 503, 409) and 20% of bulk jobs and of
/// their items, deterministically for `seed`.
pub fn inject_faults(host: &MockHost, seed: u64) {
    let faults: mock_zendesk::Faults =
        format!("rate=0.3,seed={seed},kinds=429|500|503|409,retry_after=1")
            .parse()
            .expect("a valid fault spec");
    host.mock.set_faults(faults);
    host.mock.set_bulk(
        SUB,
        mock_zendesk::BulkSettings {
            job_failure_rate: 0.2,
            item_failure_rate: 0.2,
            seed,
            ..Default::default()
        },
    );
}

pub fn base_config(extra: &Value) -> String {
    let mut config = json!({"subdomain": SUB, "email": "admin@acme.com", "apiToken": "t0k"});
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    config.to_string()
}
