//! Test doubles: a scripted Zendesk (responses keyed by method + path) that records every request,
//! with an in-memory cache and log.

use crate::config::Config;
use crate::host::{FetchError, Host, HttpRequest, HttpResponse, Level};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

type Scripted = Result<HttpResponse, FetchError>;
type LogRecord = (Level, String, Vec<(String, String)>);

#[derive(Default)]
pub struct FakeHost {
    /// Per `METHOD path`: answers in order; the last one repeats.
    script: RefCell<HashMap<String, VecDeque<Scripted>>>,
    requests: RefCell<Vec<HttpRequest>>,
    pub cache: RefCell<HashMap<String, (String, u32)>>,
    pub logs: RefCell<Vec<LogRecord>>,
    /// The clock, in seconds since the epoch (moved by the tests).
    pub now: std::cell::Cell<u64>,
}

impl FakeHost {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on(&self, method: &str, path: &str, status: u16, body: Value) -> &Self {
        self.on_with_headers(method, path, status, body, &[])
    }

    /// Scripts a user search (`GET path`) that finds nobody.
    pub fn finds_no_users(&self, path: &str) -> &Self {
        self.on("GET", path, 200, json!({"users": []}))
    }

    pub fn on_with_headers(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Value,
        headers: &[(&str, &str)],
    ) -> &Self {
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        self.push(method, path, Ok(response(status, body, headers)))
    }

    pub fn on_raw(&self, method: &str, path: &str, status: u16, body: &[u8]) -> &Self {
        self.push(method, path, Ok(response(status, body.to_vec(), &[])))
    }

    pub fn on_error(&self, method: &str, path: &str, error: FetchError) -> &Self {
        self.push(method, path, Err(error))
    }

    fn push(&self, method: &str, path: &str, answer: Scripted) -> &Self {
        self.script
            .borrow_mut()
            .entry(format!("{method} {path}"))
            .or_default()
            .push_back(answer);
        self
    }

    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests.borrow().clone()
    }

    pub fn last_request(&self) -> HttpRequest {
        self.requests
            .borrow()
            .last()
            .cloned()
            .expect("no request was sent")
    }

    /// `METHOD path` of every request, in order.
    pub fn calls(&self) -> Vec<String> {
        self.requests
            .borrow()
            .iter()
            .map(|r| format!("{} {}", r.method, path_of(&r.url)))
            .collect()
    }

    /// The JSON body of the `index`-th request.
    pub fn body(&self, index: usize) -> Value {
        let requests = self.requests.borrow();
        let body = requests[index].body.as_ref().expect("request has no body");
        serde_json::from_slice(body).expect("request body is JSON")
    }

    /// The JSON body of the only request to `METHOD path`.
    pub fn body_of(&self, call: &str) -> Value {
        let calls = self.calls();
        let matching: Vec<usize> = (0..calls.len()).filter(|&i| calls[i] == call).collect();
        assert_eq!(matching.len(), 1, "expected one `{call}` in {calls:#?}");
        self.body(matching[0])
    }

    pub fn cached(&self, key: &str) -> Option<String> {
        self.cache.borrow().get(key).map(|(v, _)| v.clone())
    }

    pub fn put_cache(&self, key: &str, value: &str) {
        self.cache
            .borrow_mut()
            .insert(key.into(), (value.into(), 60));
    }

    pub fn logged(&self, needle: &str) -> bool {
        self.logs
            .borrow()
            .iter()
            .any(|(_, m, _)| m.contains(needle))
    }
}

fn response(status: u16, body: Vec<u8>, headers: &[(&str, &str)]) -> HttpResponse {
    HttpResponse {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body,
    }
}

fn path_of(url: &str) -> &str {
    url.strip_prefix("https://acme.zendesk.com").unwrap_or(url)
}

impl Host for FakeHost {
    fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let key = format!("{} {}", request.method, path_of(&request.url));
        self.requests.borrow_mut().push(request);
        let mut script = self.script.borrow_mut();
        let Some(answers) = script.get_mut(&key) else {
            panic!("unscripted request `{key}`");
        };
        if answers.len() > 1 {
            answers.pop_front().expect("non-empty")
        } else {
            answers.front().cloned().expect("scripted answer")
        }
    }

    fn cache_get(&self, key: &str) -> Option<String> {
        self.cached(key)
    }

    fn cache_set(&self, key: &str, value: &str, ttl_seconds: u32) {
        self.cache
            .borrow_mut()
            .insert(key.into(), (value.into(), ttl_seconds));
    }

    fn cache_remove(&self, key: &str) {
        self.cache.borrow_mut().remove(key);
    }

    fn log(&self, level: Level, message: &str, fields: &[(&str, &str)]) {
        let fields = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.logs.borrow_mut().push((level, message.into(), fields));
    }

    fn wait(&self, _millis: u32) -> bool {
        true
    }

    fn now_unix_seconds(&self) -> u64 {
        self.now.get()
    }
}

/// A valid config (subdomain `acme`, API token `secret-token`) with `extra` keys merged in.
pub fn config(extra: Value) -> Config {
    Config::parse(&config_json(extra)).expect("test config is valid")
}

pub fn config_json(extra: Value) -> String {
    let mut base =
        json!({"subdomain": "acme", "email": "admin@acme.com", "apiToken": "secret-token"});
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    base.to_string()
}
