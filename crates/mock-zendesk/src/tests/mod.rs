//! Behaviour tests: each asserts the exact response and the resulting state.

mod faults;
mod fields_events;
mod identities;
mod jobs;
mod oauth;
mod organizations;
mod requests;
mod search;
mod server;
mod tickets;
mod users;

use serde_json::Value;

use crate::{MockZendesk, Request, Response};

pub(super) const SUB: &str = "acme";
pub(super) const AUTH: &str = "Basic YWdlbnRAYWNtZS5jb20vdG9rZW46c2VjcmV0";

pub(super) fn url(path: &str) -> String {
    format!("https://{SUB}.zendesk.com{path}")
}

/// An authenticated request against the `acme` account.
pub(super) fn send(mock: &MockZendesk, method: &str, path: &str, body: Option<Value>) -> Response {
    let mut request = Request::new(method, &url(path)).header("Authorization", AUTH);
    if let Some(body) = body {
        request = request.json_body(&body);
    }
    mock.handle(&request)
}

/// Sends and checks the status, returning the JSON body.
pub(super) fn expect(
    mock: &MockZendesk,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
) -> Value {
    let response = send(mock, method, path, body);
    let json = response.json_body();
    assert_eq!(response.status, status, "{method} {path} answered {json}");
    json
}

/// The path + query of an absolute pagination link, to follow it.
pub(super) fn link_path(link: &Value) -> String {
    let link = link.as_str().unwrap_or_default();
    let prefix = format!("https://{SUB}.zendesk.com");
    assert!(link.starts_with(&prefix), "links are absolute: {link}");
    link[prefix.len()..].to_string()
}

/// Follows a cursor-paginated list to the end, returning all items and the page count.
pub(super) fn collect_cursor_pages(
    mock: &MockZendesk,
    first: &str,
    key: &str,
) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut path = first.to_string();
    loop {
        let body = expect(mock, "GET", &path, None, 200);
        pages += 1;
        items.extend(body[key].as_array().cloned().unwrap_or_default());
        if body["meta"]["has_more"] != Value::Bool(true) {
            assert_eq!(body["links"]["next"], Value::Null);
            return (items, pages);
        }
        path = link_path(&body["links"]["next"]);
    }
}

/// Follows an offset-paginated list to the end via `next_page`.
pub(super) fn collect_offset_pages(
    mock: &MockZendesk,
    first: &str,
    key: &str,
) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut path = first.to_string();
    loop {
        let body = expect(mock, "GET", &path, None, 200);
        pages += 1;
        items.extend(body[key].as_array().cloned().unwrap_or_default());
        if body["next_page"].is_null() {
            return (items, pages);
        }
        path = link_path(&body["next_page"]);
    }
}
