//! Redaction, in one place: which header values are secret, and the [`Redactor`] that scrubs a
//! tenant's credentials from every text the runtime returns.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Headers whose values are credentials or session secrets.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// Config keys whose string values are credentials (matched case-insensitively, as parts).
const CREDENTIAL_KEY_MARKERS: [&str; 6] = [
    "token",
    "secret",
    "password",
    "apikey",
    "api_key",
    "credential",
];

/// Shorter values are not scrubbed: replacing "1" everywhere would mangle every record.
const MIN_SECRET_LEN: usize = 4;

/// What a secret is replaced with.
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

/// Scrubs a set of secrets, and their base64 forms at any offset (an HTTP Basic header embeds
/// a token in base64 next to other text), from text in one pass.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    matcher: Option<AhoCorasick>,
}

impl Redactor {
    /// Scrubs `secrets` and the credential values of `config_json` (keys such as `apiToken`,
    /// `password`, `client_secret`).
    pub fn new<'a>(config_json: &str, secrets: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut values: Vec<String> = credential_values(config_json);
        values.extend(secrets.into_iter().map(str::to_string));
        Redactor::of_values(values)
    }

    /// Scrubs the credential values of every config (e.g. for a file that mixes tenants).
    pub fn from_configs<'a>(configs: impl IntoIterator<Item = &'a str>) -> Redactor {
        Redactor::of_values(configs.into_iter().flat_map(credential_values).collect())
    }

    fn of_values(values: Vec<String>) -> Redactor {
        let mut patterns = Vec::new();
        for value in values.iter().filter(|v| v.len() >= MIN_SECRET_LEN) {
            patterns.push(value.clone());
            patterns.extend(base64_cores(value.as_bytes()));
        }
        patterns.retain(|p| p.len() >= MIN_SECRET_LEN);
        patterns.sort();
        patterns.dedup();
        let matcher = (!patterns.is_empty()).then(|| {
            // A contiguous NFA: a few KiB a tenant. The DFA the builder would pick for so few
            // patterns takes about 240 KiB (256 transitions a state), for texts that are short.
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(&patterns)
                .expect("plain string patterns always build")
        });
        Redactor { matcher }
    }

    /// `text` with every secret replaced by `[redacted]`; borrowed when there was none.
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match &self.matcher {
            Some(matcher) if matcher.is_match(text) => {
                let mut clean = String::with_capacity(text.len());
                matcher.replace_all_with(text, &mut clean, |_, _, clean| {
                    clean.push_str(REDACTED);
                    true
                });
                Cow::Owned(clean)
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// Scrubs `text` in place.
    pub fn scrub_in_place(&self, text: &mut String) {
        if let Cow::Owned(clean) = self.scrub(text) {
            *text = clean;
        }
    }
}

/// String values of the config's credential-like keys, at any depth.
fn credential_values(config_json: &str) -> Vec<String> {
    fn walk(value: &serde_json::Value, credential: bool, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) if credential => out.push(s.clone()),
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    let key = key.to_ascii_lowercase();
                    let is_credential = CREDENTIAL_KEY_MARKERS.iter().any(|m| key.contains(m));
                    walk(value, credential || is_credential, out);
                }
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|item| walk(item, credential, out))
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(value) = serde_json::from_str(config_json) {
        walk(&value, false, &mut out);
    }
    out
}

/// The base64 characters that depend on `secret` alone, for each of the three offsets at which
/// it can sit inside an encoded text. Whatever surrounds it, its encoding contains one of them.
fn base64_cores(secret: &[u8]) -> Vec<String> {
    (0..3)
        .filter_map(|offset| {
            let mut padded = vec![0u8; offset];
            padded.extend_from_slice(secret);
            let encoded = STANDARD.encode(&padded);
            // Characters touching the padding bytes mix in unknown bits: drop the leading
            // group's chars that cover the offset, and the trailing partial group.
            let skip = match offset {
                0 => 0,
                1 => 2,
                _ => 3,
            };
            let whole_bytes = (padded.len() / 3) * 3;
            let end = whole_bytes / 3 * 4;
            (end > skip).then(|| encoded[skip..end].to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tenant has a redactor: it must stay small (the automaton a few KiB, not the DFA's
    /// quarter MiB), or 10,000 tenants cost gigabytes.
    #[test]
    fn a_tenants_redactor_is_small() {
        let config = r#"{"subdomain":"t1","email":"admin@t1.example","apiToken":"bench-token-1234567890abcdef"}"#;
        let basic = STANDARD.encode("admin@t1.example/token:bench-token-1234567890abcdef");
        let redactor = Redactor::new(config, [basic.as_str()]);
        let matcher = redactor.matcher.as_ref().expect("secrets to scrub");
        assert!(
            matcher.memory_usage() < 32 << 10,
            "{} bytes",
            matcher.memory_usage()
        );
        let text = format!("Authorization: Basic {basic} token=bench-token-1234567890abcdef");
        let scrubbed = redactor.scrub(&text);
        assert!(
            !scrubbed.contains("bench-token") && !scrubbed.contains(&basic[4..20]),
            "{scrubbed}"
        );
    }

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

    #[test]
    fn scrubs_config_credentials_and_reported_secrets() {
        let redactor = Redactor::new(
            r#"{"subdomain": "acme", "apiToken": "SECRET-TOKEN-123", "nested": {"client_secret": "cs-4567"}}"#,
            ["oauth-xyz-789"],
        );
        assert_eq!(
            redactor.scrub("a SECRET-TOKEN-123 b cs-4567 c oauth-xyz-789 d acme"),
            "a [redacted] b [redacted] c [redacted] d acme"
        );
        assert!(matches!(redactor.scrub("clean"), Cow::Borrowed("clean")));
    }

    #[test]
    fn scrubs_the_base64_of_a_secret_at_any_offset() {
        let redactor = Redactor::new(r#"{"apiToken": "SECRET-TOKEN-123"}"#, []);
        for prefix in ["", "a", "ab", "admin@acme.com/token:"] {
            let encoded = STANDARD.encode(format!("{prefix}SECRET-TOKEN-123 and more"));
            let scrubbed = redactor.scrub(&encoded);
            assert!(scrubbed.contains(REDACTED), "{prefix:?}: {scrubbed}");
            let basic = STANDARD.encode(format!("{prefix}SECRET-TOKEN-123"));
            assert!(!redactor.scrub(&format!("Basic {basic}")).contains(&basic));
        }
    }

    #[test]
    fn tiny_values_are_left_alone() {
        let redactor = Redactor::new(r#"{"apiToken": "t0k"}"#, ["ab"]);
        assert_eq!(redactor.scrub("t0k ab"), "t0k ab");
    }
}
