//! A last line of defence for credentials: every text the runner writes (trace, dead letters,
//! logs, messages) passes through [`Secrets::scrub`], which replaces the credential values found
//! in the tenants' configs, in plain and in HTTP Basic form. The runtime already redacts
//! Authorization headers; this also catches a credential echoed in an error message or a body.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

const REPLACEMENT: &str = "[redacted]";
/// Shorter values are not scrubbed: replacing "1" everywhere would mangle the output.
const MIN_SECRET_LEN: usize = 4;

#[derive(Clone, Debug, Default)]
pub struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    /// Collects the credential values of the given plugin configs (JSON text).
    pub fn from_configs<'a>(configs: impl IntoIterator<Item = &'a str>) -> Secrets {
        let mut values = Vec::new();
        for config in configs {
            let Ok(Value::Object(config)) = serde_json::from_str::<Value>(config) else {
                continue;
            };
            let email = config.get("email").and_then(Value::as_str);
            for (key, value) in &config {
                let Some(value) = value.as_str() else {
                    continue;
                };
                if !is_credential_key(key) {
                    continue;
                }
                values.push(value.to_string());
                if let Some(email) = email {
                    // The Basic header the plugin derives from email + API token.
                    values.push(STANDARD.encode(format!("{email}/token:{value}")));
                }
            }
        }
        values.retain(|v| v.len() >= MIN_SECRET_LEN);
        // Longest first, so a secret that contains another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Secrets { values }
    }

    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut text = Cow::Borrowed(text);
        for secret in &self.values {
            if text.contains(secret.as_str()) {
                text = Cow::Owned(text.replace(secret.as_str(), REPLACEMENT));
            }
        }
        text
    }
}

fn is_credential_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["token", "secret", "password", "apikey", "api_key"]
        .iter()
        .any(|marker| key.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_tokens_and_their_basic_form() {
        let secrets = Secrets::from_configs([
            r#"{"subdomain": "a", "email": "admin@a.com", "apiToken": "SECRET-TOKEN-123"}"#,
            r#"{"subdomain": "b", "oauthToken": "oauth-xyz-789", "sourceName": "cdp"}"#,
            "not json",
        ]);
        let basic = STANDARD.encode("admin@a.com/token:SECRET-TOKEN-123");
        let text =
            format!("x SECRET-TOKEN-123 y Basic {basic} z Bearer oauth-xyz-789 cdp admin@a.com");
        assert_eq!(
            secrets.scrub(&text),
            "x [redacted] y Basic [redacted] z Bearer [redacted] cdp admin@a.com"
        );
    }

    #[test]
    fn leaves_clean_text_borrowed_and_ignores_tiny_values() {
        let secrets = Secrets::from_configs([r#"{"apiToken": "t0k"}"#]);
        assert!(matches!(
            secrets.scrub("t0k stays"),
            Cow::Borrowed("t0k stays")
        ));
    }
}
