//! The settings JSON Schema (draft 2020-12) that `describe` publishes.

pub const SETTINGS_SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Zendesk destination settings",
  "description": "Every key may be null; a blank string counts as missing. tests/schema_agrees.rs checks that this schema and validate-config accept the same configs.",
  "type": "object",
  "additionalProperties": true,
  "$defs": {
    "blank": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^\\s*$"}]},
    "filled": {"type": "string", "pattern": "\\S"},
    "zendeskSubdomain": {"type": "string", "pattern": "^\\s*(?:[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9][A-Za-z0-9-]*(?:\\.[Zz][Ee][Nn][Dd][Ee][Ss][Kk]\\.[Cc][Oo][Mm])?(?:/.*)?|[A-Za-z0-9][A-Za-z0-9-]*(?:\\.[Zz][Ee][Nn][Dd][Ee][Ss][Kk]\\.[Cc][Oo][Mm])?/?)\\s*$"}
  },
  "allOf": [
    {"anyOf": [
      {"required": ["subdomain"], "properties": {"subdomain": {"$ref": "#/$defs/zendeskSubdomain"}}},
      {"required": ["domain"], "properties": {"subdomain": {"$ref": "#/$defs/blank"}, "domain": {"$ref": "#/$defs/zendeskSubdomain"}}}
    ]},
    {"anyOf": [
      {"required": ["email", "apiToken"], "properties": {"email": {"$ref": "#/$defs/filled"}, "apiToken": {"$ref": "#/$defs/filled"}}},
      {"required": ["oauthToken"], "properties": {"oauthToken": {"$ref": "#/$defs/filled"}}},
      {"required": ["accessToken"], "properties": {"accessToken": {"$ref": "#/$defs/filled"}}},
      {"required": ["oauth"], "properties": {"oauth": {"type": "object"}}}
    ]},
    {"if": {"required": ["oauthToken"], "properties": {"oauthToken": {"$ref": "#/$defs/filled"}}},
     "else": {"properties": {"accessToken": {"type": ["string", "null"]}}}},
    {"if": {"required": ["identifierKey", "objectType"], "properties": {"identifierKey": {"const": "email"}, "objectType": {"enum": ["organizations", "tickets"]}}},
     "then": false},
    {"if": {"required": ["identifierKey"], "properties": {"identifierKey": {"const": "id"}}},
     "then": {"required": ["syncMode"], "properties": {"syncMode": {"const": "update"}}}},
    {"if": {"required": ["identifierKey", "objectType"], "properties": {"identifierKey": {"not": {"anyOf": [{"$ref": "#/$defs/blank"}, {"enum": ["external_id", "email", "id"]}]}}, "objectType": {"enum": ["tickets", "organization_memberships", "ticket_comments", "custom_objects"]}}},
     "then": false},
    {"if": {"required": ["objectType"], "properties": {"objectType": {"const": "custom_objects"}}},
     "then": {"required": ["customObjectKey"], "properties": {"customObjectKey": {"$ref": "#/$defs/filled"}, "identifierKey": {"anyOf": [{"$ref": "#/$defs/blank"}, {"const": "external_id"}]}}}}
  ],
  "properties": {
    "subdomain": {"type": ["string", "null"], "description": "Your Zendesk subdomain: `acme` for acme.zendesk.com (a pasted acme.zendesk.com or https://acme.zendesk.com/agent is accepted)."},
    "domain": {"type": ["string", "null"], "description": "RudderStack's name for `subdomain` (used when `subdomain` is not set)."},
    "email": {"type": ["string", "null"], "description": "Email of the Zendesk admin or agent the API token belongs to (with `apiToken`: Basic `email/token:apiToken`)."},
    "apiToken": {"type": ["string", "null"], "writeOnly": true, "description": "Zendesk API token (secret)."},
    "oauthToken": {"type": ["string", "null"], "writeOnly": true, "description": "OAuth access token (secret), sent as `Bearer`; used when email + apiToken are not set."},
    "oauth": {
      "type": ["object", "null"],
      "required": ["clientId"],
      "properties": {
        "clientId": {"$ref": "#/$defs/filled"},
        "clientSecret": {"type": ["string", "null"], "writeOnly": true},
        "refreshToken": {"type": ["string", "null"], "writeOnly": true},
        "grantType": {"anyOf": [{"$ref": "#/$defs/blank"}, {"enum": ["refresh_token", "client_credentials"]}]},
        "scope": {"type": ["string", "null"]}
      },
      "description": "OAuth with tokens that expire and rotate, refreshed by the host: clientId, clientSecret and refreshToken, or grantType client_credentials with an optional scope. The host passes each call's access token as `oauthToken`; the plugin never sees the secrets."
    },
    "accessToken": {"writeOnly": true, "description": "Alias of `oauthToken`: a string or null, ignored (whatever it holds) when `oauthToken` is set."},
    "createUsersAsVerified": {"type": ["boolean", "null"], "default": false, "description": "Create and update users as verified (sends `verified: true`; `false` is never sent)."},
    "skipVerifyEmail": {"type": ["boolean", "null"], "default": false, "description": "Do not send Zendesk's verification email to created users and added email identities."},
    "sendGroupCallsWithoutUserId": {"type": ["boolean", "null"], "default": false, "description": "Accept group calls without a userId: the organization is upserted and no user is associated."},
    "removeUsersFromOrganization": {"type": ["boolean", "null"], "default": false, "description": "On identify, remove the user from the organization `company.id` when `company.remove` is true (RudderStack key)."},
    "removeUsersFromOrganizations": {"type": ["boolean", "null"], "default": false, "description": "Segment's name for `removeUsersFromOrganization`."},
    "updatePrimaryEmail": {"type": ["boolean", "null"], "default": false, "description": "On identify, make `traits.email` the user's primary email (the old one stays as secondary). A `primaryEmail` trait does this even when off."},
    "searchByExternalId": {"type": ["boolean", "null"], "default": false, "description": "RudderStack's historical key for `updatePrimaryEmail`."},
    "sourceName": {"type": ["string", "null"], "default": "Rudder", "not": {"type": "string", "pattern": "^\\s*[Zz][Ee][Nn][Dd][Ee][Ss][Kk]\\s*$"}, "description": "The `source` of track events in Zendesk's Events API (RudderStack's default); `zendesk` is reserved by Zendesk."},
    "events": {"type": ["array", "null"], "items": {"type": "string"}, "default": [], "description": "Allow-list of track event names sent to the Events API; empty sends all. Ticket events are not affected."},
    "ticketCreatedEvent": {"type": ["string", "null"], "default": "Ticket Created", "description": "Track event name that creates a ticket."},
    "ticketUpdatedEvent": {"type": ["string", "null"], "default": "Ticket Updated", "description": "Track event name that updates a ticket."},
    "skipUnchangedWithinSeconds": {"type": ["integer", "null"], "minimum": 0, "maximum": 86400, "default": 60, "description": "Skip an identify or group identical to one delivered less than this many seconds ago (SDKs often repeat identify on every page), and an organization upsert identical to one written that recently. 0 writes every event."},
    "objectType": {"anyOf": [{"$ref": "#/$defs/blank"}, {"enum": ["users", "organizations", "tickets", "organization_memberships", "ticket_comments", "custom_objects"]}], "description": "The Zendesk object `record` events (warehouse rows) are synced to. Required for record events. `custom_objects` rows are records of the object `customObjectKey` names, by `external_id`, with a `name` and the object's fields. `organization_memberships` rows name a user (`user_email` or `user_external_id`) and an organization (`organization_external_id`); `ticket_comments` rows a ticket (`ticket_id` or `ticket_external_id`), a `body`, `public` and an `author_email` or `author_external_id`."},
    "syncMode": {"anyOf": [{"$ref": "#/$defs/blank"}, {"enum": ["upsert", "insert", "update"]}], "default": "upsert", "description": "How a record is written: `upsert` creates or updates; `insert` creates only (an existing record is skipped as \"exists\"); `update` updates only (a missing record is skipped as \"not found\")."},
    "fieldMapping": {"description": "Source column -> Zendesk field: a user or organization field key or standard attribute, a ticket field title or id. An object, or a list of {from, to}. When set, only mapped columns (and the identifiers) are written; when several columns feed one field, the first with a value wins.",
      "anyOf": [
        {"type": "null"},
        {"type": "object", "propertyNames": {"pattern": "\\S"}, "additionalProperties": {"$ref": "#/$defs/filled"}},
        {"type": "array", "items": {"type": "object", "required": ["from", "to"], "properties": {"from": {"$ref": "#/$defs/filled"}, "to": {"$ref": "#/$defs/filled"}}}}
      ]},
    "allowDeletes": {"type": ["boolean", "null"], "default": false, "description": "Delete the Zendesk user (soft delete), organization or ticket of a `record` row with `action: delete`. Off by default: a bad sync could empty an account; a delete row is then refused as unsupported."},
    "customObjectKey": {"type": ["string", "null"], "description": "The key of the custom object whose records `objectType: custom_objects` rows are (its fields must exist; they are never created)."},
    "tagsMode": {"anyOf": [{"$ref": "#/$defs/blank"}, {"enum": ["add", "remove", "replace"]}], "default": "add", "description": "What a user or organization record's `tags` column does: `add` adds its tags and keeps the others (the default: tags set by agents, triggers and checkbox fields survive), `remove` removes them, `replace` makes them the whole list (wiping every other tag)."},
    "identifierKey": {"anyOf": [{"$ref": "#/$defs/blank"}, {"enum": ["external_id", "email", "id"]}, {"type": "string", "pattern": "^[a-z0-9]+(_[a-z0-9]+)*$", "not": {"pattern": "^[0-9_]+$"}}], "default": "external_id", "description": "What identifies a record in Zendesk: `external_id`, `email` (users only), the Zendesk `id` (syncMode update only), or the key of a custom user or organization field whose values are unique (the row's column of that name holds the value; found through Zendesk search, so a row costs one more call)."},
    "audienceKey": {"type": ["string", "null"], "anyOf": [{"$ref": "#/$defs/blank"}, {"pattern": "[A-Za-z]"}], "description": "The checkbox user field that holds audience membership for `audiencelist` events (needs a letter a-z; created once when missing; an existing field of that key, snake_case key or case-insensitive key is reused)."},
    "audienceSyncMode": {"anyOf": [{"$ref": "#/$defs/blank"}, {"enum": ["add", "remove", "mirror", "upsert"]}], "default": "mirror", "description": "`add` sets the field for listData.add; `remove` clears it for listData.add; `mirror` sets it for add and clears it for remove (as the platform computed: no snapshot is kept); `upsert` is add plus creating missing users."},
    "audienceFieldTag": {"type": ["string", "null"], "pattern": "^\\s*\\S*\\s*$", "description": "The tag of the audience field when it is created: Zendesk tags its members with it."}
  }
}"##;

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
            // `accessToken` is typed by the `if`/`else` above: ignored next to an `oauthToken`.
            assert!(
                property["type"].is_string()
                    || property["type"].is_array()
                    || property["anyOf"].is_array()
                    || *key == "accessToken",
                "{key} has no type"
            );
            assert!(
                property["description"].is_string(),
                "{key} has no description"
            );
        }
        assert_eq!(properties.len(), KNOWN_KEYS.len());
        assert_eq!(properties["sourceName"]["default"], "Rudder");
    }
}
