//! The Zendesk destination: maps Segment / RudderStack events onto the Zendesk Support API.
//!
//! Everything here is plain Rust over the [`Host`] trait; `bindings.rs` (wasm32 only) adapts the
//! component's imports and exports to it.

pub mod audience_list;
pub mod audiences;
pub mod batch;
pub mod classify;
pub mod client;
pub mod config;
pub mod dedupe;
pub mod erase;
pub mod event;

pub mod fields;
pub mod group;
pub mod host;
pub mod identify;
pub mod introspection;
pub mod json_values;
pub mod memberships;
pub mod message;
pub mod organizations;
pub mod outcome;
pub mod primary_email;
pub mod record;
pub mod records;
pub mod schema;
mod settings;
pub mod sync_config;
pub mod ticket_fields;
pub mod tickets;
pub mod track;
pub mod traits;
pub mod users;

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(test)]
mod testing;

pub use host::{FetchError, Host, HttpRequest, HttpResponse, Level};
pub use introspection::FieldInfo;
pub use outcome::{ConfigFacts, Description, Error, Operation, Outcome};
pub use sync_config::ObjectType;

use client::Client;
use config::Config;
use dedupe::Fingerprint;
use event::EventType;
use message::Message;

/// The plugin's version. A build may override it (`ZENDESK_PLUGIN_VERSION`) so that two builds of
/// the same source are told apart, e.g. in hot-swap tests.
pub const VERSION: &str = match option_env!("ZENDESK_PLUGIN_VERSION") {
    Some(version) => version,
    None => env!("CARGO_PKG_VERSION"),
};

/// Forwards one message (JSON): an event, a warehouse record or an audience list, under one
/// destination config (JSON).
pub fn transform(host: &dyn Host, config: &str, event: &str) -> Result<Outcome, Error> {
    let parsed = Config::parse_for_calls(config)?;
    deliver(host, &parsed, config, Message::parse(event)?)
}

/// Forwards one parsed message under a parsed config (`config_text` is what the unchanged
/// window's fingerprint names).
fn deliver(
    host: &dyn Host,
    config: &Config,
    config_text: &str,
    message: Message,
) -> Result<Outcome, Error> {
    let event = match message {
        Message::Event(event) => event,
        Message::Record(record) => {
            let mut client = Client::new(host, config);
            let skipped = records::sync(&mut client, config, &record)?;
            return Ok(client.into_outcome(skipped));
        }
        Message::Audience(list) => {
            let mut client = Client::new(host, config);
            let skipped = audiences::apply(&mut client, config, &list)?;
            return Ok(client.into_outcome(skipped));
        }
    };
    let fingerprint = Fingerprint::of(config_text, config.skip_unchanged_seconds, &event);
    if let Some(fingerprint) = fingerprint.as_ref().filter(|f| f.seen(host)) {
        return Ok(dedupe::unchanged(event.kind, fingerprint.window_seconds()));
    }
    let mut client = Client::new(host, config);
    let skipped = match event.kind {
        EventType::Identify => identify::handle(&mut client, config, &event).map(|()| None),
        EventType::Group => group::handle(&mut client, config, &event).map(|()| None),
        EventType::Track => track::handle(&mut client, config, &event),
    }?;
    if let Some(fingerprint) = fingerprint {
        fingerprint.remember(host);
    }
    Ok(client.into_outcome(skipped))
}

/// Forwards several messages under one config, on Zendesk's bulk endpoints where it can: one
/// result per message, in input order (see [`batch`]). A config that cannot be used, or
/// credentials Zendesk rejects, fail the whole batch.
pub fn transform_batch(
    host: &dyn Host,
    config: &str,
    events: &[String],
) -> Result<Vec<Result<Outcome, Error>>, Error> {
    batch::transform_batch(host, config, events)
}

/// Every field a `record` of `object` can write, for a mapping UI: standard attributes and the
/// account's custom fields (read from Zendesk's fields APIs, nothing else).
pub fn list_fields(
    host: &dyn Host,
    config: &str,
    object: ObjectType,
) -> Result<Vec<FieldInfo>, Error> {
    let config = Config::parse_for_calls(config)?;
    let mut client = Client::new(host, &config);
    let custom_object = config.sync.custom_object_key.as_deref();
    introspection::list_fields(&mut client, object, custom_object)
}

/// Name, version, event types and settings schema.
pub fn describe() -> Description {
    Description {
        name: "zendesk".into(),
        version: VERSION.into(),
        event_types: message::TYPES.iter().map(|t| t.to_string()).collect(),
        settings_schema: schema::SETTINGS_SCHEMA.into(),
        max_batch_size: batch::MAX_BATCH_SIZE as u32,
    }
}

/// Checks a config without calling Zendesk; on success, the facts the host derives its outbound
/// policy (the subdomain) and its redaction (every credential form) from.
pub fn validate_config(config: &str) -> Result<ConfigFacts, Error> {
    Config::parse(config).map(|config| config.facts())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeHost, config_json};
    use serde_json::json;

    #[test]
    fn describe_lists_event_types_and_schema() {
        let description = describe();
        assert_eq!(description.name, "zendesk");
        assert_eq!(
            description.event_types,
            vec!["identify", "group", "track", "record", "audiencelist"]
        );
        let schema: serde_json::Value = serde_json::from_str(&description.settings_schema).unwrap();
        assert!(schema["properties"]["domain"].is_object());
    }

    fn facts_of(config: serde_json::Value) -> ConfigFacts {
        validate_config(&config.to_string()).expect("valid config")
    }

    fn subdomain(value: &str) -> Vec<(String, String)> {
        vec![("subdomain".into(), value.into())]
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn validate_config_runs_the_parser() {
        assert_eq!(
            validate_config(&config_json(json!({}))),
            Ok(ConfigFacts {
                origin_values: subdomain("acme"),
                // base64("admin@acme.com/token:secret-token")
                secrets: strings(&[
                    "secret-token",
                    "YWRtaW5AYWNtZS5jb20vdG9rZW46c2VjcmV0LXRva2Vu"
                ]),
            })
        );
        assert_eq!(
            validate_config(&config_json(json!({"sendGroupCallsWithoutUserId": "yes"}))),
            Err(Error::InvalidConfig(
                "`sendGroupCallsWithoutUserId` must be a boolean (true or false)".into()
            ))
        );
    }

    #[test]
    fn facts_name_the_normalised_subdomain() {
        for (key, raw) in [
            ("subdomain", "acme"),
            ("subdomain", " ACME "),
            ("domain", "Acme"),
            ("domain", "acme.zendesk.com"),
            ("subdomain", "https://acme.zendesk.com/agent"),
            ("subdomain", "http://ACME.zendesk.com/"),
            ("subdomain", "acme.zendesk.com/"),
        ] {
            let facts = facts_of(json!({key: raw, "oauthToken": "t0k"}));
            assert_eq!(facts.origin_values, subdomain("acme"), "{key}: {raw}");
        }
        // `subdomain` wins over `domain`; hyphens and digits stay.
        let facts = facts_of(json!({"subdomain": "my-co2", "domain": "other", "oauthToken": "t"}));
        assert_eq!(facts.origin_values, subdomain("my-co2"));
    }

    #[test]
    fn facts_list_every_form_of_the_api_token() {
        let facts = facts_of(json!({"domain": "https://acme.zendesk.com/agent",
            "email": "a@b.c", "apiToken": " tok "}));
        assert_eq!(
            facts,
            ConfigFacts {
                origin_values: subdomain("acme"),
                // The trimmed token, and base64("a@b.c/token:tok") as sent after `Basic `.
                secrets: strings(&["tok", "YUBiLmMvdG9rZW46dG9r"]),
            }
        );
    }

    #[test]
    fn facts_list_the_oauth_token_once() {
        // The Bearer credential is the token itself: listed once.
        for key in ["oauthToken", "accessToken"] {
            let facts = facts_of(json!({"subdomain": "acme.zendesk.com", key: "xyz"}));
            assert_eq!(
                facts,
                ConfigFacts {
                    origin_values: subdomain("acme"),
                    secrets: strings(&["xyz"]),
                },
                "{key}"
            );
        }
    }

    #[test]
    fn facts_also_list_tokens_the_auth_does_not_use() {
        // Email + apiToken win; the OAuth and access tokens are never sent but still secrets.
        let facts = facts_of(
            json!({"subdomain": "acme", "email": "a@b.c", "apiToken": "tok",
            "oauthToken": "oauth-1", "accessToken": "access-1"}),
        );
        assert_eq!(
            facts.secrets,
            strings(&["tok", "YUBiLmMvdG9rZW46dG9r", "oauth-1", "access-1"])
        );
        // No email: OAuth wins; the lone apiToken is listed after it. Duplicates are listed once.
        let facts = facts_of(json!({"subdomain": "acme", "apiToken": "tok",
            "oauthToken": "same", "accessToken": "same"}));
        assert_eq!(facts.secrets, strings(&["same", "tok"]));
        // Empty values are not credentials (and would make the host scrub everything).
        let facts = facts_of(
            json!({"subdomain": "acme", "oauthToken": "t", "apiToken": " ",
            "accessToken": ""}),
        );
        assert_eq!(facts.secrets, strings(&["t"]));
    }

    #[test]
    fn bad_config_or_event_fails_before_any_call() {
        let host = FakeHost::new();
        let event = json!({"type": "identify", "userId": "u", "traits": {"name": "A"}}).to_string();
        assert!(matches!(
            transform(&host, "{}", &event),
            Err(Error::InvalidConfig(_))
        ));
        assert!(matches!(
            transform(&host, &config_json(json!({})), "not json"),
            Err(Error::InvalidEvent(_))
        ));
        assert!(matches!(
            transform(
                &host,
                &config_json(json!({})),
                r#"{"type":"alias","userId":"u"}"#
            ),
            Err(Error::UnsupportedEvent(_))
        ));
        assert!(host.requests().is_empty());
    }
}
