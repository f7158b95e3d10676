//! The settings JSON Schema (draft 2020-12) that `describe` publishes.

pub const SETTINGS_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Zendesk destination settings",
  "type": "object",
  "additionalProperties": true,
  "anyOf": [{"required": ["subdomain"]}, {"required": ["domain"]}],
  "properties": {
    "subdomain": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9-]*$", "description": "Your Zendesk subdomain: `acme` for acme.zendesk.com (a pasted acme.zendesk.com or https://acme.zendesk.com is accepted)."},
    "domain": {"type": "string", "description": "RudderStack's name for `subdomain`."},
    "email": {"type": "string", "description": "Email of the Zendesk admin or agent the API token belongs to (with `apiToken`: Basic `email/token:apiToken`)."},
    "apiToken": {"type": "string", "writeOnly": true, "description": "Zendesk API token (secret)."},
    "oauthToken": {"type": "string", "writeOnly": true, "description": "OAuth access token (secret), sent as `Bearer`; used when email + apiToken are not set."},
    "accessToken": {"type": "string", "writeOnly": true, "description": "Alias of `oauthToken`."},
    "createUsersAsVerified": {"type": "boolean", "default": false, "description": "Create and update users as verified (sends `verified: true`; `false` is never sent)."},
    "skipVerifyEmail": {"type": "boolean", "default": false, "description": "Do not send Zendesk's verification email to created users and added email identities."},
    "sendGroupCallsWithoutUserId": {"type": "boolean", "default": false, "description": "Accept group calls without a userId: the organization is upserted and no user is associated."},
    "removeUsersFromOrganization": {"type": "boolean", "default": false, "description": "On identify, remove the user from the organization `company.id` when `company.remove` is true (RudderStack key)."},
    "removeUsersFromOrganizations": {"type": "boolean", "default": false, "description": "Segment's name for `removeUsersFromOrganization`."},
    "updatePrimaryEmail": {"type": "boolean", "default": false, "description": "On identify, make `traits.email` the user's primary email (the old one stays as secondary). A `primaryEmail` trait does this even when off."},
    "searchByExternalId": {"type": "boolean", "default": false, "description": "RudderStack's historical key for `updatePrimaryEmail`."},
    "sourceName": {"type": "string", "default": "Rudder", "not": {"pattern": "^\\s*[Zz][Ee][Nn][Dd][Ee][Ss][Kk]\\s*$"}, "description": "The `source` of track events in Zendesk's Events API; `zendesk` is reserved by Zendesk."},
    "events": {"type": "array", "items": {"type": "string"}, "default": [], "description": "Allow-list of track event names sent to the Events API; empty sends all. Ticket events are not affected."},
    "ticketCreatedEvent": {"type": "string", "default": "Ticket Created", "description": "Track event name that creates a ticket."},
    "ticketUpdatedEvent": {"type": "string", "default": "Ticket Updated", "description": "Track event name that updates a ticket."},
    "skipUnchangedWithinSeconds": {"type": "integer", "minimum": 0, "maximum": 86400, "default": 0, "description": "Skip an identify or group identical to one delivered less than this many seconds ago (SDKs often repeat identify on every page). 0 writes every event."}
  }
}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KNOWN_KEYS;
    use serde_json::Value;

    #[test]
    fn schema_is_json_and_lists_every_known_key() {
        let schema: Value = serde_json::from_str(SETTINGS_SCHEMA).unwrap();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        let properties = schema["properties"].as_object().unwrap();
        for key in KNOWN_KEYS {
            let property = &properties[*key];
            assert!(property["type"].is_string(), "{key} has no type");
            assert!(
                property["description"].is_string(),
                "{key} has no description"
            );
        }
        assert_eq!(properties.len(), KNOWN_KEYS.len());
        assert_eq!(properties["sourceName"]["default"], "Rudder");
    }
}
