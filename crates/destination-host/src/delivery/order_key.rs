//! The order key: events with the same key are delivered one after the other, in input order;
//! events with different keys never wait for each other.

use serde_json::Value;

/// Tenant + the person (or object) an event is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderKey(String);

impl OrderKey {
    /// The key of `event` for `tenant`: its `userId`, else `anonymousId`, else `groupId`; a
    /// warehouse `record` by its identifiers; an `audiencelist` by the tenant's audience
    /// stream. An event naming none of these shares the tenant's own key.
    pub fn of(tenant: &str, event: &Value) -> OrderKey {
        let id = |key: &str| match event.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        let subject = if let Some(user) = id("userId") {
            format!("user:{user}")
        } else if let Some(anonymous) = id("anonymousId") {
            format!("anonymous:{anonymous}")
        } else if let Some(group) = id("groupId") {
            format!("group:{group}")
        } else if kind.eq_ignore_ascii_case("record") {
            // serde_json's maps are sorted: the same identifiers give the same key.
            format!(
                "record:{}",
                event.get("identifiers").unwrap_or(&Value::Null)
            )
        } else if kind.eq_ignore_ascii_case("audiencelist") {
            "audience".to_string()
        } else {
            "tenant".to_string()
        };
        OrderKey(format!("{tenant}\u{1f}{subject}"))
    }

    /// The tenant part of the key.
    pub fn tenant(&self) -> &str {
        self.0.split('\u{1f}').next().unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A stable 64-bit hash (FNV-1a), e.g. to pick a partition.
    pub fn hash64(&self) -> u64 {
        fnv1a64(self.0.as_bytes())
    }
}

/// FNV-1a, 64 bits: a stable hash (the same in every process and version, unlike std's).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_then_anonymous_then_group() {
        let key = |event: Value| OrderKey::of("t1", &event).as_str().replace('\u{1f}', "/");
        assert_eq!(
            key(json!({"userId": "u1", "anonymousId": "a", "groupId": "g"})),
            "t1/user:u1"
        );
        assert_eq!(key(json!({"userId": 7})), "t1/user:7");
        assert_eq!(
            key(json!({"userId": " ", "anonymousId": "a1"})),
            "t1/anonymous:a1"
        );
        assert_eq!(
            key(json!({"type": "group", "groupId": "g1"})),
            "t1/group:g1"
        );
        assert_eq!(
            key(json!({"type": "record", "identifiers": {"external_id": "x"}})),
            "t1/record:{\"external_id\":\"x\"}"
        );
        assert_eq!(key(json!({"type": "audiencelist"})), "t1/audience");
        assert_eq!(key(json!({"type": "page"})), "t1/tenant");
        assert_eq!(OrderKey::of("t1", &json!({"userId": "u"})).tenant(), "t1");
        assert_ne!(
            OrderKey::of("t1", &json!({"userId": "u"})),
            OrderKey::of("t2", &json!({"userId": "u"}))
        );
    }
}
