//! Turns Zendesk's answers (and the host's fetch failures) into the classified [`Error`] the
//! platform acts on: retry later, or give up with Zendesk's own explanation.

use crate::host::FetchError;
use crate::outcome::Error;
use serde_json::Value;

/// Longest Zendesk message we copy into an error.
const MAX_MESSAGE_CHARS: usize = 500;

/// The error for a non-2xx answer. `retry_after` is the parsed `Retry-After` header.
pub fn classify_status(status: u16, retry_after: Option<u32>, body: &[u8]) -> Error {
    let message = zendesk_message(body);
    match status {
        429 => Error::Retryable {
            message: format!("Zendesk rate limit reached (429): {message}"),
            retry_after_seconds: retry_after,
        },
        503 => Error::Retryable {
            message: format!("Zendesk is unavailable (503): {message}"),
            retry_after_seconds: retry_after,
        },
        409 => Error::Retryable {
            message: format!("Zendesk reported a conflicting concurrent update (409): {message}"),
            retry_after_seconds: None,
        },
        500..=599 => Error::Retryable {
            message: format!("Zendesk server error ({status}): {message}"),
            retry_after_seconds: None,
        },
        401 => Error::Rejected {
            status,
            message:
                "Zendesk rejected the credentials (401): check email/apiToken or the OAuth token"
                    .into(),
        },
        403 => Error::Rejected {
            status,
            message: format!(
                "Zendesk rejected the credentials (403): the credentials lack permission or the plan does not include this API: {message}"
            ),
        },
        _ => Error::Rejected { status, message },
    }
}

/// The error for a request that never got an answer.
pub fn classify_fetch_error(error: FetchError) -> Error {
    match error {
        FetchError::Timeout => Error::Retryable {
            message: "Zendesk did not answer in time (timeout)".into(),
            retry_after_seconds: None,
        },
        FetchError::Connection(why) => Error::Retryable {
            message: format!("could not reach Zendesk: {why}"),
            retry_after_seconds: None,
        },
        FetchError::Denied(why) => Error::Rejected {
            status: 0,
            message: format!("denied: the host refused the request: {why}"),
        },
        FetchError::TooLarge(cap) => Error::Rejected {
            status: 0,
            message: format!("Zendesk's response exceeded the host's size cap of {cap} bytes"),
        },
    }
}

/// `Retry-After` in whole seconds (Zendesk sends integers; anything else is ignored).
pub fn parse_retry_after(value: Option<&str>) -> Option<u32> {
    value.and_then(|v| v.trim().parse().ok())
}

/// `remaining` of a `Zendesk-RateLimit-<name>: total=30; remaining=29; resets=1` header.
pub fn remaining_in(value: &str) -> Option<u32> {
    value.split(';').find_map(|part| {
        let (key, number) = part.split_once('=')?;
        (key.trim() == "remaining").then(|| number.trim().parse().ok())?
    })
}

/// Zendesk's explanation from any of its error shapes, or the plain text, truncated.
pub fn zendesk_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let message = match serde_json::from_str::<Value>(&text) {
        Ok(json) => json_message(&json).unwrap_or_else(|| text.trim().to_string()),
        Err(_) => text.trim().to_string(),
    };
    if message.is_empty() {
        return "(no message)".into();
    }
    truncate(&message, MAX_MESSAGE_CHARS)
}

fn json_message(json: &Value) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    match json.get("error") {
        Some(Value::String(s)) => parts.push(s.clone()),
        // Legacy shape: {"error": {"title", "message"}}.
        Some(Value::Object(o)) => {
            parts.extend(strings(o.get("title")).chain(strings(o.get("message"))))
        }
        _ => {}
    }
    parts.extend(strings(json.get("description")));
    if let Some(Value::Object(details)) = json.get("details") {
        let detail: Vec<String> = details
            .iter()
            .flat_map(|(field, items)| {
                let items = items.as_array().cloned().unwrap_or_default();
                items.into_iter().filter_map(move |item| {
                    let text = item.get("description").and_then(Value::as_str)?;
                    Some(format!("{field}: {text}"))
                })
            })
            .collect();
        if !detail.is_empty() {
            parts.push(detail.join("; "));
        }
    }
    if let Some(Value::Array(errors)) = json.get("errors") {
        for error in errors {
            let code = error.get("code").and_then(Value::as_str);
            let text = error
                .get("title")
                .or_else(|| error.get("detail"))
                .and_then(Value::as_str);
            match (code, text) {
                (Some(code), Some(text)) => parts.push(format!("{code}: {text}")),
                (None, Some(text)) | (Some(text), None) => parts.push(text.to_string()),
                (None, None) => {}
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join(": "))
}

fn strings(value: Option<&Value>) -> impl Iterator<Item = String> {
    value
        .and_then(Value::as_str)
        .map(str::to_string)
        .into_iter()
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(status: u16, body: &str) -> (u16, String) {
        match classify_status(status, None, body.as_bytes()) {
            Error::Rejected { status, message } => (status, message),
            other => panic!("expected Rejected, got {other:?}"),
        }
    }

    #[test]
    fn retryable_statuses() {
        for (status, retry_after, expected_after) in [
            (429, Some(7), Some(7)),
            (429, None, None),
            (503, Some(30), Some(30)),
            (409, Some(5), None),
            (500, None, None),
            (502, None, None),
        ] {
            match classify_status(status, retry_after, b"{\"error\":\"busy\"}") {
                Error::Retryable {
                    message,
                    retry_after_seconds,
                } => {
                    assert_eq!(retry_after_seconds, expected_after, "{status}");
                    assert!(
                        message.contains(&status.to_string()) && message.contains("busy"),
                        "{message}"
                    );
                }
                other => panic!("{status}: expected Retryable, got {other:?}"),
            }
        }
    }

    #[test]
    fn credential_statuses() {
        let (status, message) = rejected(401, r#"{"error":"Couldn't authenticate you"}"#);
        assert_eq!(status, 401);
        assert_eq!(
            message,
            "Zendesk rejected the credentials (401): check email/apiToken or the OAuth token"
        );
        let (status, message) = rejected(
            403,
            r#"{"error":"Forbidden","description":"You do not have access"}"#,
        );
        assert_eq!(status, 403);
        assert!(message.starts_with("Zendesk rejected the credentials (403): the credentials lack permission or the plan does not include this API"));
        assert!(
            message.ends_with("Forbidden: You do not have access"),
            "{message}"
        );
    }

    #[test]
    fn zendesk_messages_in_every_shape() {
        let record_invalid = r#"{"error":"RecordInvalid","description":"Record validation errors",
            "details":{"name":[{"description":"Name: cannot be blank","error":"BlankValue"}]}}"#;
        assert_eq!(
            rejected(422, record_invalid),
            (
                422,
                "RecordInvalid: Record validation errors: name: Name: cannot be blank".into()
            )
        );
        assert_eq!(
            rejected(
                404,
                r#"{"errors":[{"code":"NotFound","title":"User not found"}]}"#
            ),
            (404, "NotFound: User not found".into())
        );
        assert_eq!(
            rejected(400, r#"{"error":{"title":"Invalid","message":"bad type"}}"#),
            (400, "Invalid: bad type".into())
        );
        assert_eq!(
            rejected(404, "No help desk at acme.zendesk.com"),
            (404, "No help desk at acme.zendesk.com".into())
        );
        assert_eq!(rejected(400, ""), (400, "(no message)".into()));
        let long = "é".repeat(2000);
        let (_, message) = rejected(418, &long);
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn fetch_errors() {
        assert!(matches!(
            classify_fetch_error(FetchError::Timeout),
            Error::Retryable { .. }
        ));
        assert!(matches!(
            classify_fetch_error(FetchError::Connection("reset".into())),
            Error::Retryable { .. }
        ));
        assert!(
            matches!(classify_fetch_error(FetchError::Denied("rule".into())),
            Error::Rejected { status: 0, message } if message.starts_with("denied: "))
        );
        assert!(matches!(classify_fetch_error(FetchError::TooLarge(1024)),
            Error::Rejected { status: 0, message } if message.contains("1024")));
    }

    #[test]
    fn retry_after_header() {
        assert_eq!(parse_retry_after(Some(" 12 ")), Some(12));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(None), None);
    }
}
