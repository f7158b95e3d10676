//! The one place that decides which header values are secret.

/// Headers whose values are credentials or session secrets.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// What a secret header value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Whether the value of header `name` must never be shown.
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS
        .iter()
        .any(|secret| secret.eq_ignore_ascii_case(name.trim()))
}

/// A copy of `headers` with every secret value replaced by `[redacted]`.
pub fn redact_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if is_secret_header(name) {
                REDACTED.to_string()
            } else {
                value.clone()
            };
            (name.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_headers_are_redacted_whatever_their_case() {
        let headers = vec![
            ("Authorization".to_string(), "Basic c2VjcmV0".to_string()),
            ("content-type".to_string(), "application/json".to_string()),
            ("X-API-Key".to_string(), "k".to_string()),
            ("Cookie".to_string(), "a=b".to_string()),
            (" proxy-authorization".to_string(), "p".to_string()),
            ("set-cookie".to_string(), "s".to_string()),
        ];
        let redacted = redact_headers(&headers);
        let values: Vec<&str> = redacted.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            values,
            [
                REDACTED,
                "application/json",
                REDACTED,
                REDACTED,
                REDACTED,
                REDACTED
            ]
        );
        assert_eq!(redacted[0].0, "Authorization");
    }
}
