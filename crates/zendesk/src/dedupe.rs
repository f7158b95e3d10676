//! Skipping repeated identify and group events.
//!
//! Web SDKs commonly send the same identify (and group) on every page load. Each one costs a
//! Zendesk write, and `create_or_update` is limited to 5 a minute per user. With
//! `skipUnchangedWithinSeconds` set, an identify or group whose content, under the same config
//! and plugin version, was fully delivered within that window is skipped without a call. The
//! fingerprint is stored only after the whole event succeeded, so a retry after a partial failure
//! still completes it.

use crate::event::{Event, EventType};
use crate::host::Host;

/// The identity of an event's content, as a cache key.
pub struct Fingerprint {
    key: String,
    window_seconds: u32,
}

/// The config without what changes on its own: a host-refreshed OAuth access token rotates
/// every half hour and says nothing about how an event is written.
fn stable_config(config_text: &str) -> serde_json::Value {
    match serde_json::from_str::<serde_json::Value>(config_text) {
        Ok(serde_json::Value::Object(mut config)) => {
            config.remove("oauthToken");
            config.remove("accessToken");
            serde_json::Value::Object(config)
        }
        _ => serde_json::Value::String(config_text.to_string()),
    }
}

impl Fingerprint {
    /// `None` when skipping is off or the event is a track (tracks are occurrences, never
    /// duplicates of each other).
    pub fn of(config_text: &str, window_seconds: u32, event: &Event) -> Option<Fingerprint> {
        if window_seconds == 0 || event.kind == EventType::Track {
            return None;
        }
        let kind = event.kind.name();
        // What the flows read; volatile fields (messageId, timestamps, page context) are left out.
        // The plugin version is in: a new version may map the same event differently. Written
        // straight into the hash as a JSON array: no copy of the traits, no text kept.
        let content = (
            crate::VERSION,
            stable_config(config_text),
            kind,
            &event.user_id,
            &event.group_id,
            &event.traits,
            &event.context_traits,
        );
        Some(Fingerprint {
            key: format!("sent:{kind}:{:016x}", json_hash(&content)),
            window_seconds,
        })
    }

    /// Whether the same content was delivered within the window.
    pub fn seen(&self, host: &dyn Host) -> bool {
        host.cache_get(&self.key).is_some()
    }

    /// Records a successful delivery.
    pub fn remember(&self, host: &dyn Host) {
        host.cache_set(&self.key, "1", self.window_seconds);
    }

    pub fn window_seconds(&self) -> u32 {
        self.window_seconds
    }
}

/// The outcome of an event skipped as unchanged.
pub fn unchanged(kind: EventType, window_seconds: u32) -> crate::Outcome {
    crate::Outcome {
        operations: Vec::new(),
        skipped: Some(format!(
            "unchanged: the same {} was delivered less than {window_seconds} s ago",
            kind.name()
        )),
    }
}

/// A cache key naming `content` under this plugin version: `{prefix}:{hash}`.
pub fn content_key(prefix: &str, content: &serde_json::Value) -> String {
    format!("{prefix}:{:016x}", json_hash(&(crate::VERSION, content)))
}

/// FNV-1a of `value`'s compact JSON text, written straight into the hash (no text kept).
fn json_hash(value: &impl serde::Serialize) -> u64 {
    let mut hash = Fnv1a::default();
    // Writing to a hash cannot fail, nor can serialising JSON values, strings and maps.
    let _ = serde_json::to_writer(&mut hash, value);
    hash.0
}

/// 64-bit FNV-1a over everything written to it: small, stable across builds and platforms
/// (unlike std's randomised hasher).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl std::io::Write for Fnv1a {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 = bytes.iter().fold(self.0, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(text: serde_json::Value) -> Event {
        Event::parse(&text.to_string()).unwrap()
    }

    #[test]
    fn same_content_same_key_volatile_fields_ignored() {
        let a = event(
            json!({"type": "identify", "userId": "u", "traits": {"name": "A"},
            "messageId": "m1", "timestamp": "2026-01-01T00:00:00Z"}),
        );
        let b = event(
            json!({"type": "identify", "userId": "u", "traits": {"name": "A"},
            "messageId": "m2", "timestamp": "2026-01-02T00:00:00Z"}),
        );
        let changed = event(json!({"type": "identify", "userId": "u", "traits": {"name": "B"}}));
        let key = |e: &Event, config: &str| Fingerprint::of(config, 60, e).unwrap().key;
        assert_eq!(key(&a, "{}"), key(&b, "{}"));
        assert_ne!(key(&a, "{}"), key(&changed, "{}"));
        assert_ne!(key(&a, "{}"), key(&a, r#"{"createUsersAsVerified":true}"#));
    }

    #[test]
    fn a_rotated_access_token_keeps_the_fingerprint() {
        let a = event(json!({"type": "identify", "userId": "u", "traits": {"name": "A"}}));
        let key = |e: &Event, config: &str| Fingerprint::of(config, 60, e).unwrap().key;
        assert_eq!(
            key(&a, r#"{"subdomain":"x","oauthToken":"at-1"}"#),
            key(&a, r#"{"subdomain":"x","oauthToken":"at-2"}"#)
        );
        assert_ne!(
            key(&a, r#"{"subdomain":"x","oauthToken":"at-1"}"#),
            key(&a, r#"{"subdomain":"y","oauthToken":"at-1"}"#)
        );
    }

    #[test]
    fn off_by_default_and_never_for_track() {
        let identify = event(json!({"type": "identify", "userId": "u"}));
        let track = event(json!({"type": "track", "userId": "u", "event": "E"}));
        assert!(Fingerprint::of("{}", 0, &identify).is_none());
        assert!(Fingerprint::of("{}", 60, &track).is_none());
    }

    fn fnv1a(bytes: &[u8]) -> u64 {
        let mut hash = Fnv1a::default();
        std::io::Write::write_all(&mut hash, bytes).unwrap();
        hash.0
    }

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_key_hashes_the_content_as_one_json_array() {
        // The same keys as before the content was streamed: an upgrade skips what it should.
        let a = event(json!({"type": "group", "userId": "u", "groupId": "g",
            "traits": {"name": "A", "plan": 2}, "context": {"traits": {"email": "u@x.io"}}}));
        let text = json!([crate::VERSION, {"subdomain": "x"}, "group", "u", "g",
            {"name": "A", "plan": 2}, {"email": "u@x.io"}])
        .to_string();
        let key = Fingerprint::of(r#"{"subdomain":"x","oauthToken":"at"}"#, 60, &a)
            .unwrap()
            .key;
        assert_eq!(key, format!("sent:group:{:016x}", fnv1a(text.as_bytes())));
    }
}
