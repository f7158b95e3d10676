//! Zendesk's two pagination styles over an already ordered list.
//!
//! Cursor (`page[size]`, `page[after]`) answers `meta.has_more/after_cursor` + `links.next`;
//! offset (`page`, `per_page`) answers `count` + absolute `next_page`/`previous_page` URLs.
//! Without any paging parameter a list is offset page 1 of 100, exactly like Zendesk (which is why
//! a plain `GET /user_fields` shows only the first 100 fields).

use serde_json::{Map, Value, json};

use crate::http::{Query, Response, bad_request, encode_query_value};

pub(crate) const MAX_PAGE_SIZE: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum PageRequest {
    Cursor { size: usize, start: usize },
    Offset { page: usize, per_page: usize },
}

impl PageRequest {
    /// Reads the paging parameters; `cursor_allowed` is false for offset-only endpoints
    /// (users/search), where cursor parameters are ignored like unknown ones.
    pub fn from_query(query: &Query, cursor_allowed: bool) -> Result<Self, Response> {
        let size = query.get("page[size]");
        let after = query.get("page[after]");
        if cursor_allowed && (size.is_some() || after.is_some()) {
            let size = match size {
                None => MAX_PAGE_SIZE,
                Some(raw) => match raw.parse::<usize>() {
                    Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
                    _ => return Err(invalid_pagination("page[size] must be between 1 and 100")),
                },
            };
            let start = match after {
                None | Some("") => 0,
                Some(cursor) => decode_cursor(cursor)
                    .ok_or_else(|| invalid_pagination("page[after] is not a valid cursor"))?,
            };
            return Ok(PageRequest::Cursor { size, start });
        }
        let page = match query.get("page") {
            None => 1,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => return Err(invalid_pagination("page must be a positive integer")),
            },
        };
        // Zendesk silently caps per_page at 100.
        let per_page = match query.get("per_page") {
            None => MAX_PAGE_SIZE,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if n >= 1 => n.min(MAX_PAGE_SIZE),
                _ => return Err(invalid_pagination("per_page must be a positive integer")),
            },
        };
        Ok(PageRequest::Offset { page, per_page })
    }
}

/// One page of `items` as the JSON body `{"<key>": [...], <paging fields>}`.
/// `list_url` is the absolute endpoint URL; `keep` are query parameters repeated in the links
/// (e.g. the search `query`).
pub(crate) fn page_body(
    key: &str,
    items: Vec<Value>,
    request: PageRequest,
    list_url: &str,
    keep: &[(&str, &str)],
) -> Value {
    let total = items.len();
    let mut body = Map::new();
    match request {
        PageRequest::Cursor { size, start } => {
            let end = start.saturating_add(size).min(total);
            let page: Vec<Value> = items.into_iter().skip(start).take(size).collect();
            let has_more = end < total;
            let after_cursor = (!page.is_empty()).then(|| encode_cursor(end));
            let before_cursor = (!page.is_empty()).then(|| encode_cursor(start));
            let next = match (&after_cursor, has_more) {
                (Some(cursor), true) => Value::String(link(
                    list_url,
                    keep,
                    &[("page[after]", cursor), ("page[size]", &size.to_string())],
                )),
                _ => Value::Null,
            };
            body.insert(key.to_string(), Value::Array(page));
            body.insert(
                "meta".to_string(),
                json!({"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor}),
            );
            body.insert("links".to_string(), json!({"next": next, "prev": null}));
        }
        PageRequest::Offset { page, per_page } => {
            let start = (page - 1).saturating_mul(per_page);
            let items_page: Vec<Value> = items.into_iter().skip(start).take(per_page).collect();
            let offset_link = |n: usize| {
                link(
                    list_url,
                    keep,
                    &[
                        ("page", &n.to_string()),
                        ("per_page", &per_page.to_string()),
                    ],
                )
            };
            let next_page = (start.saturating_add(per_page) < total).then(|| offset_link(page + 1));
            let previous_page = (page > 1).then(|| offset_link(page - 1));
            body.insert(key.to_string(), Value::Array(items_page));
            body.insert("count".to_string(), json!(total));
            body.insert("next_page".to_string(), json!(next_page));
            body.insert("previous_page".to_string(), json!(previous_page));
        }
    }
    Value::Object(body)
}

/// A whole list in one body (exact lookups): `{"<key>": [...], "count": n, next/previous null}`.
pub(crate) fn single_page_body(key: &str, items: Vec<Value>) -> Value {
    let count = items.len();
    json!({key: items, "count": count, "next_page": null, "previous_page": null})
}

fn link(list_url: &str, keep: &[(&str, &str)], paging: &[(&str, &str)]) -> String {
    let query: Vec<String> = keep
        .iter()
        .chain(paging)
        .map(|(k, v)| format!("{}={}", encode_query_value(k), encode_query_value(v)))
        .collect();
    format!("{list_url}?{}", query.join("&"))
}

// Cursors are opaque to clients; internally they are the index of the next item.
fn encode_cursor(index: usize) -> String {
    format!("c{index}")
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    cursor.strip_prefix('c')?.parse().ok()
}

fn invalid_pagination(description: &str) -> Response {
    bad_request("InvalidPaginationParameter", description)
}
