//! What `transform` receives: an analytics event (identify, group, track), a warehouse `record`
//! row, or an `audiencelist` change, told apart by `type`.

use crate::audience_list::AudienceList;
use crate::event::{Event, EventType, string};
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
