//! What the business logic needs from its host: HTTP, a tenant cache and a log.
//!
//! On wasm32 these are the component's imports (see `bindings.rs`); in native unit tests a fake
//! implements the trait. Business logic never touches wit-bindgen types.

/// One outbound HTTP request.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Sending it twice has the effect of sending it once: the host may retry it.
    pub idempotent: bool,
}

/// A response of any status.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request produced no response.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchError {
    Denied(String),
    Timeout,
    Connection(String),
    TooLarge(u64),
}

/// Log severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// The host services the destination uses.
pub trait Host {
    fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, FetchError>;
    fn cache_get(&self, key: &str) -> Option<String>;
    fn cache_set(&self, key: &str, value: &str, ttl_seconds: u32);
    fn cache_remove(&self, key: &str);
    fn log(&self, level: Level, message: &str, fields: &[(&str, &str)]);
    /// Waits `millis` ms (e.g. between polls of a bulk job); false, at once, when the call has
    /// not that much time left.
    fn wait(&self, millis: u32) -> bool;
    /// The wall clock, in seconds since the Unix epoch (WASI's clock in the component).
    fn now_unix_seconds(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }
}
