//! The transport-neutral request/response types, URL splitting, query decoding and the JSON
//! error bodies Zendesk uses.

use serde_json::{Value, json};

/// One HTTP request as the plugin host sends it. `url` is absolute.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// A request without headers or body (add them with the builder methods).
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn json_body(mut self, body: &Value) -> Self {
        self.body = body.to_string().into_bytes();
        self.header("Content-Type", "application/json")
    }

    /// First header with this name (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, body: &Value) -> Self {
        Response {
            status,
            headers: vec![(
                "Content-Type".to_string(),
                "application/json; charset=utf-8".to_string(),
            )],
            body: body.to_string().into_bytes(),
        }
    }

    /// 204 No Content.
    pub fn no_content() -> Self {
        Response {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The body parsed as JSON (`Value::Null` when empty or not JSON) - handy in tests.
    pub fn json_body(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An absolute URL split into the parts the mock needs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SplitUrl {
    /// Host without port, lower-cased.
    pub host: String,
    /// Path only, e.g. "/api/v2/users/12".
    pub path: String,
    /// Path plus "?query" exactly as received.
    pub path_and_query: String,
    /// Raw query string (without '?'), empty when absent.
    pub query: String,
}

/// Hand-written on purpose: a mock must read whatever a client sends (e.g. an unencoded `"` in
/// a query, which `http::Uri` refuses), the way lenient real servers do.
pub(crate) fn split_url(url: &str) -> SplitUrl {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (authority, path_and_query) = match without_scheme.find(['/', '?']) {
        Some(index) => without_scheme.split_at(index),
        None => (without_scheme, "/"),
    };
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host = host_port
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host_port, |(host, _)| host)
        .to_ascii_lowercase();
    let path_and_query = if path_and_query.starts_with('/') {
        path_and_query.to_string()
    } else {
        format!("/{path_and_query}")
    };
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path.to_string(), query.to_string()),
        None => (path_and_query.clone(), String::new()),
    };
    SplitUrl {
        host,
        path,
        path_and_query,
        query,
    }
}

/// Decoded query parameters, in order. Decoding is `application/x-www-form-urlencoded`, the way
/// real servers treat query strings: `%XX` escapes are decoded and `+` becomes a space.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: &str) -> Self {
        Query {
            pairs: form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-encodes a query value (for the absolute `next_page` / `links.next` URLs we hand out).
pub(crate) fn encode_query_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

// ---- Zendesk error bodies -------------------------------------------------------------------

pub(crate) fn not_found_endpoint() -> Response {
    Response::json(
        404,
        &json!({"error": "InvalidEndpoint", "description": "Not found"}),
    )
}

pub(crate) fn record_not_found() -> Response {
    Response::json(
        404,
        &json!({"error": "RecordNotFound", "description": "Not found"}),
    )
}

pub(crate) fn unauthorized() -> Response {
    Response::json(401, &json!({"error": "Couldn't authenticate you"}))
}

pub(crate) fn unparsable_json(detail: &str) -> Response {
    Response::json(
        400,
        &json!({"error": "Unprocessable Entity", "description": format!("Server could not parse JSON: {detail}")}),
    )
}

/// Rails-style "param is missing" (e.g. a body without the `user` wrapper).
pub(crate) fn missing_parameter(name: &str) -> Response {
    Response::json(
        400,
        &json!({"error": "ParameterMissing", "description": format!("param is missing or the value is empty: {name}")}),
    )
}

pub(crate) fn bad_request(error: &str, description: &str) -> Response {
    Response::json(400, &json!({"error": error, "description": description}))
}

/// 422 RecordInvalid with one field error, Zendesk's usual validation body.
pub(crate) fn record_invalid(field: &str, description: &str, error: &str) -> Response {
    Response::json(
        422,
        &json!({
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {field: [{"description": description, "error": error}]}
        }),
    )
}

/// The newer APIs (Events, Profiles) answer errors as `{"errors":[{code,title}]}`.
pub(crate) fn errors_list(status: u16, code: &str, title: &str) -> Response {
    Response::json(status, &json!({"errors": [{"code": code, "title": title}]}))
}

/// Handlers return `Err(response)` for early exits (validation, not found) so they can use `?`.
pub(crate) type Handled = Result<Response, Response>;

/// What `show_many?ids=1,2` or `?external_ids=a,b` asks for (exactly one of them, at most 100).
pub(crate) struct ShowMany {
    wanted: Vec<String>,
    by_external_id: bool,
}

impl ShowMany {
    pub fn parse(query: &Query) -> Result<ShowMany, Response> {
        let (values, by_external_id) = match (query.get("ids"), query.get("external_ids")) {
            (Some(ids), None) => (ids, false),
            (None, Some(external_ids)) => (external_ids, true),
            _ => {
                return Err(bad_request(
                    "InvalidParameter",
                    "exactly one of ids or external_ids is required",
                ));
            }
        };
        let wanted: Vec<String> = values
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect();
        if wanted.len() > 100 {
            return Err(bad_request(
                "InvalidParameter",
                "at most 100 values are allowed",
            ));
        }
        Ok(ShowMany {
            wanted,
            by_external_id,
        })
    }

    /// Whether a record with this id and external id (case-insensitive) is asked for.
    pub fn matches(&self, id: u64, external_id: Option<&str>) -> bool {
        self.wanted.iter().any(|w| match self.by_external_id {
            true => external_id.is_some_and(|e| e.eq_ignore_ascii_case(w)),
            false => w.parse::<u64>() == Ok(id),
        })
    }
}
