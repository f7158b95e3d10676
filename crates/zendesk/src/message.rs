//! What `transform` receives: an analytics event (identify, group, track), a warehouse `record`
//! row, or an `audiencelist` change, told apart by `type`.

use crate::audience_list::AudienceList;
use crate::event::{Event, EventType};
use crate::json_values::string;
use crate::outcome::Error;
use crate::record::Record;
use serde_json::Value;

/// The largest message accepted. Segment caps events at 32 KB and RudderStack at 4 MB; half the
/// host's default request-body budget (1 MiB) leaves room for the request around the traits.
pub const MAX_EVENT_BYTES: usize = 512 * 1024;

/// The message types `transform` takes, as `describe` lists them.
pub const TYPES: [&str; 5] = ["identify", "group", "track", "record", "audiencelist"];

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Event(Event),
    Record(Record),
    Audience(AudienceList),
}

impl Message {
    pub fn parse(text: &str) -> Result<Message, Error> {
        if text.len() > MAX_EVENT_BYTES {
            return Err(Error::InvalidEvent(format!(
                "the event is {} bytes; at most {} KiB are accepted (its Zendesk request would \
                 exceed what the host sends)",
                text.len(),
                MAX_EVENT_BYTES / 1024
            )));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::InvalidEvent(format!("the event is not valid JSON: {e}")))?;
        let Value::Object(message) = value else {
            return Err(Error::InvalidEvent(
                "the event must be a JSON object".into(),
            ));
        };
        // RudderStack's older payloads name the type `action`; a record's `action` is its change.
        let kind = match string(&message, "type")? {
            Some(kind) => kind,
            None => string(&message, "action")?
                .ok_or_else(|| Error::InvalidEvent("the event has no `type`".into()))?,
        };
        match kind.to_ascii_lowercase().as_str() {
            "identify" => Event::from_object(EventType::Identify, &message).map(Message::Event),
            "group" => Event::from_object(EventType::Group, &message).map(Message::Event),
            "track" => Event::from_object(EventType::Track, &message).map(Message::Event),
            "record" => Record::from_object(&message).map(Message::Record),
            "audiencelist" => AudienceList::from_object(&message).map(Message::Audience),
            other => Err(Error::UnsupportedEvent(format!(
                "event type `{other}` is not supported by the Zendesk destination (supported: {})",
                TYPES.join(", ")
            ))),
        }
    }
}
impl Event {
    /// Parses an analytics event (identify, group, track) from JSON text; the other message
    /// types (`record`, `audiencelist`) are refused as unsupported here.
    pub fn parse(text: &str) -> Result<Event, Error> {
        match Message::parse(text)? {
            Message::Event(event) => Ok(event),
            _ => Err(Error::UnsupportedEvent(
                "not an identify, group or track event".into(),
            )),
        }
    }
}

#[cfg(test)]
mod event_tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(value: Value) -> Result<Event, Error> {
        Event::parse(&value.to_string())
    }

    #[test]
    fn an_event_larger_than_the_cap_is_invalid_before_it_is_parsed() {
        let big = json!({"type": "identify", "userId": "u", "traits": {"x": "x".repeat(MAX_EVENT_BYTES)}});
        let Err(Error::InvalidEvent(message)) = parse(big) else {
            panic!("accepted");
        };
        assert!(message.contains("at most 512 KiB"), "{message}");
        let small = json!({"type": "identify", "userId": "u", "traits": {"x": "x".repeat(1000)}});
        assert!(parse(small).is_ok());
    }
}

#[cfg(test)]
mod record_tests {
    use crate::message::Message;
    use crate::outcome::Error;
    use crate::record::{Record, RecordAction};
    use serde_json::{Value, json};

    fn parse(value: Value) -> Result<Message, Error> {
        Message::parse(&value.to_string())
    }

    #[test]
    fn fields_and_identifiers() {
        let Message::Record(record) = parse(json!({"type": "record", "action": "Update",
            "fields": {"name": "Ann", "email": "old@x.com"},
            "identifiers": {"email": "ann@x.com"}}))
        .unwrap() else {
            panic!("not a record");
        };
        assert_eq!(record.action, crate::record::RecordAction::Update);
        assert_eq!(
            Value::Object(record.fields),
            json!({"name": "Ann", "email": "old@x.com"})
        );
        assert_eq!(
            Value::Object(record.identifiers),
            json!({"email": "ann@x.com"})
        );
    }

    #[test]
    fn delete_parses_and_bad_shapes_are_invalid() {
        // Whether a delete may run is the config's `allowDeletes`, checked when it is synced.
        assert!(matches!(
            parse(
                json!({"type": "record", "action": "delete", "identifiers": {"external_id": "u"}})
            ),
            Ok(Message::Record(Record {
                action: RecordAction::Delete,
                ..
            }))
        ));
        for (record, expected) in [
            (json!({"type": "record", "fields": {"a": 1}}), "`action`"),
            (
                json!({"type": "record", "action": "merge", "fields": {"a": 1}}),
                "merge",
            ),
            (json!({"type": "record", "action": "insert"}), "no `fields`"),
            (
                json!({"type": "record", "action": "insert", "fields": [1]}),
                "`fields`",
            ),
            (
                json!({"type": "record", "action": "insert", "fields": {}, "identifiers": "x"}),
                "`identifiers`",
            ),
        ] {
            match parse(record.clone()) {
                Err(Error::InvalidEvent(message)) => {
                    assert!(message.contains(expected), "{record}: {message}")
                }
                other => panic!("{record}: {other:?}"),
            }
        }
    }
}

#[cfg(test)]
mod audience_list_tests {
    use super::*;
    use crate::audience_list::Member;
    use crate::message::Message;
    use serde_json::json;

    fn parse(value: Value) -> Result<Message, Error> {
        Message::parse(&value.to_string())
    }

    #[test]
    fn lists_of_identifier_objects() {
        let Message::Audience(list) = parse(json!({"type": "audiencelist", "properties":
            {"listData": {"add": [{"EMAIL": "a@x.com", "userId": 7}, {"id": "42"}],
                          "remove": [{"external_id": "u-9", "name": "Bo"}]}}}))
        .unwrap() else {
            panic!("not an audience list");
        };
        assert_eq!(
            list.add,
            vec![
                Member {
                    email: Some("a@x.com".into()),
                    external_id: Some("7".into()),
                    ..Member::default()
                },
                Member {
                    id: Some(42),
                    ..Member::default()
                },
            ]
        );
        assert_eq!(list.remove[0].external_id.as_deref(), Some("u-9"));
        assert_eq!(list.remove[0].name.as_deref(), Some("Bo"));
    }

    #[test]
    fn bad_lists_name_the_entry() {
        for (event, expected) in [
            (json!({"type": "audiencelist"}), "properties.listData"),
            (
                json!({"type": "audiencelist", "properties": {"listData": {"add": {}}}}),
                "listData.add`",
            ),
            (
                json!({"type": "audiencelist", "properties": {"listData": {"add": [1]}}}),
                "listData.add[0]",
            ),
            (
                json!({"type": "audiencelist", "properties": {"listData": {"remove": [{"name": "x"}]}}}),
                "listData.remove[0]` names no user",
            ),
            (
                json!({"type": "audiencelist", "properties": {"listData": {"add": [{"id": "x1"}]}}}),
                "Zendesk user id",
            ),
        ] {
            match parse(event.clone()) {
                Err(Error::InvalidEvent(message)) => {
                    assert!(message.contains(expected), "{event}: {message}")
                }
                other => panic!("{event}: {other:?}"),
            }
        }
    }
}
