//! The Zendesk HTTP client: base URL, auth header, JSON in and out, pagination, and a record of
//! every call made (the outcome's `operations`).

use crate::classify::{classify_fetch_error, classify_status, parse_retry_after};
use crate::config::Config;
use crate::host::{Host, HttpRequest, Level};
use crate::outcome::{Error, Operation};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// Safety bound on pagination (100 items per page): far above any real list we read.
const MAX_PAGES: usize = 50;

pub struct Client<'h> {
    host: &'h dyn Host,
    /// `https://{subdomain}.zendesk.com`, no trailing slash.
    base_url: String,
    /// Never logged, never part of an error.
    authorization: String,
    operations: Vec<Operation>,
    /// `skipUnchangedWithinSeconds`: how long an identical write is known to be in place.
    unchanged_window_seconds: u32,
}

/// One answer, any status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    retry_after: Option<u32>,
    /// `Zendesk-RateLimit-inflight-jobs: ...remaining=N`: how many more jobs may be queued.
    pub inflight_jobs_remaining: Option<u32>,
    body: Vec<u8>,
    /// `METHOD path`, for error context.
    request: String,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Whether Zendesk refused the write because the record already exists (422 DuplicateValue,
    /// "has already been taken", "is already a member").
    pub fn is_duplicate(&self) -> bool {
        let body = String::from_utf8_lossy(&self.body).to_ascii_lowercase();
        self.status == 422 && (body.contains("duplicatevalue") || body.contains("already"))
    }

    /// The body as JSON (`null` when empty, e.g. 204).
    pub fn json(&self) -> Result<Value, Error> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            unexpected(
                self.status,
                &format!("{} did not return JSON ({e})", self.request),
            )
        })
    }

    /// The classified error for this (non-2xx) answer, naming the call.
    pub fn into_error(self) -> Error {
        let context = self.request;
        match classify_status(self.status, self.retry_after, &self.body) {
            Error::Retryable {
                message,
                retry_after_seconds,
            } => Error::Retryable {
                message: format!("{message} ({context})"),
                retry_after_seconds,
            },
            Error::Rejected { status, message } => Error::Rejected {
                status,
                message: format!("{message} ({context})"),
            },
            other => other,
        }
    }
}

/// Whether Zendesk ends in the same state when the request is sent twice, so the host may retry
/// a transient failure of it on its own. Upserts, lookups, updates and deletes are; a create
/// that answers 422 "already exists" is too (every caller handles that answer). A user event
/// (`POST /users/{id}/events`), a new ticket, and a ticket update that adds a comment are not:
/// Zendesk has no idempotency key for them, and a lost answer would record them twice.
fn is_idempotent(method: &str, path: &str, body: Option<&Value>) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    match method {
        // A second organizations/create_many job would fail on the names the first one took.
        "POST" => {
            !(path.ends_with("/events")
                || path == "/api/v2/tickets"
                || path == "/api/v2/organizations/create_many")
        }
        "PUT" if path.starts_with("/api/v2/tickets/") => {
            body.and_then(|b| b.pointer("/ticket/comment")).is_none()
        }
        _ => true,
    }
}

/// A 2xx answer whose body is not what Zendesk documents.
pub fn unexpected(status: u16, what: &str) -> Error {
    Error::Rejected {
        status,
        message: format!("unexpected response from Zendesk: {what}"),
    }
}

/// The numeric `id` of `value[key]`, e.g. the user in `{"user": {"id": 1}}`.
pub fn id_in(value: &Value, key: &str) -> Result<u64, Error> {
    value
        .get(key)
        .and_then(|item| item.get("id"))
        .and_then(Value::as_u64)
        .ok_or_else(|| unexpected(200, &format!("no `{key}.id` in the answer")))
}

impl<'h> Client<'h> {
    pub fn new(host: &'h dyn Host, config: &Config) -> Self {
        Client {
            host,
            base_url: format!("https://{}.zendesk.com", config.subdomain),
            authorization: config.auth.header_value(),
            operations: Vec::new(),
            unchanged_window_seconds: config.skip_unchanged_seconds,
        }
    }

    pub fn host(&self) -> &'h dyn Host {
        self.host
    }

    /// The calls made so far, in order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// Waits between polls; false when the call has not that much time left.
    pub fn wait(&self, millis: u32) -> bool {
        self.host.wait(millis)
    }

    /// How long an identical write stays known to be in place (0: always write).
    pub fn unchanged_window_seconds(&self) -> u32 {
        self.unchanged_window_seconds
    }

    /// Sends one request and returns the answer whatever its status; only a request that never
    /// got an answer is an error. `path` starts with `/api/v2/` and carries an encoded query.
    pub fn send(&mut self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply, Error> {
        let request = HttpRequest {
            method: method.to_string(),
            url: format!("{}{path}", self.base_url),
            headers: vec![
                ("Authorization".into(), self.authorization.clone()),
                ("Content-Type".into(), "application/json".into()),
                ("Accept".into(), "application/json".into()),
            ],
            body: body.map(|b| b.to_string().into_bytes()),
            idempotent: is_idempotent(method, path, body),
        };
        let response = self.host.fetch(request).map_err(|e| {
            self.log(
                Level::Warn,
                "Zendesk request failed",
                &[("method", method), ("path", path)],
            );
            classify_fetch_error(e)
        })?;
        self.operations.push(Operation {
            method: method.to_string(),
            path: path.to_string(),
            status: response.status,
        });
        Ok(Reply {
            status: response.status,
            retry_after: parse_retry_after(response.header("Retry-After")),
            inflight_jobs_remaining: response
                .header("Zendesk-RateLimit-inflight-jobs")
                .and_then(crate::classify::remaining_in),
            body: response.body,
            request: format!("{method} {path}"),
        })
    }

    /// Sends and expects a 2xx; anything else becomes the classified error.
    pub fn call(&mut self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Error> {
        let reply = self.send(method, path, body)?;
        if reply.is_success() {
            reply.json()
        } else {
            Err(reply.into_error())
        }
    }

    /// Every item of a paginated list (`key` names the array), following cursor pages
    /// (`meta.has_more` / `meta.after_cursor`, `links.next`) and offset pages (`next_page`).
    pub fn list_all(&mut self, first_path: &str, key: &str) -> Result<Vec<Value>, Error> {
        let mut items = Vec::new();
        let mut path = first_path.to_string();
        for _ in 0..MAX_PAGES {
            let page = self.call("GET", &path, None)?;
            let Some(Value::Array(page_items)) = page.get(key) else {
                return Err(unexpected(200, &format!("no `{key}` list in GET {path}")));
            };
            items.extend(page_items.iter().cloned());
            match next_page_path(&page, &path) {
                Some(next) if next != path => path = next,
                _ => return Ok(items),
            }
        }
        Err(unexpected(
            200,
            &format!("GET {first_path} has more than {MAX_PAGES} pages"),
        ))
    }

    pub fn cache_get(&self, key: &str) -> Option<String> {
        self.host.cache_get(key)
    }

    pub fn cache_set(&self, key: &str, value: &str, ttl_seconds: u32) {
        self.host.cache_set(key, value, ttl_seconds)
    }

    pub fn cache_remove(&self, key: &str) {
        self.host.cache_remove(key)
    }

    pub fn log(&self, level: Level, message: &str, fields: &[(&str, &str)]) {
        self.host.log(level, message, fields)
    }

    pub fn debug(&self, message: &str, fields: &[(&str, &str)]) {
        self.log(Level::Debug, message, fields)
    }

    /// The outcome of the message: the calls made, and why it was skipped, if it was.
    pub fn into_outcome(self, skipped: Option<String>) -> crate::Outcome {
        crate::Outcome {
            operations: self.operations,
            skipped,
        }
    }

    pub fn into_operations(self) -> Vec<Operation> {
        self.operations
    }
}

/// The next page's path, or `None` on the last page.
fn next_page_path(page: &Value, current: &str) -> Option<String> {
    if let Some(meta) = page.get("meta").filter(|m| m.get("has_more").is_some()) {
        if meta.get("has_more") != Some(&Value::Bool(true)) {
            return None;
        }
        if let Some(cursor) = meta.get("after_cursor").and_then(Value::as_str) {
            return Some(with_page_after(current, cursor));
        }
        return page
            .pointer("/links/next")
            .and_then(Value::as_str)
            .and_then(api_path);
    }
    page.get("next_page")
        .and_then(Value::as_str)
        .and_then(api_path)
}

/// `current` with its `page[after]` parameter set to `cursor`.
fn with_page_after(current: &str, cursor: &str) -> String {
    let (path, query) = current.split_once('?').unwrap_or((current, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| {
            !p.is_empty() && !p.starts_with("page[after]=") && !p.starts_with("page%5Bafter%5D=")
        })
        .collect();
    let after = format!("page[after]={}", encode(cursor));
    params.push(&after);
    format!("{path}?{}", params.join("&"))
}

/// The `/api/v2/...` part of an absolute next-page URL (its origin may be a test server's).
fn api_path(url: &str) -> Option<String> {
    let path = match url.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/')?..],
        None => url,
    };
    path.starts_with("/api/v2/").then(|| path.to_string())
}

/// Everything but the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a query value (UTF-8): everything but RFC 3986 unreserved characters.
pub fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeHost, config};
    use serde_json::json;

    #[test]
    fn only_calls_zendesk_cannot_deduplicate_are_marked_unrepeatable() {
        let comment = json!({"ticket": {"comment": {"body": "x"}}});
        let status = json!({"ticket": {"status": "solved"}});
        for (method, path, body, idempotent) in [
            ("GET", "/api/v2/users/search?external_id=u", None, true),
            ("POST", "/api/v2/users/create_or_update", None, true),
            ("POST", "/api/v2/organization_memberships", None, true),
            ("POST", "/api/v2/user_fields", None, true),
            ("PUT", "/api/v2/users/5", None, true),
            ("DELETE", "/api/v2/organization_memberships/7", None, true),
            ("PUT", "/api/v2/tickets/3", Some(&status), true),
            ("POST", "/api/v2/users/5/events", None, false),
            ("POST", "/api/v2/tickets", None, false),
            ("PUT", "/api/v2/tickets/3", Some(&comment), false),
        ] {
            assert_eq!(
                is_idempotent(method, path, body),
                idempotent,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn sends_headers_and_records_operations() {
        let host = FakeHost::new();
        host.on("POST", "/api/v2/things", 201, json!({"thing": {"id": 5}}));
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        let answer = client
            .call("POST", "/api/v2/things", Some(&json!({"a": 1})))
            .unwrap();
        assert_eq!(id_in(&answer, "thing").unwrap(), 5);
        let request = host.last_request();
        assert_eq!(request.url, "https://acme.zendesk.com/api/v2/things");
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert!(headers.contains(&("Content-Type", "application/json")));
        assert!(headers.contains(&("Accept", "application/json")));
        assert!(
            headers
                .iter()
                .any(|(k, v)| *k == "Authorization" && v.starts_with("Basic "))
        );
        assert_eq!(
            client.into_operations(),
            vec![Operation {
                method: "POST".into(),
                path: "/api/v2/things".into(),
                status: 201
            }]
        );
    }

    #[test]
    fn errors_name_the_call_and_never_the_token() {
        let host = FakeHost::new();
        host.on_with_headers(
            "GET",
            "/api/v2/x",
            429,
            json!({"error": "slow down"}),
            &[("Retry-After", "9")],
        );
        host.on("GET", "/api/v2/y", 200, json!("not what we expect"));
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        let error = client.call("GET", "/api/v2/x", None).unwrap_err();
        assert_eq!(
            error,
            Error::Retryable {
                message: "Zendesk rate limit reached (429): slow down (GET /api/v2/x)".into(),
                retry_after_seconds: Some(9)
            }
        );
        assert!(!error.to_string().contains("secret-token"));
        assert!(matches!(
            client.list_all("/api/v2/y", "ys"),
            Err(Error::Rejected { status: 200, .. })
        ));
    }

    #[test]
    fn non_json_success_is_rejected() {
        let host = FakeHost::new();
        host.on_raw("GET", "/api/v2/z", 200, b"<html>");
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        let error = client.call("GET", "/api/v2/z", None).unwrap_err();
        assert!(
            matches!(error, Error::Rejected { status: 200, message } if message.starts_with("unexpected response from Zendesk"))
        );
    }

    #[test]
    fn follows_cursor_and_offset_pages() {
        let host = FakeHost::new();
        host.on(
            "GET",
            "/api/v2/things?page[size]=100",
            200,
            json!({"things": [1], "meta": {"has_more": true, "after_cursor": "a+b"}}),
        );
        host.on("GET", "/api/v2/things?page[size]=100&page[after]=a%2Bb", 200,
            json!({"things": [2], "meta": {"has_more": true}, "links": {"next": "https://acme.zendesk.com/api/v2/things?page%5Bsize%5D=100&page%5Bafter%5D=c"}}));
        host.on(
            "GET",
            "/api/v2/things?page%5Bsize%5D=100&page%5Bafter%5D=c",
            200,
            json!({"things": [3], "meta": {"has_more": false}, "next_page": "ignored"}),
        );
        host.on(
            "GET",
            "/api/v2/list",
            200,
            json!({"list": [1], "next_page": "http://127.0.0.1:9/api/v2/list?page=2"}),
        );
        host.on(
            "GET",
            "/api/v2/list?page=2",
            200,
            json!({"list": [2], "next_page": null}),
        );
        let config = config(json!({}));
        let mut client = Client::new(&host, &config);
        assert_eq!(
            client
                .list_all("/api/v2/things?page[size]=100", "things")
                .unwrap(),
            vec![json!(1), json!(2), json!(3)]
        );
        assert_eq!(
            client.list_all("/api/v2/list", "list").unwrap(),
            vec![json!(1), json!(2)]
        );
        assert_eq!(host.requests().len(), 5);
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(
            encode("email:\"bob+x@y.com\""),
            "email%3A%22bob%2Bx%40y.com%22"
        );
        assert_eq!(encode("A b&c=d/é"), "A%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(encode("50%[x]#?"), "50%25%5Bx%5D%23%3F");
        assert_eq!(api_path("https://evil.example.com/other"), None);
    }
}
