//! One analytics event in the Segment or RudderStack shape, with the fields this destination reads.

use crate::json_values::{id_string, invalid_type, numeric_id, object, string};
use crate::outcome::Error;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Identify,
    Group,
    Track,
}

impl EventType {
    pub fn name(self) -> &'static str {
        match self {
            EventType::Identify => "identify",
            EventType::Group => "group",
            EventType::Track => "track",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventType,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub group_id: Option<String>,
    /// The track event's name (`event`).
    pub name: Option<String>,
    pub properties: Map<String, Value>,
    /// The top-level `traits`: the user's on identify, the organization's on group.
    pub traits: Map<String, Value>,
    pub context_traits: Map<String, Value>,
    /// RFC 3339 timestamp, only when it looks like one.
    pub timestamp: Option<String>,
    pub message_id: Option<String>,
    /// `context.zendesk_user_id`: the caller already knows the Zendesk user.
    pub zendesk_user_id: Option<u64>,
}

impl Event {
    pub(crate) fn from_object(kind: EventType, event: &Map<String, Value>) -> Result<Event, Error> {
        let context = object(event, "context")?;
        Ok(Event {
            kind,
            user_id: id_string(event, "userId")?,
            anonymous_id: id_string(event, "anonymousId")?,
            group_id: id_string(event, "groupId")?,
            name: string(event, "event")?,
            properties: object(event, "properties")?,
            traits: object(event, "traits")?,
            context_traits: object(&context, "traits")
                .map_err(|_| invalid_type("context.traits", "a JSON object"))?,
            timestamp: string(event, "timestamp")?.filter(|t| looks_like_rfc3339(t)),
            message_id: id_string(event, "messageId")?,
            zendesk_user_id: match context.get("zendesk_user_id") {
                None | Some(Value::Null) => None,
                Some(value) => Some(numeric_id(value).ok_or_else(|| {
                    invalid_type("context.zendesk_user_id", "a Zendesk user id (a number)")
                })?),
            },
        })
    }

    /// The person's traits: on identify `traits` over `context.traits`; otherwise `context.traits`.
    pub fn user_traits(&self) -> Map<String, Value> {
        let mut merged = self.context_traits.clone();
        if self.kind == EventType::Identify {
            merged.extend(self.traits.clone());
        }
        merged
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`: what Zendesk's `created_at` accepts.
fn looks_like_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let date_time = digits(0..4)
        && at(4, b'-')
        && digits(5..7)
        && at(7, b'-')
        && digits(8..10)
        && matches!(b.get(10), Some(b'T' | b't' | b' '))
        && digits(11..13)
        && at(13, b':')
        && digits(14..16)
        && at(16, b':')
        && digits(17..19);
    if !date_time {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Event, Error> {
        Event::parse(&value.to_string())
    }

    #[test]
    fn segment_and_rudderstack_shapes() {
        let event = parse(
            json!({"type": "IDENTIFY", "userId": 42, "traits": {"name": "Ann"},
            "context": {"traits": {"name": "Old", "plan": "pro"}, "zendesk_user_id": "77"},
            "timestamp": "2024-05-01T10:00:00.123Z", "messageId": "m-1"}),
        )
        .unwrap();
        assert_eq!(event.kind, EventType::Identify);
        assert_eq!(event.user_id.as_deref(), Some("42"));
        assert_eq!(event.zendesk_user_id, Some(77));
        assert_eq!(event.timestamp.as_deref(), Some("2024-05-01T10:00:00.123Z"));
        assert_eq!(event.message_id.as_deref(), Some("m-1"));
        let traits = event.user_traits();
        assert_eq!(traits["name"], "Ann");
        assert_eq!(traits["plan"], "pro");

        let event = parse(
            json!({"action": "group", "groupId": 9, "traits": {"name": "Org"},
            "context": {"traits": {"email": "a@b.c"}}}),
        )
        .unwrap();
        assert_eq!(event.kind, EventType::Group);
        assert_eq!(event.group_id.as_deref(), Some("9"));
        assert_eq!(
            event.user_traits(),
            json!({"email": "a@b.c"}).as_object().unwrap().clone()
        );
        assert!(event.properties.is_empty());
    }

    #[test]
    fn unsupported_and_invalid_events() {
        for kind in ["page", "screen", "alias", "Page"] {
            let err = parse(json!({"type": kind})).unwrap_err();
            assert_eq!(
                err,
                Error::UnsupportedEvent(format!(
                    "event type `{}` is not supported by the Zendesk destination (supported: identify, group, track, record, audiencelist)",
                    kind.to_ascii_lowercase()
                ))
            );
        }
        assert!(
            matches!(parse(json!({"userId": "u"})), Err(Error::InvalidEvent(m)) if m.contains("type"))
        );
        assert!(
            matches!(Event::parse("{\"type\":"), Err(Error::InvalidEvent(m)) if m.contains("not valid JSON"))
        );
        assert!(
            matches!(Event::parse("[]"), Err(Error::InvalidEvent(m)) if m.contains("JSON object"))
        );
        assert!(matches!(parse(json!({"type": "track", "properties": [1]})),
            Err(Error::InvalidEvent(m)) if m.contains("`properties`")));
        assert!(matches!(parse(json!({"type": "track", "userId": true})),
            Err(Error::InvalidEvent(m)) if m.contains("`userId`")));
        assert!(
            matches!(parse(json!({"type": "track", "context": {"zendesk_user_id": "abc"}})),
            Err(Error::InvalidEvent(m)) if m.contains("zendesk_user_id"))
        );
    }

    #[test]
    fn timestamps_pass_only_when_rfc3339() {
        for (text, ok) in [
            ("2024-05-01T10:00:00Z", true),
            ("2024-05-01T10:00:00+02:00", true),
            ("2024-05-01T10:00:00.5-05:30", true),
            ("2024-05-01", false),
            ("yesterday", false),
            ("2024-05-01T10:00:00", false),
            ("2024-05-01T10:00:00.Z", false),
        ] {
            assert_eq!(looks_like_rfc3339(text), ok, "{text}");
        }
    }

    #[test]
    fn numeric_ids() {
        assert_eq!(numeric_id(&json!(900001329943u64)), Some(900001329943));
        assert_eq!(numeric_id(&json!("6789")), Some(6789));
        assert_eq!(numeric_id(&json!("67a")), None);
        assert_eq!(numeric_id(&json!(-1)), None);
        assert_eq!(numeric_id(&json!(1.5)), None);
    }
}
